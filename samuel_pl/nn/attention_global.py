"""Global branch of soft alignment attention (full attention, RoPE on q and k) and head layout.

Heads live as (B, h, d, T) with channel ``c = head * d + k`` of the (B, C, T) tensor; split and
merge only reshape the channel axis, so time is never scrambled.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from samuel_pl.nn.rope import RotaryEmbedding


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, C, T) -> (B, h, d, T), d = C / h."""
    b, c, t = x.shape
    if c % heads:
        raise ValueError(f"channels {c} not divisible by heads {heads}")
    return x.reshape(b, heads, c // heads, t)  # (B, h, d, T)


def merge_heads(x: Tensor) -> Tensor:
    """(B, h, d, T) -> (B, C, T), the exact inverse of :func:`split_heads`."""
    b, h, d, t = x.shape
    return x.reshape(b, h * d, t)  # (B, C, T)


def global_attention(q: Tensor, k: Tensor, v: Tensor, rope: RotaryEmbedding | None) -> Tensor:
    """Full attention with RoPE on q and k (scaled_dot_product_attention).

    Args:
        q: (B, h, d, T_q). k, v: (B, h, d, T_k).
        rope: rotary embedding (None: no position encoding).

    Returns:
        (B, h, d, T_q).
    """
    # contiguous (B, h, T, d): strided inputs send SDPA to its slow math path on CPU
    qt, kt, vt = (z.transpose(-1, -2).contiguous() for z in (q, k, v))  # (B, h, T, d)
    if rope is not None:
        qt, kt = rope(qt), rope(kt)
    out = F.scaled_dot_product_attention(qt, kt, vt)  # (B, h, T_q, d)
    return out.transpose(-1, -2)  # (B, h, d, T_q)
