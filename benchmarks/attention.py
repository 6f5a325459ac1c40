"""Local (windowed) branch of soft alignment attention vs dense masked attention.

Paper input attention shape: B=1, 64 channels, 8 heads (d=8), window 16, float32, forward only.
Every case runs in its own process; time = median of N runs, memory = peak extra RSS of the call.

    python benchmarks/attention.py [--threads 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import PeakRSS, median_time, run_case, write_results  # noqa: E402

HEADS, D_HEAD, WINDOW, BATCH = 8, 8, 16, 1
LENGTHS = (1024, 4096, 16384)
DENSE_LIMIT_BYTES = 8 * 1024**3


def dense_bytes(t: int) -> int:
    """Bytes of one float32 (B, h, T, T) score matrix."""
    return BATCH * HEADS * t * t * 4


def local_bytes(t: int) -> int:
    """Bytes of the unfolded K and V windows + scores/probabilities (float32)."""
    return BATCH * HEADS * t * WINDOW * 4 * (2 * D_HEAD + 2)


def case(impl: str, t: int, threads: int, repeats: int) -> dict:
    import torch

    from samuel_pl.nn.attention_local import dense_local_attention, local_attention

    torch.set_num_threads(threads)
    fn = local_attention if impl == "local" else dense_local_attention
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(BATCH, HEADS, D_HEAD, t, generator=g) for _ in range(3))
    with torch.no_grad():
        with PeakRSS() as mem:
            fn(q, k, v, WINDOW)
        sec = median_time(lambda: fn(q, k, v, WINDOW), repeats=repeats, warmup=0)
    return {"time_s": sec, "peak_mem_mb": mem.peak_bytes / 2**20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--case", nargs=2, metavar=("IMPL", "T"))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case[0], int(args.case[1]), args.threads, args.repeats)))
        return 0
    import torch

    torch.set_num_threads(args.threads)  # so the machine line reports the threads cases use
    rows = []
    for t in LENGTHS:
        extra = ["--threads", str(args.threads), "--repeats", str(args.repeats)]
        loc = run_case(Path(__file__), ["local", str(t), *extra])
        row = {
            "T": t,
            "local_time_s": loc.get("time_s"),
            "local_peak_mb": loc.get("peak_mem_mb"),
            "load_1m": loc.get("load_1m"),
            "local_est_mb": local_bytes(t) / 2**20,
            "dense_est_scores_mb": dense_bytes(t) / 2**20,
        }
        if 2 * dense_bytes(t) > DENSE_LIMIT_BYTES:
            row["dense"] = f"skipped: needs > {2 * dense_bytes(t) / 2**30:.0f} GiB (scores+probs)"
        else:
            den = run_case(Path(__file__), ["dense", str(t), *extra])
            row.update(
                dense_time_s=den.get("time_s"),
                dense_peak_mb=den.get("peak_mem_mb"),
                time_ratio_dense_over_local=den["time_s"] / loc["time_s"],
                mem_ratio_dense_over_local=den["peak_mem_mb"] / max(loc["peak_mem_mb"], 1e-3),
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    at4k = next(r for r in rows if r["T"] == 4096)
    meta = {
        "shape": f"B={BATCH}, heads={HEADS}, d_head={D_HEAD}, window={WINDOW}, float32, forward",
        "time_method": f"median of {args.repeats} runs in a fresh process per case",
        "memory_method": "peak extra RSS of the first call: /proc/self/clear_refs reset of VmHWM, "
        "then VmHWM - VmRSS before the call (counts every temporary); *_est_mb are "
        "analytic tensor sizes",
        "threads": args.threads,
        "targets_T4096": "local >= 3x faster and >= 10x less memory than dense",
        "met_T4096": bool(
            at4k.get("time_ratio_dense_over_local", 0) >= 3
            and at4k.get("mem_ratio_dense_over_local", 0) >= 10
        ),
        "note": "shared 2-core machine: timings are noisy",
    }
    write_results("attention", rows, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
