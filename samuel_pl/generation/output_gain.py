"""Output gain: never-clipping accompaniment and an RMS-matched vocals + accompaniment mix."""

from __future__ import annotations

import numpy as np

PEAK_CEILING = 0.98  # peak of any written file stays below this (about -0.2 dBFS)


def rms(x: np.ndarray) -> float:
    """Root-mean-square level of an array."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def safe_peak(audio: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Scale (C, N) audio down so its peak is at most ``ceiling``; quieter audio is unchanged."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= ceiling:
        return audio.astype(np.float32, copy=False)
    return (audio * np.float32(ceiling / peak)).astype(np.float32)


def mix_tracks(vocals: np.ndarray, accompaniment: np.ndarray) -> np.ndarray:
    """Vocals + accompaniment (both (C, N) at the same rate) with the accompaniment RMS-matched.

    The accompaniment is scaled to the vocals' RMS (kept as is when either is silent), the sum
    is scaled down as a whole when its peak exceeds :data:`PEAK_CEILING` (a gain, never a clip),
    and the vocals are zero-padded or cut to the accompaniment's length.
    """
    n = accompaniment.shape[-1]
    voc = np.zeros((accompaniment.shape[0], n), dtype=np.float32)
    m = min(n, vocals.shape[-1])
    voc[:, :m] = vocals[: accompaniment.shape[0], :m]
    r_voc, r_acc = rms(voc), rms(accompaniment)
    gain = r_voc / r_acc if r_voc > 1e-8 and r_acc > 1e-8 else 1.0
    return safe_peak(voc + accompaniment.astype(np.float32) * np.float32(gain))
