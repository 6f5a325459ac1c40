"""Weight-free harmonic fit of an accompaniment to its vocal (librosa pyin + CQT chroma).

Scores of :func:`harmonic_fit` (higher is better; NaN where undefined):

- ``consonance_share``: per voiced vocal frame, the share of the accompaniment's CQT chroma on
  the pitch classes at {0, 3, 4, 5, 7, 8, 9} semitones above the vocal's pitch class (unison /
  octave, minor and major thirds, fourth, fifth, minor and major sixths), averaged over frames
  where the vocal is voiced and the accompaniment is audible. Chance (flat chroma): 7/12.
- ``consonance_gain``: ``consonance_share`` minus its mean over circular time shifts of the
  accompaniment by 2 s, 3 s, ... (up to the clip length minus 2 s). An accompaniment that does
  not follow the vocal in time (a drone, a static chord, another song) scores about 0.
- ``consonance_share_no_unison`` / ``consonance_gain_no_unison``: the same on {3, 4, 5, 7, 8, 9}
  (chance 6/12): a copy of the melody puts its energy on the unison and scores low.
- ``key_fit``: Pearson correlation of the vocal's pitch-class histogram (voiced frames) with the
  Krumhansl-Kessler profile of the accompaniment's key (estimated on its CQT chroma).

Analysis (22.05 kHz after resampling): the vocal's pitch class per frame from ``librosa.pyin``
(fmin 65.4 Hz, fmax 1046.5 Hz, frame 2048, hop 1024, each frame repeated to hop 512, A440); the
accompaniment's ``chroma_cqt`` (hop 512, 36 bins per octave, 7 octaves from C1, tuning 0, no
normalisation); accompaniment frames whose chroma sum is more than 40 dB (amplitude) below the
loudest frame are dropped, the others divided by their sum. The vocal analysis (pyin: the
costly part) is done once by :func:`analyse_vocal` and can be passed to every call that scores
another accompaniment for the same vocal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import librosa
import numpy as np

from samuel_pl.audio import resample
from samuel_pl.metrics.alignment import KEY_PROFILES, cqt_chroma, estimate_key
from samuel_pl.metrics.base import ClipScoreMetric

SR = 22050
HOP = 512
PYIN_FRAME, PYIN_HOP = 2048, 1024
FMIN, FMAX = 65.4, 1046.5
FLOOR_DB = -40.0
SILENT_PEAK = 1e-4  # an accompaniment whose peak is below -80 dBFS counts as silent
CONSONANT = (0, 3, 4, 5, 7, 8, 9)
CONSONANT_NO_UNISON = (3, 4, 5, 7, 8, 9)
SHIFT_MIN_S = 2.0
HARMONY_KEYS = (
    "consonance_share",
    "consonance_gain",
    "consonance_share_no_unison",
    "consonance_gain_no_unison",
    "key_fit",
)
SILENT_KEY = "silent_outputs"
"""Reported beside the harmony means: how many accompaniments were silent (scored 0)."""
CHANCE = {"consonance_share": 7 / 12, "consonance_share_no_unison": 6 / 12}


@dataclass(frozen=True)
class VocalAnalysis:
    """The vocal's pitch class per 512-sample frame at 22.05 kHz (-1 where unvoiced)."""

    pitch_class: np.ndarray  # (T,) int64
    n_samples: int  # length of the vocal at 22.05 kHz

    @property
    def histogram(self) -> np.ndarray:
        """(12,) count of voiced frames per pitch class (0 = C)."""
        pc = self.pitch_class[self.pitch_class >= 0]
        return np.bincount(pc, minlength=12).astype(np.float64)

    def key(self) -> tuple[int, str]:
        """Krumhansl-Schmuckler key (tonic 0=C, mode) of the pitch-class histogram."""
        tonic, mode, _ = estimate_key(self.histogram)
        return tonic, mode


def _mono22k(y: np.ndarray, sr: int) -> np.ndarray:
    return resample(np.asarray(y, np.float32).reshape(1, -1), sr, SR)[0]


def analyse_vocal(vocal: np.ndarray, sr: int) -> VocalAnalysis:
    """pyin pitch class of a mono vocal ``(N,)`` at ``sr`` (see the module docstring)."""
    v = _mono22k(vocal, sr)
    if len(v) < PYIN_FRAME or not np.any(v):
        return VocalAnalysis(np.full(max(1, len(v) // HOP + 1), -1, np.int64), len(v))
    f0, voiced, _ = librosa.pyin(
        v, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=PYIN_FRAME, hop_length=PYIN_HOP
    )
    ok = voiced & np.isfinite(f0)
    midi = librosa.hz_to_midi(np.where(ok, f0, 440.0))
    pc = np.where(ok, np.round(midi).astype(np.int64) % 12, -1)
    return VocalAnalysis(np.repeat(pc, PYIN_HOP // HOP), len(v))  # hop 1024 -> hop 512


def accompaniment_chroma(accomp: np.ndarray) -> np.ndarray:
    """Per-frame normalised CQT chroma ``(12, T)`` of a 22.05 kHz mono signal; NaN columns
    where the frame is more than 40 dB below the loudest (all NaN for a silent signal)."""
    chroma = cqt_chroma(accomp)  # (12, T)
    level = chroma.sum(axis=0)
    out = np.full_like(chroma, np.nan)
    if len(accomp) == 0 or np.abs(accomp).max() < SILENT_PEAK or level.max() <= 0:
        return out
    keep = 20 * np.log10(np.maximum(level, 1e-30) / level.max()) >= FLOOR_DB
    out[:, keep] = chroma[:, keep] / level[keep]
    return out


def _share(pc: np.ndarray, chroma: np.ndarray, intervals: tuple[int, ...]) -> np.ndarray:
    """(T,) share of each frame's chroma on ``pc + intervals``; NaN where undefined."""
    t = min(len(pc), chroma.shape[1])
    pc, chroma = pc[:t], chroma[:, :t]
    ok = (pc >= 0) & np.isfinite(chroma[0])
    out = np.full(t, np.nan)
    if ok.any():
        rows = (pc[ok][None, :] + np.asarray(intervals)[:, None]) % 12  # (k, T_ok)
        out[ok] = np.take_along_axis(chroma[:, ok], rows, axis=0).sum(axis=0)
    return out


def _nanmean(x: np.ndarray) -> float:
    return float(np.mean(x[np.isfinite(x)])) if np.isfinite(x).any() else float("nan")


def shift_frames(frames: int) -> list[int]:
    """Circular shifts (in 512-sample frames at 22.05 kHz) of consonance gain for a clip of
    ``frames`` frames: whole seconds from 2 s up to the clip length minus 2 s, each rounded to
    the nearest frame ([] for clips under 4 s)."""
    sec = SR / HOP  # frames per second
    last = int(frames / sec - SHIFT_MIN_S)
    return [int(round(k * sec)) for k in range(int(SHIFT_MIN_S), last + 1)]


def _gain(pc: np.ndarray, chroma: np.ndarray, intervals: tuple[int, ...]) -> tuple[float, float]:
    """(share, share minus its mean over circular shifts of the chroma by 2 s, 3 s, ...)."""
    share = _nanmean(_share(pc, chroma, intervals))
    t = min(len(pc), chroma.shape[1])
    shifts = shift_frames(t)
    pc, chroma = pc[:t], chroma[:, :t]
    shifted = [_nanmean(_share(pc, np.roll(chroma, s, axis=1), intervals)) for s in shifts]
    shifted = [s for s in shifted if np.isfinite(s)]
    if not np.isfinite(share) or not shifted:
        return share, float("nan")
    return share, share - float(np.mean(shifted))


def key_fit(analysis: VocalAnalysis, chroma: np.ndarray) -> float:
    """Correlation of the vocal's pitch-class histogram with the key profile of the
    accompaniment's key; ``chroma``: normalised ``(12, T)`` from :func:`accompaniment_chroma`."""
    hist = analysis.histogram
    kept = chroma[:, np.isfinite(chroma[0])]
    if kept.shape[1] == 0 or hist.std() == 0:
        return float("nan")
    tonic, mode, _ = estimate_key(kept.mean(axis=1))
    return float(np.corrcoef(hist, np.roll(KEY_PROFILES[mode], tonic))[0, 1])


def harmonic_fit(
    vocal: np.ndarray,
    accomp: np.ndarray,
    sr: int,
    vocal_analysis: VocalAnalysis | None = None,
) -> dict[str, float]:
    """Harmonic fit of a mono accompaniment ``(N,)`` to its mono vocal ``(N,)`` at ``sr``.

    Returns ``{key: score}`` for every key in ``HARMONY_KEYS`` (module docstring) and
    ``silent`` (1.0 when the accompaniment's peak is below -80 dBFS: it is then scored as a
    failure, :func:`_silent_scores`); NaN where undefined (an unvoiced vocal; the gains need
    clips of >= 4 s).
    ``vocal_analysis``: the result of ``analyse_vocal(vocal, sr)``, to skip pyin on re-use.
    """
    va = vocal_analysis if vocal_analysis is not None else analyse_vocal(vocal, sr)
    a = _mono22k(accomp, sr)[: va.n_samples]
    chroma = accompaniment_chroma(a)
    if not np.isfinite(chroma).any() and len(a):
        return {**_silent_scores(va, chroma.shape[1]), "silent": 1.0}
    share, gain = _gain(va.pitch_class, chroma, CONSONANT)
    share_nu, gain_nu = _gain(va.pitch_class, chroma, CONSONANT_NO_UNISON)
    return {
        "consonance_share": share,
        "consonance_gain": gain,
        "consonance_share_no_unison": share_nu,
        "consonance_gain_no_unison": gain_nu,
        "key_fit": key_fit(va, chroma),
        "silent": 0.0,
    }


def _silent_scores(va: VocalAnalysis, frames: int) -> dict[str, float]:
    """Scores of a silent accompaniment (peak below -80 dBFS): a failure, not a missing song.

    An empty accompaniment puts no energy on any pitch class, so the share on the consonant
    ones is 0 (not chance: chance is what a flat, audible chroma gets), it follows nothing in
    time (gain 0, like a drone) and has no key (key fit 0, no correlation). Scores stay NaN
    where they would be undefined for any accompaniment: an unvoiced vocal (no frame to
    score), gains of clips under 4 s (no shift), key fit of a one-pitch-class vocal.
    """
    voiced = bool((va.pitch_class[:frames] >= 0).any())
    share = 0.0 if voiced else float("nan")
    gain = share if shift_frames(min(len(va.pitch_class), frames)) else float("nan")
    key = 0.0 if va.histogram.std() > 0 else float("nan")
    return {
        "consonance_share": share,
        "consonance_gain": gain,
        "consonance_share_no_unison": share,
        "consonance_gain_no_unison": gain,
        "key_fit": key,
    }


class VocalAnalyses:
    """:func:`analyse_vocal` of each distinct vocal, computed once (keyed by its samples)."""

    def __init__(self) -> None:
        self._done: dict[tuple, VocalAnalysis] = {}

    def get(self, vocal: np.ndarray, sr: int) -> VocalAnalysis:
        """The analysis of a mono vocal ``(N,)`` at ``sr``."""
        v = np.ascontiguousarray(vocal)
        key = (sr, v.dtype.str, v.shape, hashlib.sha1(v.tobytes()).hexdigest())
        if key not in self._done:
            self._done[key] = analyse_vocal(v, sr)
        return self._done[key]


class HarmonicFitMetric(ClipScoreMetric):
    """:func:`harmonic_fit` of each accompaniment (``preds``) to its vocal (``vocals``).

    ``update(preds, targets=None, *, vocals)``: mono clips at ``sample_rate`` (``targets`` is
    not used); ``compute()``: the mean over songs of each of ``HARMONY_KEYS`` (NaN scores left
    out; silent accompaniments count, as failures) and ``silent_outputs``, the number of
    silent accompaniments; see :class:`~samuel_pl.metrics.base.ClipScoreMetric`.

    Args:
        analyses: a :class:`VocalAnalyses` shared with other users of the same vocals, so each
            vocal's pyin runs once (default: this metric's own).
    """

    KEYS = (*HARMONY_KEYS, "silent")
    higher_is_better = True

    def __init__(
        self,
        sample_rate: int,
        n_boot: int = 0,
        seed: int = 0,
        prefix: str = "",
        analyses: VocalAnalyses | None = None,
        **kwargs,
    ) -> None:
        super().__init__(sample_rate, n_boot, seed, prefix, **kwargs)
        self.analyses = analyses if analyses is not None else VocalAnalyses()

    def score(
        self, pred: np.ndarray, target: np.ndarray | None, vocal: np.ndarray | None
    ) -> dict[str, float]:
        if vocal is None:
            raise ValueError("HarmonicFitMetric.update needs vocals=")
        va = self.analyses.get(vocal, self.sample_rate)
        return harmonic_fit(vocal, pred, self.sample_rate, va)

    def _values(self) -> dict[str, float]:
        out = super()._values()
        out.pop(self.prefix + "silent")
        out[self.prefix + SILENT_KEY] = float(np.nansum(self._table()[:, -1]))
        return out

    def _intervals(self) -> dict[str, tuple[float, float]]:
        out = super()._intervals()
        out.pop(self.prefix + "silent")
        n = float(np.nansum(self._table()[:, -1]))
        out[self.prefix + SILENT_KEY] = (n, n)
        return out

    def per_clip(self) -> dict[str, list[float]]:
        out = super().per_clip()
        out.pop(self.prefix + "silent")
        return out

    def notes(self) -> list[str]:
        with self._synced():
            n = int(np.nansum(self._table()[:, -1]))
        if not n:
            return []
        return [
            f"{n} silent accompaniment(s) (peak below -80 dBFS) scored as failures: "
            "consonance share, gains and key fit 0"
        ]
