"""Rotary position embedding (Su et al. 2021) with cached cos/sin tables."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def rotate_half(x: Tensor) -> Tensor:
    """(..., d) -> (..., d): [x1, x2] -> [-x2, x1] with x1, x2 the two halves."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., d/2) each
    return torch.cat([-x2, x1], dim=-1)


class RotaryEmbedding(nn.Module):
    """RoPE for heads of width ``dim`` (even); apply to q and k of shape (B, h, T, dim).

    Pair (k, k + dim/2) of position p is rotated by angle p * base^(-2k/dim). The cos/sin tables
    are non-persistent buffers (never in state_dict), grown on demand.

    Args:
        dim: head width (even).
        base: frequency base.
        max_len: initial table length (grows when a longer sequence comes).
    """

    inv_freq: Tensor
    cos_cached: Tensor
    sin_cached: Tensor

    def __init__(self, dim: int, base: float = 10000.0, max_len: int = 1024) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"RoPE needs an even head width, got {dim}")
        self.dim = dim
        self.base = float(base)
        inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (dim/2,)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.register_buffer("cos_cached", torch.empty(0), persistent=False)
        self.register_buffer("sin_cached", torch.empty(0), persistent=False)
        self._build(max_len, torch.device("cpu"))

    def _build(self, length: int, device: torch.device) -> None:
        pos = torch.arange(length, device=device, dtype=torch.float32)  # (L,)
        ang = pos[:, None] * self.inv_freq.to(device)[None, :]  # (L, dim/2)
        ang = torch.cat([ang, ang], dim=-1)  # (L, dim)
        self.cos_cached = ang.cos()
        self.sin_cached = ang.sin()

    def tables(self, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """cos, sin of shape (length, dim), float32 on ``device``."""
        if self.cos_cached.shape[0] < length or self.cos_cached.device != device:
            self._build(max(length, self.cos_cached.shape[0]), device)
        return self.cos_cached[:length], self.sin_cached[:length]

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, h, T, dim) -> rotated (B, h, T, dim), same dtype."""
        cos, sin = self.tables(x.shape[-2], x.device)
        xf = x.float()
        return (xf * cos + rotate_half(xf) * sin).to(x.dtype)
