"""Efficiency figures: parameters, FLOPs per forward pass, real-time factor and peak memory."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    seen: dict[int, int] = {}
    for p in model.parameters():
        if not trainable_only or p.requires_grad:
            seen[id(p)] = p.numel()
    return sum(seen.values())


def flops_per_forward(model: nn.Module, *example_inputs: Any, **kwargs: Any) -> int:
    """FLOPs of one ``model(*example_inputs, **kwargs)`` (a multiply-add counts as 2)."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*example_inputs, **kwargs)
    return int(counter.get_total_flops())


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kb / (1024.0**2) if sys.platform == "darwin" else kb / 1024.0


def measure_generation(
    fn: Callable[[], Any], audio_seconds: float, device: str | torch.device | None = None
) -> dict[str, float]:
    """Time one call of ``fn`` that produces ``audio_seconds`` of audio.

    Returns ``rtf`` (wall seconds per second of audio; < 1 is faster than real time),
    ``seconds`` (wall time), ``peak_rss_mb`` (the process's peak resident memory so far, from
    getrusage: a high-water mark over the process lifetime, not this call alone) and, on CUDA,
    ``peak_cuda_mb`` (torch.cuda.max_memory_allocated during the call).
    """
    if audio_seconds <= 0:
        raise ValueError("audio_seconds must be positive")
    dev = torch.device(device) if device is not None else None
    cuda = dev is not None and dev.type == "cuda" and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    start = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    out = {"rtf": seconds / audio_seconds, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}
    if cuda:
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return out
