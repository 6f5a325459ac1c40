"""Shared benchmark helpers: timing, per-case subprocesses, results as JSON + markdown."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samuel_pl.files import write_json, write_text

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """Platform, CPU count, torch version and threads."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def maxrss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _status_kib(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class PeakRSS:
    """Peak extra resident memory (bytes) of a code region, Linux only.

    Resets the kernel's high-water mark (``/proc/self/clear_refs`` <- 5), then reports
    ``VmHWM - VmRSS_at_start``: every byte torch's CPU allocator (malloc/mmap) touched at the peak,
    including temporaries, which tracemalloc cannot see.
    """

    def __enter__(self) -> PeakRSS:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        self.start_kib = _status_kib("VmRSS")
        self.peak_bytes = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_bytes = max(0, _status_kib("VmHWM") - self.start_kib) * 1024


def run_case(script: Path, args: list[str], timeout: float = 900.0) -> dict[str, Any]:
    """Run ``python script --case ARGS`` in a fresh process; its last stdout line is JSON.

    ``load_1m`` (the machine's 1-minute load average before the case) is added to the result.
    """
    cmd = [sys.executable, str(script), "--case", *args]
    load = round(os.getloadavg()[0], 2)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "load_1m": load}
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load_1m": load}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, rows: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md`` atomically; return the JSON path."""
    meta = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        **meta,
    }
    payload = {"name": name, "meta": meta, "rows": rows}
    json_path = RESULTS_DIR / f"{name}.json"
    write_json(json_path, payload, indent=2, default=str, newline=True)
    m = meta["machine"]
    md = [
        f"# Benchmark: {name}",
        "",
        markdown_table(rows),
        "",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`",
        f"- machine: {m['platform']}; CPU {m['cpu']} x{m['cpu_count']}; torch {m['torch']}, "
        f"{m['torch_threads']} threads; load average at write time {m['loadavg_1_5_15']}",
    ]
    md += [f"- {k}: {v}" for k, v in meta.items() if k not in ("date", "command", "machine")]
    write_text(RESULTS_DIR / f"{name}.md", "\n".join(md) + "\n")
    return json_path
