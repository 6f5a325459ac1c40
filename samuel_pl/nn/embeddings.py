"""Timestep embeddings: sinusoidal features + MLP (Ho et al. 2020 / Vaswani et al. 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal features of (continuous) timesteps. t: (B,) -> (B, dim) float32."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )  # (half,)
    args = t.float()[:, None] * freqs[None, :]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, 2*half)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)  # (B, dim)
    return emb


class TimeEmbedding(nn.Module):
    """Sinusoidal(time_dim) -> Linear(time_dim, hidden) -> SiLU -> Linear(hidden, time_dim).

    Args:
        time_dim: width of the sinusoidal features and of the output.
        hidden: hidden width of the MLP.
    """

    def __init__(self, time_dim: int, hidden: int) -> None:
        super().__init__()
        self.time_dim = time_dim
        self.mlp = nn.Sequential(
            nn.Linear(time_dim, hidden), nn.SiLU(), nn.Linear(hidden, time_dim)
        )

    def forward(self, t: Tensor) -> Tensor:
        """t: (B,) float step units -> (B, time_dim)."""
        return self.mlp(sinusoidal_embedding(t, self.time_dim))
