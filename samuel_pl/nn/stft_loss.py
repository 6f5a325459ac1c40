"""Multi-resolution STFT loss and distance (auraloss; Yamamoto et al. 2019, arXiv 1910.11480).

Per resolution: spectral convergence ||Y - X||_F / ||Y||_F plus mean |log Y - log X| of STFT
magnitudes (X: estimate, Y: reference), averaged over resolutions. ``auraloss`` comes with the
``vae`` extra; it is imported lazily.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

#: auraloss' default resolutions (FFT sizes, hops, windows): the reported "MR-STFT distance".
METRIC_FFT = (1024, 2048, 512)
METRIC_HOP = (120, 240, 50)
METRIC_WIN = (600, 1200, 240)


def _auraloss() -> Any:
    try:
        import auraloss.freq
    except ImportError as exc:
        raise ImportError(
            f"the multi-resolution STFT loss needs auraloss ({exc}); pip install -e '.[vae]'"
        ) from None
    return auraloss.freq


def mr_stft_loss(
    fft_sizes: list[int] | tuple[int, ...],
    hop_sizes: list[int] | tuple[int, ...] | None = None,
    win_lengths: list[int] | tuple[int, ...] | None = None,
) -> nn.Module:
    """auraloss ``MultiResolutionSTFTLoss``: ``loss(estimate, reference)`` on (B, C, N) -> scalar.

    Hops default to FFT size / 4 and windows to the FFT size.
    """
    ffts = [int(n) for n in fft_sizes]
    hops = [int(h) for h in hop_sizes] if hop_sizes else [n // 4 for n in ffts]
    wins = [int(w) for w in win_lengths] if win_lengths else list(ffts)
    if not len(ffts) == len(hops) == len(wins) or not ffts:
        raise ValueError(f"STFT resolutions do not line up: {ffts}, {hops}, {wins}")
    return _auraloss().MultiResolutionSTFTLoss(fft_sizes=ffts, hop_sizes=hops, win_lengths=wins)


class MRSTFTDistance(nn.Module):
    """Per-clip MR-STFT distance at auraloss' default resolutions: (B, C, N) x 2 -> (B,)."""

    def __init__(self) -> None:
        super().__init__()
        self.loss = mr_stft_loss(METRIC_FFT, METRIC_HOP, METRIC_WIN)

    @torch.no_grad()
    def forward(self, estimate: Tensor, reference: Tensor) -> Tensor:
        if estimate.shape != reference.shape or estimate.dim() != 3:
            raise ValueError(
                f"need two (B, C, N) tensors of one shape, got {tuple(estimate.shape)} and "
                f"{tuple(reference.shape)}"
            )
        if estimate.shape[-1] <= max(METRIC_FFT) // 2:
            raise ValueError(
                f"the MR-STFT distance needs clips longer than {max(METRIC_FFT) // 2} samples, "
                f"got {estimate.shape[-1]}"
            )
        # Each clip on its own: auraloss' spectral convergence norms over the whole batch.
        return torch.stack(
            [self.loss(e[None].float(), r[None].float()) for e, r in zip(estimate, reference)]
        )
