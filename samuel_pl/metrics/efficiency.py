"""Efficiency figures: parameters, FLOPs per forward pass, real-time factor and peak memory;
``GenerationEfficiency``: the evaluation's params / real-time factor metric."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from samuel_pl.metrics.base import Clips, EvalMetric, as_clips


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


class GenerationEfficiency(EvalMetric):
    """A generator's parameter count and real-time factor over the clips it generated.

    Args:
        sample_rate: rate of the generated clips.
        parameters: the generator's parameter count (``params`` is reported only when given).

    ``update(preds, targets=None, *, seconds)``: the generated clips ``(B, N)`` (or a sequence
    of ``(N,)``/``(C, N)``) and the wall seconds that generated each ``(B,)``.
    ``compute()``: ``params`` and ``rtf`` (wall seconds per second of generated audio; reported
    when some time was measured). No interval: both are single figures.
    """

    higher_is_better = False

    def __init__(self, sample_rate: int, parameters: int | None = None, **kwargs) -> None:
        super().__init__(sample_rate, **kwargs)
        self.parameters = parameters
        self.add_state("seconds", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("audio_seconds", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(
        self,
        preds: Clips,
        targets: Clips | None = None,
        *,
        vocals: Clips | None = None,
        seconds: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        clips = as_clips(preds)
        if seconds is None or len(seconds) != len(clips):
            raise ValueError("GenerationEfficiency.update needs seconds= (one per clip)")
        took = torch.as_tensor(seconds, dtype=torch.float64).sum()
        self.seconds = self.seconds + took.to(self.device)
        self.audio_seconds = self.audio_seconds + sum(c.shape[-1] for c in clips) / self.sample_rate

    def _values(self) -> dict[str, float]:
        out = {"params": float(self.parameters)} if self.parameters else {}
        if float(self.seconds) > 0:
            out["rtf"] = float(self.seconds / self.audio_seconds)
        return out
