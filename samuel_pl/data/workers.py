"""Process-parallel map for the renderers and the tune table (one home, no import cycle)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any


def parallel_map(fn: Callable[[Any], Any], tasks: list, workers: int) -> Iterator:
    """``map(fn, tasks)`` in order, over ``workers`` spawned processes when more than one."""
    if workers <= 1 or len(tasks) <= 1:
        yield from map(fn, tasks)
        return
    ctx = get_context("spawn")  # safe with torch/threads in the parent
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx) as pool:
        yield from pool.map(fn, tasks, chunksize=1)


def default_workers() -> int:
    """Processes to use: up to 2, never more than the CPUs."""
    return max(1, min(2, os.cpu_count() or 1))
