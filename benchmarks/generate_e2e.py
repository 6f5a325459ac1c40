"""End to end: a vocal file in, an accompaniment file out, through the path
``python -m samuel_pl.generate`` runs (``Accompanist.from_checkpoint(...).generate_file``).

The vocal is a synthetic melody written as a WAV file (``--vocal-sr``, default 44.1 kHz) lasting
``--frames`` latent frames of the model's codec (default 1024: 47.55 s at the paper codec's
21.53 frames/s; the duration follows the codec's frame rate, 23.75 s for the demo mel codec).
Each (threads, sampler, steps) setting runs ``--warmup`` times untimed, then ``--repeats``
times; the table gives the median seconds of each stage (read, encode, sample, decode, write:
:attr:`Accompanist.stage_hook`) and of the whole call, each as a real-time factor (seconds per
second of audio), the denoiser's achieved GFLOP/s in the sample stage (FLOPs of one guided call,
``flops_per_forward``, x the calls made, / sample seconds) and the fp32 matmul ceiling measured
in the same run at the same thread count.

Without ``--ckpt`` a randomly initialised model of ``--config`` (default the demo architecture)
is saved to a temporary checkpoint and loaded from it: the timings are real, the audio is not.

    python benchmarks/generate_e2e.py [--ckpt CKPT] [--config YAML] [--settings dpmpp:25 ...]
        [--threads 2 ...] [--repeats 3] [--frames 1024] [--device cpu] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import REPO_ROOT, write_results  # noqa: E402

SETTINGS = ["dpmpp:25", "dpmpp:10", "dpmpp3m:10", "unipc:10", "ddim:25"]
QUICK_SETTINGS = ["dpmpp:25", "dpmpp3m:10"]
MATMUL_N = 2048


def parse_setting(text: str) -> tuple[str, int]:
    """``name:steps`` -> (name, steps); a bad one is an argparse error naming it."""
    from samuel_pl.diffusion import SAMPLERS

    name, _, steps = text.partition(":")
    if name not in SAMPLERS or not steps.isdigit() or int(steps) < 1:
        raise argparse.ArgumentTypeError(
            f"setting {text!r}: expected SAMPLER:STEPS, SAMPLER one of {', '.join(SAMPLERS)}"
        )
    return name, int(steps)


def matmul_gflops(threads: int, n: int = MATMUL_N, repeats: int = 5) -> float:
    """fp32 (n x n) @ (n x n) GFLOP/s at ``threads`` threads: 2 n^3 / median seconds."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def random_checkpoint(config: Path, folder: Path) -> Path:
    """Save a seeded, untrained LitSamuel of ``config`` as a Lightning-shaped checkpoint."""
    import torch

    from samuel_pl.config import load_config
    from samuel_pl.lit import LitSamuel

    torch.manual_seed(0)
    module = LitSamuel(load_config(config))
    path = folder / "random.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def write_vocal(path: Path, seconds: float, sr: int) -> Path:
    """A sung-like melody (harmonics, vibrato, syllable envelope) as a mono WAV file."""
    import numpy as np

    from samuel_pl.audio import write_audio

    t = np.arange(round(seconds * sr)) / sr
    notes = np.array([220.0, 247.0, 262.0, 294.0, 330.0, 294.0, 262.0, 247.0])
    f0 = notes[(t * 2).astype(int) % len(notes)] * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    env = 0.5 * (1 - np.cos(2 * np.pi * ((t * 2) % 1.0)))
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * env * 0.25
    return write_audio(path, x[None].astype(np.float32), sr)


def guided_call_flops(acc: Any, cfg_scale: float) -> int:
    """FLOPs of one guided denoiser call on one window (CFG: the B=2 cond + uncond batch)."""
    import torch

    from samuel_pl.diffusion import CFGDenoiser
    from samuel_pl.metrics.efficiency import flops_per_forward

    c = int(acc.module.latent_mean.numel())
    dev = acc.device
    cond = torch.randn(1, c, acc.window, device=dev)
    fn = CFGDenoiser(acc.module.ema.module, cond, cfg_scale)
    x = torch.randn(1, c, acc.window, device=dev)
    return flops_per_forward(fn, x, torch.full((1,), 400.0, device=dev))


def run_setting(
    acc: Any, vocal: Path, out: Path, setting: tuple[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    """Median stage and total seconds of ``generate_file`` over the repeats, plus the plan."""
    name, steps = setting
    stages: dict[str, list[float]] = {}
    totals: list[float] = []
    res = None
    seen: dict[str, float] = {}
    acc.stage_hook = seen.__setitem__  # (stage, seconds)
    for i in range(args.warmup + args.repeats):
        seen.clear()
        t0 = time.perf_counter()
        res = acc.generate_file(
            vocal, out, sampler=name, steps=steps, cfg=args.cfg, spacing=args.spacing, seed=i
        )
        total = time.perf_counter() - t0
        if i >= args.warmup:
            totals.append(total)
            for stage, seconds in seen.items():
                stages.setdefault(stage, []).append(seconds)
    acc.stage_hook = None
    assert res is not None
    med = {stage: statistics.median(v) for stage, v in stages.items()}
    return {"res": res, "stages": med, "total": statistics.median(totals)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default=None, help="LitSamuel checkpoint (default: a random model)")
    p.add_argument("--config", default=str(REPO_ROOT / "experiments" / "demo.yaml"),
                   help="architecture of the random model when --ckpt is not given")  # fmt: skip
    p.add_argument("--settings", nargs="+", type=parse_setting, default=None,
                   help=f"SAMPLER:STEPS ... (default {' '.join(SETTINGS)})")  # fmt: skip
    p.add_argument("--threads", nargs="+", type=int, default=[2], help="torch threads (list)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per setting (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per setting first")
    p.add_argument("--frames", type=int, default=1024, help="vocal length in latent frames")
    p.add_argument("--vocal-sr", type=int, default=44100, help="sample rate of the vocal file")
    p.add_argument("--cfg", type=float, default=None, help="guidance (default: checkpoint's)")
    p.add_argument("--spacing", default=None, help="step grid (default: checkpoint's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    p.add_argument("--quick", action="store_true", help=f"{' '.join(QUICK_SETTINGS)}, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 1
        args.settings = args.settings or [parse_setting(s) for s in QUICK_SETTINGS]
    settings = args.settings or [parse_setting(s) for s in SETTINGS]
    if args.repeats < 1 or args.warmup < 0 or args.frames < 2 or min(args.threads) < 1:
        p.error("--repeats, --frames and --threads must be >= 1 (--frames >= 2), --warmup >= 0")

    import torch

    from samuel_pl.diffusion import resolve_spacing
    from samuel_pl.generation import Accompanist
    from samuel_pl.metrics.efficiency import count_parameters

    with tempfile.TemporaryDirectory(prefix="generate-e2e-") as tmp_s:
        tmp = Path(tmp_s)
        torch.set_num_threads(args.threads[0])
        if args.ckpt is None:
            ckpt, model_note = (
                random_checkpoint(Path(args.config), tmp),
                (
                    f"random (untrained) model of {Path(args.config).name}, saved and loaded here: "
                    "timings are real, the audio is not (pass --ckpt for a trained model)"
                ),
            )
        else:
            ckpt, model_note = Path(args.ckpt), f"checkpoint {args.ckpt}"
        print(f"model: {model_note}", flush=True)
        t0 = time.perf_counter()
        acc = Accompanist.from_checkpoint(ckpt, args.device)
        load_s = time.perf_counter() - t0
        codec = acc.codec
        audio_s = codec.num_samples(args.frames) / codec.sample_rate
        cfg_scale = float(acc.cfg.sampling.cfg if args.cfg is None else args.cfg)
        vocal = write_vocal(tmp / "vocal.wav", audio_s, args.vocal_sr)
        flops = guided_call_flops(acc, cfg_scale)
        rows: list[dict[str, Any]] = []
        for threads in args.threads:
            ceiling = matmul_gflops(threads)
            torch.set_num_threads(threads)
            for setting in settings:
                r = run_setting(acc, vocal, tmp / "out.wav", setting, args)
                res, st = r["res"], r["stages"]
                calls = len(res.plan.starts) * res.settings["steps"]
                achieved = flops * calls / st["sample"] / 1e9
                row: dict[str, Any] = {
                    "threads": threads,
                    "sampler": res.settings["sampler"],
                    "steps": res.settings["steps"],
                    "spacing": resolve_spacing(res.settings["sampler"], res.settings["spacing"]),
                    "windows": len(res.plan.starts),
                    "calls": calls,
                }
                row |= {f"{s}_s": st.get(s, 0.0) for s in ("read", "encode", "sample", "decode")}
                row |= {"write_s": st.get("write", 0.0), "total_s": r["total"]}
                row |= {f"rtf_{s}": st.get(s, 0.0) / audio_s for s in st}
                row |= {"rtf_total": r["total"] / audio_s, "net_gflops": achieved}
                row |= {"matmul_gflops": ceiling, "pct_of_ceiling": 100 * achieved / ceiling}
                rows.append(row)
                print(
                    f"threads {threads} {row['sampler']}-{row['steps']}: total "
                    f"{r['total']:.2f} s (RTF {row['rtf_total']:.3f}), sample {st['sample']:.2f} "
                    f"s at {achieved:.1f} GFLOP/s (matmul {ceiling:.0f}), decode "
                    f"{st['decode']:.2f} s",
                    flush=True,
                )
    meta = {
        "model": model_note,
        "parameters": count_parameters(acc.module.model),
        "codec": f"{acc.cfg.codec.type} at {codec.sample_rate} Hz, hop {codec.hop_length}",
        "audio": f"{args.frames} frames = {audio_s:.2f} s; vocal WAV at {args.vocal_sr} Hz",
        "window": f"{acc.window} frames, overlap {acc.overlap}",
        "guidance": cfg_scale,
        "flops_per_guided_call": flops,
        "checkpoint_load_s": round(load_s, 3),
        "timing": f"median of {args.repeats} runs after {args.warmup} warm-up run(s) per setting",
        "device": str(acc.device),
        "matmul_ceiling": f"fp32 {MATMUL_N}x{MATMUL_N} torch.mm, median of 5, per thread count",
    }
    print(write_results("generate_e2e", rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
