"""Project a magnitude spectrogram onto the set whose filterbank output equals given band
energies, keeping its own fine structure (the partials a vocoder drew inside each band).

Multiplicative (Richardson-Lucy / I-divergence) updates from the start magnitude S0:
S <- S * B^T(E / BS) / B^T 1. Each step rescales every FFT bin by the filter-weighted mean of
the ratios target / current of the bands covering it, so zeros stay zero, the relative shape
inside a band is kept, and a fixed point with BS > 0 has BS = E. A band the start leaves empty
(no energy in any of its bins) gets a flat floor ``eps`` to grow from.
"""

from __future__ import annotations

import torch
from torch import Tensor

MATCH_ITERS = 30


def match_bands(
    mag: Tensor, basis: Tensor, target: Tensor, iters: int = MATCH_ITERS, eps: float = 1e-7
) -> Tensor:
    """Magnitude (B, F, T) >= 0, filters (M, F) >= 0, band energies (B, M, T) > 0 ->
    magnitude (B, F, T) with ``basis @ out`` close to ``target`` and ``out / mag`` smooth across
    frequency (one gain per band, interpolated by the filters)."""
    s = mag.float() + eps
    norm = basis.sum(dim=0).clamp_min(1e-12)[:, None]  # (F, 1): B^T 1
    bt = basis.t()
    for _ in range(iters):
        ratio = target / torch.matmul(basis, s).clamp_min(1e-12)  # (B, M, T)
        s = s * torch.matmul(bt, ratio) / norm
    return s
