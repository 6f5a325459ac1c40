"""Weight-free realism of an accompaniment, in units a reader can interpret (dB, shares).

Scores of :func:`realism_scores` (one clip against the song's real accompaniment):

- ``band_error_db``: mean absolute difference, in dB, between the octave-band energies of the
  clip and of the real accompaniment, each spectrum normalised to its own total level (so a
  quieter but otherwise identical clip scores 0). Bands: octaves from 31.25 Hz up to Nyquist
  (the last one stops at Nyquist); a band more than 80 dB below the loudest band of the real
  accompaniment is floored there on both sides. Lower is better.
- ``hf_share``: the share of the clip's energy above 4 kHz (real accompaniments of the demo
  render: about 0.01-0.05; a 4 kHz low-pass: about 0).
- ``hf_level_db``: ``10 log10(hf_share / real hf_share)``: the level above 4 kHz relative to
  the real accompaniment's, both relative to their own total level (0: as bright as real;
  -10: 10 dB duller). Shares are floored at 1e-8 (-80 dB).
- ``hf_level_error_db``: ``|hf_level_db|`` (lower is better).
- ``onset_sharpness``: spectral flux of the onsets, in dB: the mean over the 10% strongest
  frames of the positive log-mel flux (dB rise per frame averaged over mel bands, spectrum
  floored 80 dB below its peak). Level-free (a gain cancels in the dB difference); sharp
  attacks score high, smeared ones (Griffin-Lim's pre-echo, blurry samples) low.
- ``harmonic_share``: the share of the energy that ``librosa.decompose.hpss`` (median filters
  of 17 frames / 17 bands, soft masks) assigns to the sustained (harmonic) part, on a 128-band
  mel power spectrogram (30 Hz to Nyquist): held partials score near 1, noise and short
  blotches lower.

Analysis at the clip's own rate: STFT of 2048 samples (Hann), hop 512, power spectrum; the
log-mel for the flux has 64 bands from 30 Hz to Nyquist. A silent clip (peak below -80 dBFS)
scores NaN everywhere (it has no spectrum to compare).
"""

from __future__ import annotations

import librosa
import numpy as np

from samuel_pl.metrics.base import ClipScoreMetric

N_FFT, HOP = 2048, 512
BAND_LOW_HZ = 31.25
HF_HZ = 4000.0
FLOOR_DB = -80.0
SHARE_FLOOR = 1e-8
ONSET_TOP = 0.10
FLUX_MELS = 64
HPSS_KERNEL = 17
HPSS_MELS = 128
SILENT_PEAK = 1e-4
REALISM_KEYS = (
    "band_error_db",
    "hf_share",
    "hf_level_db",
    "hf_level_error_db",
    "onset_sharpness",
    "harmonic_share",
)
LOWER_IS_BETTER = ("band_error_db", "hf_level_error_db")


def octave_edges(sample_rate: int) -> np.ndarray:
    """Band edges in Hz: 31.25, 62.5, ... doubling while below Nyquist, then Nyquist."""
    nyq = sample_rate / 2.0
    edges = [BAND_LOW_HZ]
    while edges[-1] * 2 < nyq:
        edges.append(edges[-1] * 2)
    return np.asarray([*edges, nyq])


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(N,) mono audio -> (1 + N_FFT / 2, frames) float64 STFT power."""
    x = np.asarray(audio, np.float32).reshape(-1)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    return np.abs(librosa.stft(x, n_fft=N_FFT, hop_length=HOP)).astype(np.float64) ** 2


def band_levels_db(power: np.ndarray, sample_rate: int) -> np.ndarray:
    """(F, T) power -> (bands,) octave-band energies in dB relative to the total energy."""
    freqs = np.linspace(0.0, sample_rate / 2.0, power.shape[0])
    spectrum = power.sum(axis=1)  # (F,)
    edges = octave_edges(sample_rate)
    bands = np.asarray(
        [spectrum[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])]
    )
    total = max(float(spectrum.sum()), 1e-20)
    return 10.0 * np.log10(np.maximum(bands / total, 1e-20))


def hf_share(power: np.ndarray, sample_rate: int) -> float:
    """Share of the energy of (F, T) ``power`` above 4 kHz."""
    freqs = np.linspace(0.0, sample_rate / 2.0, power.shape[0])
    spectrum = power.sum(axis=1)
    return float(spectrum[freqs >= HF_HZ].sum() / max(float(spectrum.sum()), 1e-20))


def onset_sharpness(power: np.ndarray, sample_rate: int) -> float:
    """Mean positive log-mel flux (dB per frame) over the 10% strongest frames of (F, T)."""
    fb = librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=FLUX_MELS, fmin=30.0)
    mel_db = 10.0 * np.log10(np.maximum(fb @ power, 1e-20))  # (M, T)
    mel_db = np.maximum(mel_db, mel_db.max() + FLOOR_DB)
    flux = np.maximum(np.diff(mel_db, axis=1), 0.0).mean(axis=0)  # (T - 1,)
    if flux.size == 0:
        return float("nan")
    k = max(1, int(round(ONSET_TOP * flux.size)))
    return float(np.sort(flux)[-k:].mean())


def harmonic_share(power: np.ndarray, sample_rate: int) -> float:
    """Share of (F, T) ``power`` (as 128 mel bands) in the HPSS harmonic (sustained) part."""
    fb = librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=HPSS_MELS, fmin=30.0)
    mel = fb @ power  # (M, T)
    harm, perc = librosa.decompose.hpss(mel, kernel_size=HPSS_KERNEL, power=2.0, mask=True)
    h, p = float((harm * mel).sum()), float((perc * mel).sum())
    return h / max(h + p, 1e-20)


def realism_scores(pred: np.ndarray, target: np.ndarray, sample_rate: int) -> dict[str, float]:
    """``REALISM_KEYS`` of mono clip ``pred`` (N,) against the real accompaniment ``target``
    (N,), both at ``sample_rate``; NaN everywhere when either is silent."""
    pred, target = (np.asarray(a, np.float32).reshape(-1) for a in (pred, target))
    if min(np.abs(pred).max(initial=0.0), np.abs(target).max(initial=0.0)) < SILENT_PEAK:
        return dict.fromkeys(REALISM_KEYS, float("nan"))
    p, t = power_spectrogram(pred), power_spectrogram(target)
    lp, lt = band_levels_db(p, sample_rate), band_levels_db(t, sample_rate)
    floor = lt.max() + FLOOR_DB
    band_error = float(np.mean(np.abs(np.maximum(lp, floor) - np.maximum(lt, floor))))
    share, real_share = hf_share(p, sample_rate), hf_share(t, sample_rate)
    level = 10.0 * np.log10(max(share, SHARE_FLOOR) / max(real_share, SHARE_FLOOR))
    return {
        "band_error_db": band_error,
        "hf_share": share,
        "hf_level_db": float(level),
        "hf_level_error_db": float(abs(level)),
        "onset_sharpness": onset_sharpness(p, sample_rate),
        "harmonic_share": harmonic_share(p, sample_rate),
    }


class RealismMetric(ClipScoreMetric):
    """:func:`realism_scores` per clip against its real accompaniment (``targets``, required),
    reported as ``REALISM_KEYS`` (with ``prefix``); mean and bootstrap interval over clips."""

    KEYS = REALISM_KEYS

    def score(
        self, pred: np.ndarray, target: np.ndarray | None, vocal: np.ndarray | None
    ) -> dict[str, float]:
        if target is None:
            raise ValueError("RealismMetric needs targets: the real accompaniment of each clip")
        return realism_scores(pred, target, self.sample_rate)
