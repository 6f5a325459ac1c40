"""Live accompaniment: latency, underruns, join smoothness and the harmony price of causality.

For each checkpoint (``--ckpt PATH[=LABEL]``, repeatable):

1. Latency: the test songs' vocals, concatenated to a ``--stream-seconds`` stream (default 180),
   played through :class:`~samuel_pl.generation.live_stream.LiveStream` at real-time pace with
   ``--latency`` (default 1.5 s): p50/p95/max chunk latency (first vocal sample in -> audio out)
   and underruns. Then ``--sweep`` latencies (ascending, ``--sweep-seconds`` streams): the
   smallest that holds (p95 <= latency, no underrun).
2. Harmony: per song (the suite's test clips, default evaluation/suites/windows.yaml: 17 songs,
   20 s), the live output (the same engine, fed the whole clip: its chunks are the ones a
   real-time run computes, tests/generation/test_live.py) against the offline
   :class:`~samuel_pl.generation.Accompanist` output with the same sampler settings:
   consonance share and gain (samuel_pl.metrics.harmony) and the paired per-song difference
   live - offline with a 95% bootstrap interval.
3. Joins: frame-to-frame spectral flux (L2 of the log-magnitude difference, n_fft 2048, hop 512)
   at the live output's chunk joins, over the median flux of the offline output's frames.

    python benchmarks/live.py --ckpt runs/demo-x/checkpoints/last.ckpt=demo \
        --ckpt runs/demo-long-x/checkpoints/last.ckpt=demo_long

Writes results/<--name>.{json,md} (default ``live``). Run it pinned to one core
(``taskset -c 1``) with ``OMP_NUM_THREADS=1`` for the figures of a 2-core laptop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402

KEYS = ("consonance_share", "consonance_gain")


def _stream(vocals: list[Any], seconds: float, sr: int) -> Any:
    import numpy as np

    out, n = [], int(seconds * sr)
    while sum(x.size for x in out) < n:
        out += [v for v in vocals]
    return np.concatenate(out)[:n].astype(np.float32)


def timing(ckpt: str, stream: Any, sr: int, latency: float, lookahead: float) -> dict[str, Any]:
    import numpy as np

    from samuel_pl.generation.live_engine import LiveConfig, LiveEngine
    from samuel_pl.generation.live_stream import LiveStream, play_realtime

    engine = LiveEngine.from_checkpoint(ckpt, LiveConfig(latency=latency, lookahead=lookahead))
    engine.warmup()
    live = LiveStream(engine)
    play_realtime(live, stream, sr)
    s = live.summary()
    compute = [sum(r.chunk.seconds.values()) for r in live.results if not r.chunk.skipped]
    chunk_s = engine.chunk / engine.frame_rate
    return {
        "compute_p50_s": round(float(np.median(compute)), 3) if compute else None,
        "compute_over_chunk": round(float(np.median(compute)) / chunk_s, 3) if compute else None,
        "latency_s": latency,
        "chunk_s": round(engine.chunk / engine.frame_rate, 3),
        "stream_s": round(stream.size / sr, 1),
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()},
        "holds": bool(s["underruns"] == 0 and s["latency_p95_s"] <= latency),
    }


def flux(audio: Any) -> Any:
    """(frames - 1,) L2 norm of the log-magnitude difference of consecutive STFT frames."""
    import numpy as np
    import torch

    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    spec = torch.stft(x, 2048, 512, window=torch.hann_window(2048), return_complex=True).abs()
    logm = torch.log(spec + 1e-4)  # (F, T)
    return (logm[:, 1:] - logm[:, :-1]).norm(dim=0).numpy()


def harmony(ckpt: str, clips: dict[str, Any], sr: int, lookahead: float, boot: int) -> dict:
    import numpy as np

    from samuel_pl.generation import Accompanist
    from samuel_pl.generation.live_engine import LiveConfig, LiveEngine
    from samuel_pl.metrics.harmony import analyse_vocal, harmonic_fit

    acc = Accompanist.from_checkpoint(ckpt, "cpu")
    scores: dict[str, dict[str, list[float]]] = {"live": {}, "offline": {}}
    joins, base = [], []
    for clip in clips.values():
        v = clip.mean(axis=0).astype(np.float32)
        off = acc.generate(v, sr)[0]
        engine = LiveEngine(acc.module, acc.codec, LiveConfig(lookahead=lookahead), acc.device)
        engine.push(v)
        engine.close()
        chunks = []
        while engine.ready():
            chunks.append(engine.step())
        live = np.concatenate([c.audio for c in chunks])[: v.size]
        va = analyse_vocal(v, sr)
        for name, y in (("live", live), ("offline", off)):
            fit = harmonic_fit(v, y[: v.size], sr, va)
            for k in KEYS:
                scores[name].setdefault(k, []).append(fit[k])
        f_live, f_off = flux(live), flux(off)
        for c in chunks[1:]:
            j = round(c.start / 512)  # the STFT frame centred on the join
            if 1 <= j < f_live.size:
                joins.append(max(f_live[j - 1], f_live[j]))
        base.append(np.median(f_off))
    rng = np.random.default_rng(0)
    row: dict[str, Any] = {"songs": len(clips)}
    for k in KEYS:
        a, b = np.asarray(scores["offline"][k]), np.asarray(scores["live"][k])
        ok = np.isfinite(a) & np.isfinite(b)
        d = b[ok] - a[ok]
        lo, hi = np.percentile(rng.choice(d, (boot, d.size)).mean(axis=1), [2.5, 97.5])
        row[f"{k}_offline"] = round(float(a[ok].mean()), 4)
        row[f"{k}_live"] = round(float(b[ok].mean()), 4)
        row[f"{k}_diff"] = f"{d.mean():+.4f} [{lo:+.4f}, {hi:+.4f}]"
    ref = float(np.median(base))
    row["join_flux_p50_over_offline"] = round(float(np.median(joins)) / ref, 3)
    row["join_flux_p95_over_offline"] = round(float(np.percentile(joins, 95)) / ref, 3)
    return row


def default_checkpoints(runs: Path) -> list[str]:
    """``PATH=LABEL`` of the newest ``demo-*`` (not demo-long) and ``demo-long*`` last.ckpt."""
    found = []
    for label, pattern in (("demo", "demo-[!l]*"), ("demo_long", "demo-long*")):
        ckpts = sorted(
            runs.glob(f"{pattern}/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime
        )
        if ckpts:
            found.append(f"{ckpts[-1]}={label}:{ckpts[-1].parent.parent.name}")
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--ckpt",
        action="append",
        default=[],
        help="PATH or PATH=LABEL (default: "
        "the newest runs/demo-*/ and runs/demo-long*/ checkpoints)",
    )
    p.add_argument("--quick", action="store_true", help="30 s stream, 3 songs, one sweep point")
    p.add_argument("--suite", default="evaluation/suites/windows.yaml", help="test clips")
    p.add_argument("--stream-seconds", type=float, default=180.0)
    p.add_argument("--latency", type=float, default=1.5)
    p.add_argument("--lookahead", type=float, default=0.2)
    p.add_argument("--sweep", type=float, nargs="*", default=[0.6, 0.8, 1.0, 1.2])
    p.add_argument("--sweep-seconds", type=float, default=60.0)
    p.add_argument("--songs", type=int, default=0, help="harmony on the first N clips (0: all)")
    p.add_argument("--no-harmony", action="store_true")
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--name", default="live", help="results/<name>.{json,md}")
    args = p.parse_args()

    from samuel_pl.config import load_config
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips

    if args.quick:
        args.stream_seconds, args.songs, args.sweep, args.sweep_seconds = 30.0, 3, [1.0], 15.0
    args.ckpt = args.ckpt or default_checkpoints(HERE.parent / "runs")
    if not args.ckpt:
        print("no checkpoints (pass --ckpt, or train: make fit); no output")
        return 0

    suite = load_config(args.suite, [], SuiteConfig)
    clips, _ = load_clips(suite)
    if args.songs:
        clips = dict(list(clips.items())[: args.songs])
    sr = int(suite.sample_rate)
    stream = _stream([c.mean(axis=0) for c in clips.values()], args.stream_seconds, sr)
    rows: list[dict[str, Any]] = []
    for spec in args.ckpt:
        path, _, label = spec.partition("=")
        label = label or Path(path).parent.parent.name
        row: dict[str, Any] = {"model": label}
        if not args.no_timing:
            main_run = timing(path, stream, sr, args.latency, args.lookahead)
            row.update(main_run)
            smallest = None
            for lat in sorted(args.sweep):
                short = stream[: int(args.sweep_seconds * sr)]
                try:
                    held = timing(path, short, sr, lat, args.lookahead)["holds"]
                except Exception as exc:  # noqa: BLE001 - a latency below the fixed margins
                    print(f"{label}: latency {lat}: {exc}", file=sys.stderr)
                    held = False
                if held:
                    smallest = lat
                    break
            row["smallest_latency_s"] = (
                smallest if smallest is not None else (args.latency if main_run["holds"] else None)
            )
        if not args.no_harmony:
            row.update(harmony(path, clips, sr, args.lookahead, args.bootstrap))
        rows.append(row)
        print(row, flush=True)
    meta = {
        "suite": args.suite,
        "lookahead_s": args.lookahead,
        "sweep_s": args.sweep,
        "sweep_seconds": args.sweep_seconds,
        "interval": "95% bootstrap over songs of the per-song difference live - offline",
        "join_flux": "median / p95 spectral flux at chunk joins over the offline median flux",
    }
    print(write_results(args.name, rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
