"""Overlapping-window processing with a raised-cosine crossfade, for bounded-memory codecs.

Long audio is encoded (and long latents decoded) window by window. Neighbouring windows share
``overlap`` units (latent frames); each window's edges, where its receptive field is cut off,
get zero weight: the crossfade covers only the central half of the shared span, so each window
keeps a margin of ``overlap / 4`` units on either side of it that it does not contribute to.
The weights of neighbours sum to exactly one everywhere, so identical window outputs blend
back to the same signal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def window_starts(total: int, size: int, overlap: int) -> tuple[list[int], int]:
    """(starts, window length) of the fewest windows of at most ``size`` units that cover
    ``[0, total)`` with neighbours sharing ``overlap`` units (the windows are shrunk to equal
    lengths, so no compute is spent on a nearly duplicated last window)."""
    if size <= 0 or total <= size:
        return [0], max(total, 0)
    if not 0 <= 2 * overlap <= size:
        raise ValueError(f"chunk overlap {overlap} must be in [0, chunk size {size} / 2]")
    count = math.ceil((total - overlap) / (size - overlap))
    length = math.ceil((total + (count - 1) * overlap) / count)  # <= size
    step = length - overlap
    starts = [min(i * step, total - length) for i in range(count)]
    return starts, length


def fade_regions(starts: list[int], size: int, overlap: int) -> list[tuple[float, float]]:
    """(begin, end) in units of the crossfade between window i and i + 1: the central
    ``overlap // 2`` units of their shared span (a hard cut at its centre when that is 0)."""
    regions = []
    for a, b in zip(starts[:-1], starts[1:]):
        shared = a + size - b  # >= overlap
        centre = b + shared / 2.0
        fade = min(overlap, shared) // 2
        regions.append((centre - fade / 2.0, centre + fade / 2.0))
    return regions


def _ramp(positions: Tensor, begin: float, end: float) -> Tensor:
    """0 before ``begin``, 1 after ``end``, raised cosine in between (sample centres)."""
    if end <= begin:
        return (positions + 0.5 >= begin).to(positions.dtype)
    u = ((positions + 0.5 - begin) / (end - begin)).clamp(0.0, 1.0)
    return 0.5 - 0.5 * torch.cos(math.pi * u)


def overlap_add(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    size: int,
    overlap: int,
    in_per_unit: int,
    out_per_unit: int,
) -> Tensor:
    """Apply ``fn`` to overlapping windows of ``x`` along its last axis and crossfade the outputs.

    Args:
        fn: maps (B, C, size * in_per_unit) to (B, C', size * out_per_unit).
        x: (B, C, U * in_per_unit) input; U units (latent frames) in all.
        size: window length in units (<= 0: one call on the whole input).
        overlap: units shared by neighbouring windows.
        in_per_unit, out_per_unit: input / output samples per unit (decode: 1 and hop;
            encode: hop and 1).

    Returns:
        (B, C', U * out_per_unit), equal to ``fn(x)`` wherever windows see their whole
        receptive field.
    """
    if x.shape[-1] % in_per_unit:
        raise ValueError(f"input length {x.shape[-1]} is not a multiple of {in_per_unit}")
    total = x.shape[-1] // in_per_unit
    if size <= 0 or total <= size:
        return fn(x)
    starts, size = window_starts(total, size, overlap)
    regions = fade_regions(starts, size, overlap)
    out: Tensor | None = None
    for i, s in enumerate(starts):
        y = fn(x[..., s * in_per_unit : (s + size) * in_per_unit])  # (B, C', size * out)
        if y.shape[-1] != size * out_per_unit:
            raise ValueError(
                f"chunk output has {y.shape[-1]} samples, expected {size * out_per_unit}"
            )
        if out is None:
            out = y.new_zeros(*y.shape[:-1], total * out_per_unit)
        pos = torch.arange(s * out_per_unit, (s + size) * out_per_unit, device=y.device)
        w = torch.ones(pos.shape, dtype=torch.float32, device=y.device)  # (size * out,)
        if i > 0:
            b0, b1 = regions[i - 1]
            w = w * _ramp(pos.float(), b0 * out_per_unit, b1 * out_per_unit)
        if i < len(starts) - 1:
            e0, e1 = regions[i]
            w = w * (1.0 - _ramp(pos.float(), e0 * out_per_unit, e1 * out_per_unit))
        out[..., s * out_per_unit : (s + size) * out_per_unit] += y * w.to(y.dtype)
    assert out is not None
    return out


def pad_to_multiple(audio: Tensor, multiple: int) -> Tensor:
    """Zero-pad (B, C, N) at the end so N is a multiple of ``multiple``."""
    extra = (-audio.shape[-1]) % multiple
    return torch.nn.functional.pad(audio, (0, extra)) if extra else audio
