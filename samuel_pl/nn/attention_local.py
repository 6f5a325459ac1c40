"""Local (sliding-window) attention branch of soft alignment attention: O(T * window).

Query ``i`` attends to keys ``j = i + o`` for offsets ``o in [-(W // 2), W - W // 2 - 1]``
(16 frames around i for W = 16). Slots with ``j`` outside ``[0, T)`` are masked out of the softmax
(never zero-filled keys). No position encoding. K/V are unfolded into (B, h, d, T, W) windows;
no T x T matrix is ever built.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def window_offsets(window: int) -> tuple[int, int]:
    """(left, right) extents: query i sees j in [i - left, i + right], left + right + 1 = window."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    left = window // 2
    return left, window - left - 1


def window_mask(length: int, window: int, device: torch.device | None = None) -> Tensor:
    """(T, W) bool: True where slot w of query i is a real frame (0 <= i - left + w < T)."""
    left, _ = window_offsets(window)
    i = torch.arange(length, device=device)[:, None]  # (T, 1)
    w = torch.arange(window, device=device)[None, :]  # (1, W)
    j = i - left + w  # (T, W)
    return (j >= 0) & (j < length)


def unfold_windows(x: Tensor, window: int) -> Tensor:
    """(B, h, d, T) -> (B, h, d, T, W): slot w of frame i holds frame i - left + w (0 outside)."""
    left, right = window_offsets(window)
    xp = F.pad(x, (left, right))  # (B, h, d, T + W - 1)
    return xp.unfold(-1, window, 1)  # (B, h, d, T, W), a strided view


def local_attention(q: Tensor, k: Tensor, v: Tensor, window: int) -> Tensor:
    """Sliding-window attention with out-of-range slots masked out of the softmax.

    Args:
        q: (B, h, d, T) queries. k, v: (B, h, d, T) keys / values (same T).
        window: W, frames each query sees.

    Returns:
        (B, h, d, T).
    """
    b, h, d, t = q.shape
    if k.shape[-1] != t or v.shape[-1] != t:
        raise ValueError("local attention needs queries and keys of the same length")
    scale = d**-0.5
    kw = unfold_windows(k, window)  # (B, h, d, T, W)
    vw = unfold_windows(v, window)  # (B, h, d, T, W)
    scores = torch.einsum("bhdt,bhdtw->bhtw", q * scale, kw)  # (B, h, T, W)
    valid = window_mask(t, window, q.device)  # (T, W)
    scores = scores.masked_fill(~valid, float("-inf"))
    probs = scores.float().softmax(dim=-1).to(v.dtype)  # (B, h, T, W); slot `left` always valid
    return torch.einsum("bhtw,bhdtw->bhdt", probs, vw)  # (B, h, d, T)


def dense_local_attention(q: Tensor, k: Tensor, v: Tensor, window: int) -> Tensor:
    """The same result through an explicit dense T x T banded score matrix: O(T^2) (benchmarks)."""
    left, right = window_offsets(window)
    t = q.shape[-1]
    i = torch.arange(t, device=q.device)
    rel = i[None, :] - i[:, None]  # (T, T): j - i
    band = (rel >= -left) & (rel <= right)
    scores = torch.einsum("bhdi,bhdj->bhij", q * q.shape[-2] ** -0.5, k)  # (B, h, T, T)
    probs = scores.masked_fill(~band, float("-inf")).softmax(dim=-1)  # (B, h, T, T)
    return torch.einsum("bhij,bhdj->bhdi", probs, v)  # (B, h, d, T)
