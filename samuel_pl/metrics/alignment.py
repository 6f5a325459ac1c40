"""Weight-free alignment of an accompaniment to its vocal (librosa): harmony, key, tempo, beats.

Scores of :func:`alignment_scores` (all in [0, 1] and higher-is-better unless noted):

- ``chroma_cosine``: frame-wise cosine similarity of the CQT chroma (:func:`cqt_chroma`) of vocal
  and accompaniment, averaged over frames where both are audible.
- ``key_agreement``: Krumhansl-Schmuckler key (Krumhansl-Kessler profiles) of each;
  1 for the same key, 0.5 for relative major/minor or keys a fifth apart in the same mode, else 0.
- ``tempo_agreement``: 1 if the accompaniment's tempo is within 4% of the vocal's, allowing
  2x and 0.5x (the "Acc2" criterion), else 0; ``tempo_octave_error`` is the distance in octaves
  after that folding (lower is better, not bounded by 1).
- ``beat_f_measure``: F-measure of beats tracked on the accompaniment against beats tracked on
  the vocal (+-70 ms, one-to-one); ``onset_f_measure``: the same for accompaniment onsets.
- ``mix_beat_f_measure``: beats tracked on the mixture against the vocal's beats;
  ``mix_key_clarity``: the best key-profile correlation of the mixture's chroma (a mixture of two
  keys correlates worse with any single key profile).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import librosa
import numpy as np

from samuel_pl.audio import resample
from samuel_pl.metrics.base import ClipScoreMetric

SR = 22050
HOP = 512
CQT_BINS_PER_OCTAVE, CQT_OCTAVES = 36, 7
BEAT_WINDOW = 0.07
TEMPO_TOLERANCE = 0.04
ALIGNMENT_KEYS = (
    "chroma_cosine",
    "key_agreement",
    "tempo_agreement",
    "tempo_octave_error",
    "beat_f_measure",
    "onset_f_measure",
    "mix_beat_f_measure",
    "mix_key_clarity",
)
LOWER_IS_BETTER = frozenset({"tempo_octave_error"})

KEY_PROFILES = {  # Krumhansl-Kessler probe-tone profiles, tonic C
    "major": np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    "minor": np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
}


def cqt_chroma(y: np.ndarray) -> np.ndarray:
    """Unnormalised CQT chroma ``(12, T)`` (0 = C) of a mono 22.05 kHz signal ``(N,)``.

    ``chroma_cqt`` with hop 512, 36 bins per octave over 7 octaves from C1, A440 (tuning 0):
    bass fundamentals weigh as much as the melody's, unlike the STFT chroma's octave weighting.
    """
    with warnings.catch_warnings():  # clips under ~3 s: the C1 octave's filters are longer
        warnings.filterwarnings("ignore", message="n_fft=.* is too large for input signal")
        return librosa.feature.chroma_cqt(
            y=np.asarray(y, np.float32), sr=SR, hop_length=HOP,
            bins_per_octave=CQT_BINS_PER_OCTAVE, n_octaves=CQT_OCTAVES, tuning=0.0, norm=None,
        )  # fmt: skip


def estimate_key(chroma: np.ndarray) -> tuple[int, str, float]:
    """Krumhansl-Schmuckler key of a chroma ``(12,)`` or ``(12, T)``: (tonic 0=C, mode, corr)."""
    c = np.asarray(chroma, np.float64)
    c = c.mean(axis=1) if c.ndim == 2 else c
    best = (0, "major", -2.0)
    if not np.isfinite(c).all() or c.std() == 0:
        return best[0], best[1], 0.0
    for mode, profile in KEY_PROFILES.items():
        for tonic in range(12):
            r = float(np.corrcoef(c, np.roll(profile, tonic))[0, 1])
            if r > best[2]:
                best = (tonic, mode, r)
    return best


def key_agreement(k1: tuple[int, str], k2: tuple[int, str]) -> float:
    """1 same key; 0.5 relative major/minor or a fifth apart in the same mode; 0 otherwise."""
    (t1, m1), (t2, m2) = k1, k2
    if m1 == m2:
        return 1.0 if t1 == t2 else (0.5 if (t2 - t1) % 12 in (5, 7) else 0.0)
    major, minor = (t1, t2) if m1 == "major" else (t2, t1)
    return 0.5 if (major + 9) % 12 == minor else 0.0


def beat_f_measure(
    reference: np.ndarray, estimated: np.ndarray, window: float = BEAT_WINDOW
) -> float:
    """F-measure of event times (s) against reference times, one-to-one within +-``window``.

    Greedy matching of the sorted lists is a maximum matching for equal-width windows.
    0 when either list is empty.
    """
    ref, est = np.sort(np.asarray(reference, float)), np.sort(np.asarray(estimated, float))
    if len(ref) == 0 or len(est) == 0:
        return 0.0
    i = j = hits = 0
    while i < len(ref) and j < len(est):
        if abs(ref[i] - est[j]) <= window:
            hits, i, j = hits + 1, i + 1, j + 1
        elif est[j] < ref[i]:
            j += 1
        else:
            i += 1
    if hits == 0:
        return 0.0
    p, r = hits / len(est), hits / len(ref)
    return 2 * p * r / (p + r)


def _analyse(y: np.ndarray) -> dict[str, np.ndarray | float]:
    chroma = cqt_chroma(y)  # (12, T)
    env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=HOP, units="time")
    return {
        "chroma": chroma,
        "tempo": float(np.atleast_1d(tempo)[0]),
        "beats": librosa.frames_to_time(beats, sr=SR, hop_length=HOP),
        "onsets": np.asarray(onsets),
    }


def _chroma_cosine(cv: np.ndarray, ca: np.ndarray) -> float:
    t = min(cv.shape[1], ca.shape[1])
    cv, ca = cv[:, :t], ca[:, :t]
    nv, na = np.linalg.norm(cv, axis=0), np.linalg.norm(ca, axis=0)
    ok = (nv > 1e-3 * max(nv.max(initial=0), 1e-12)) & (na > 1e-3 * max(na.max(initial=0), 1e-12))
    if not ok.any():
        return float("nan")
    cos = (cv[:, ok] * ca[:, ok]).sum(0) / (nv[ok] * na[ok])
    return float(cos.mean())


def alignment_scores(vocals: np.ndarray, accompaniment: np.ndarray, sr: int) -> dict[str, float]:
    """Alignment of a mono accompaniment ``(N,)`` to its mono vocal ``(N,)`` at ``sr``.

    Both are resampled to 22.05 kHz and cut to the shorter length. Keys: ``ALIGNMENT_KEYS``
    (see the module docstring); NaN where undefined (e.g. a silent input for chroma).
    """
    v = resample(np.asarray(vocals, np.float32).reshape(1, -1), sr, SR)[0]
    a = resample(np.asarray(accompaniment, np.float32).reshape(1, -1), sr, SR)[0]
    n = min(len(v), len(a))
    v, a = v[:n], a[:n]
    fv, fa, fm = _analyse(v), _analyse(a), _analyse(v + a)
    kv, ka = estimate_key(fv["chroma"]), estimate_key(fa["chroma"])
    octaves = np.log2(max(fa["tempo"], 1e-6) / max(fv["tempo"], 1e-6))
    octave_error = float(min(abs(octaves - k) for k in (-1, 0, 1)))
    return {
        "chroma_cosine": _chroma_cosine(fv["chroma"], fa["chroma"]),
        "key_agreement": key_agreement(kv[:2], ka[:2]),
        "tempo_agreement": float(octave_error <= np.log2(1 + TEMPO_TOLERANCE)),
        "tempo_octave_error": octave_error,
        "beat_f_measure": beat_f_measure(fv["beats"], fa["beats"]),
        "onset_f_measure": beat_f_measure(fv["beats"], fa["onsets"]),
        "mix_beat_f_measure": beat_f_measure(fv["beats"], fm["beats"]),
        "mix_key_clarity": estimate_key(fm["chroma"])[2],
    }


def effect_size(true_scores: Sequence[float], shuffled_scores: Sequence[float]) -> float:
    """Cohen's d of true-pair over shuffled-pair scores (pooled standard deviation); rows
    without variance (up to float rounding) give 0 for equal means, else +-inf."""
    t, s = np.asarray(true_scores, float), np.asarray(shuffled_scores, float)
    if len(t) < 2 or len(s) < 2:
        raise ValueError("effect_size needs at least 2 scores per group")
    pooled = np.sqrt(
        ((len(t) - 1) * t.var(ddof=1) + (len(s) - 1) * s.var(ddof=1)) / (len(t) + len(s) - 2)
    )
    diff = float(t.mean() - s.mean())
    scale = max(abs(float(t.mean())), abs(float(s.mean())))
    if pooled <= 1e-12 * scale or pooled == 0:  # constant rows (up to rounding): d is 0 or +-inf
        return 0.0 if abs(diff) <= 1e-12 * scale else float(np.sign(diff) * np.inf)
    return diff / float(pooled)


def true_vs_shuffled(
    vocals: Sequence[np.ndarray], accompaniments: Sequence[np.ndarray], sr: int
) -> dict[str, dict[str, float]]:
    """Validation: mean scores of true pairs vs shuffled pairs (vocal i with accompaniment i+1).

    Returns ``{key: {"true": mean, "shuffled": mean, "cohen_d": d}}`` over ``ALIGNMENT_KEYS``.
    """
    n = len(vocals)
    if n < 2 or len(accompaniments) != n:
        raise ValueError("need >= 2 songs and one accompaniment per vocal")
    true = [alignment_scores(vocals[i], accompaniments[i], sr) for i in range(n)]
    shuf = [alignment_scores(vocals[i], accompaniments[(i + 1) % n], sr) for i in range(n)]
    out = {}
    for k in ALIGNMENT_KEYS:
        t, s = [d[k] for d in true], [d[k] for d in shuf]
        out[k] = {
            "true": float(np.nanmean(t)),
            "shuffled": float(np.nanmean(s)),
            "cohen_d": effect_size(t, s),
        }
    return out


class AlignmentMetric(ClipScoreMetric):
    """:func:`alignment_scores` of each accompaniment (``preds``) against its vocal (``vocals``).

    ``update(preds, targets=None, *, vocals)``: mono clips at ``sample_rate`` (``targets`` is
    not used); ``compute()``: the mean over songs of each of ``ALIGNMENT_KEYS`` (NaN scores
    left out); see :class:`~samuel_pl.metrics.base.ClipScoreMetric`.
    """

    KEYS = ALIGNMENT_KEYS
    higher_is_better = True

    def score(
        self, pred: np.ndarray, target: np.ndarray | None, vocal: np.ndarray | None
    ) -> dict[str, float]:
        if vocal is None:
            raise ValueError("AlignmentMetric.update needs vocals=")
        return alignment_scores(vocal, pred, self.sample_rate)
