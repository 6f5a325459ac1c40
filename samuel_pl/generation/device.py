"""Where generation runs: the device choice and the stage timer (CUDA synchronised)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from samuel_pl.errors import SamuelError

DEVICES = ("auto", "cpu", "cuda", "mps")
STAGES = ("read", "encode", "sample", "decode", "write")
"""The stages an ``on_stage`` callback hears about (read and write: generate_file only)."""
StageHook = Callable[[str, float], None]
"""``on_stage(stage, seconds)``, called after each of :data:`STAGES`."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an unavailable device is a SamuelError."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise SamuelError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise SamuelError("device cuda requested but no CUDA GPU is available (use --device cpu)")
    if kind == "mps" and not (torch.backends.mps.is_available()):
        raise SamuelError("device mps requested but Apple MPS is not available (use --device cpu)")
    return torch.device(name)


@contextmanager
def timed(on_stage: StageHook | None, name: str, device: torch.device) -> Iterator[None]:
    """Time the enclosed stage for ``on_stage(name, seconds)``; nothing when it is None."""
    if on_stage is None:
        yield
        return
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    yield
    if cuda:
        torch.cuda.synchronize(device)
    on_stage(name, time.perf_counter() - t0)
