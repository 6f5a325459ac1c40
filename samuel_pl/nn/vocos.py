"""Vocos-style vocoder (Siuzdak 2023, arXiv 2306.00814): codec frames -> waveform, pure torch.

Conv(k=7) embedding -> LayerNorm -> ``layers`` ConvNeXt blocks (depthwise conv, LayerNorm,
pointwise MLP with GELU, layer scale, residual) -> LayerNorm -> inverse-STFT head
(:class:`~samuel_pl.nn.istft.ISTFTHead`, a per-frame linear map to log-magnitudes and phases).
Everything runs at the frame rate, so decoding a whole clip is one pass of small convolutions
and one ``torch.istft``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from samuel_pl.nn.istft import ISTFTHead


class ConvNeXtBlock(nn.Module):
    """(B, dim, T) -> (B, dim, T): x + scale * MLP(LN(dwconv(x)))."""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, intermediate)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).transpose(1, 2)  # (B, T, dim)
        h = self.pw2(self.act(self.pw1(self.norm(h)))) * self.gamma
        return x + h.transpose(1, 2)


class VocosVocoder(nn.Module):
    """Codec frames (B, n_in, T) -> mono audio (B, 1, (T - 1) * hop) (centred STFT frames).

    Args:
        n_in: feature channels (the codec's bins).
        hop: samples per frame (the codec's hop).
        dim, intermediate, layers, kernel: ConvNeXt width, MLP width, depth, depthwise kernel.
        n_fft: the head's STFT size (default ``4 * hop``).
    """

    def __init__(
        self,
        n_in: int,
        hop: int,
        dim: int = 128,
        intermediate: int = 384,
        layers: int = 6,
        kernel: int = 7,
        n_fft: int | None = None,
    ) -> None:
        super().__init__()
        self.hop = int(hop)
        self.embed = nn.Conv1d(n_in, dim, 7, padding=3)
        self.norm_in = nn.LayerNorm(dim, eps=1e-6)
        scale = 1.0 / max(layers, 1)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate, kernel, scale) for _ in range(layers)
        )
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)
        self.head = ISTFTHead(dim, 1, hop, wn=False, kernel=1, n_fft=n_fft)

    def forward(self, frames: Tensor) -> Tensor:
        h = self.norm_in(self.embed(frames).transpose(1, 2)).transpose(1, 2)  # (B, dim, T)
        for block in self.blocks:
            h = block(h)
        h = self.norm_out(h.transpose(1, 2)).transpose(1, 2)
        return self.head(h, length=max(frames.shape[-1] - 1, 0) * self.hop)  # (B, 1, N)
