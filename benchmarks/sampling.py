"""Sampler speed (paper config) and quality vs NFE (small trained model), with CFG.

Speed: a randomly initialised paper-config SamuelUNet (ModelConfig defaults), one clip of
T = 1024 latent frames (47.55 s at 21.53 frames/s), CFG (cond + uncond in one B=2 forward).
Real-time factor = generation seconds / 47.55 s, for the latent part and with the paper.yaml
mel-codec decode (hop 1024 at 22050 Hz: the same 21.53 frames/s). Ancestral-800 is timed on
its first steps and extrapolated linearly to 800.

Quality: a demo-trained model (``--ckpt``; auto: the newest runs/demo-long-* or runs/demo-*
last.ckpt; else the debug config trained briefly). Every few-step sampler (DPM++(2M), DPM++(3M),
UniPC (B(h) = h and bh1), DDIM) at 5/8/10/15/25 steps (``--quality-steps``) on each step spacing
(uniform in t | log-SNR | Karras rho = 7) samples the same vocal crops with the same seeds as the
ancestral-800 row (the noise floor); reported is the Frechet distance between per-frame latent
vectors (normalised space) and a reference ancestral-800 draw on other seeds, its ratio to the
floor with 95% song-jackknife intervals (sampling_stats.py), the squared distance of per-channel
mean/std, and, for a model trained on the demo set, FD-mel (the evaluation suite's weight-free
embedding) of the decoded crops against the real accompaniment crops of the test songs. Crops
(sampling_quality.py): ``--crop-frames`` latent frames (0: the checkpoint's window, shortened to
the shortest test song, so that every test song counts), up to ``--clips-per-song`` consecutive
crops from the middle of each; the run prints how many crops and songs it used and which songs
it skipped. The quality rows are also written pivoted (results/sampling_quality.md: Frechet by
sampler x spacing x steps, and its ratio to the noise floor, the acceptance measure of "equal
quality": within 1.5x).

    python benchmarks/sampling.py [--quick] [--ckpt CKPT|none] [--threads N] [--skip-speed]
        [--seeds 2] [--quality-steps 5 8 10 15 25] [--samplers dpmpp dpmpp3m ...] [--no-fd-mel]
        [--crop-frames 0]
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

from common import write_results  # noqa: E402
from sampling_quality import quality_rows  # noqa: E402
from sampling_stats import BAR, pivot_rows  # noqa: E402

FRAMES, FRAME_RATE = 1024, 44100 / 2048
CLIP_S = FRAMES / FRAME_RATE  # 47.55 s
FAST = [("ddim", 10), ("ddim", 25), ("ddim", 50), ("dpmpp", 10), ("dpmpp", 25)]
QUALITY_SAMPLERS = ("dpmpp", "dpmpp3m", "unipc", "unipc_bh1", "ddim")
QUALITY_STEPS = (5, 8, 10, 15, 25)


class _Stop(Exception):
    pass


def speed_rows(quick: bool, cfg_scale: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Time every sampler on the paper-config U-Net; returns rows and notes."""
    import torch

    from samuel_pl.codecs.mel import MelCodec
    from samuel_pl.diffusion import CFGDenoiser, CosineSchedule, get_sampler, sampler_timesteps
    from samuel_pl.nn import SamuelUNet

    torch.manual_seed(0)
    net = SamuelUNet(in_channels=64).eval()
    sched = CosineSchedule(800)
    cond = torch.randn(1, 64, FRAMES)
    fn = CFGDenoiser(net, cond, cfg_scale)
    codec = MelCodec(sample_rate=22050, n_mels=64, n_fft=4096, hop_length=1024)
    latent = codec.encode(torch.randn(1, 1, codec.num_samples(FRAMES)) * 0.1, 22050)
    with torch.inference_mode():
        fn(torch.randn(1, 64, FRAMES), torch.tensor([400.0]))  # warm-up
        t0 = time.perf_counter()
        codec.decode(latent[..., :FRAMES])
        decode_s = time.perf_counter() - t0

    def step_times(name: str, steps: int, stop_after: int | None = None) -> list[float]:
        """Seconds of each sampler step (the run stops after ``stop_after`` steps)."""
        gen = torch.Generator().manual_seed(0)
        stamps = [time.perf_counter()]

        def cb(i: int, n: int, x: Any) -> None:
            stamps.append(time.perf_counter())
            if stop_after is not None and i + 1 >= stop_after:
                raise _Stop

        try:
            with torch.inference_mode():
                x_T = torch.randn(1, 64, FRAMES)
                stamps[0] = time.perf_counter()
                ts = sampler_timesteps(name, sched, steps)
                get_sampler(name)(fn, x_T, sched, ts, callback=cb, generator=gen)
        except _Stop:
            pass
        return [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)]

    # Shared 2-core machine: the least-disturbed run (min over repeats) for the fast samplers,
    # the median step for ancestral; both are robust to other processes' bursts.
    sub, repeats = (16, 2) if quick else (64, 3)
    anc_s = statistics.median(step_times("ancestral", 800, stop_after=sub)) * 800
    times = {c: float("inf") for c in FAST}
    for _ in range(repeats):
        for s, n in FAST:
            times[(s, n)] = min(times[(s, n)], sum(step_times(s, n)))
    rows = [
        {
            "sampler": "ancestral",
            "steps": 800,
            "forward_passes_B2": 800,
            "timed_steps": sub,
            "latent_s": anc_s,
        }
    ]
    rows += [
        {
            "sampler": s,
            "steps": n,
            "forward_passes_B2": n,
            "timed_steps": n,
            "latent_s": times[(s, n)],
        }
        for s, n in FAST
    ]
    for r in rows:
        r["rtf_latent"] = r["latent_s"] / CLIP_S
        r["with_decode_s"] = r["latent_s"] + decode_s
        r["rtf_with_decode"] = r["with_decode_s"] / CLIP_S
        r["speedup_vs_ancestral800"] = anc_s / r["latent_s"]
    d = next(r for r in rows if (r["sampler"], r["steps"]) == ("dpmpp", 25))
    notes = {
        "mel_decode_s": round(decode_s, 3),
        "ancestral_note": f"ancestral-800 = 800 x median step time of its first {sub} steps",
        "fast_sampler_time": f"min of {repeats} runs",
        "target_dpmpp25_rtf_latent_le_0.05": bool(d["rtf_latent"] <= 0.05),
        "target_dpmpp25_speedup_ge_60": bool(d["speedup_vs_ancestral800"] >= 60),
    }
    return rows, notes


def train_debug(tmp: Path, steps: int) -> Path:
    """Train experiments/debug.yaml for ``steps`` steps in ``tmp``; return last.ckpt."""
    from samuel_pl.cli.main import main

    repo = Path(__file__).resolve().parents[1]
    code = main(["fit", "--config", str(repo / "experiments" / "debug.yaml"),
                 f"data.root={tmp / 'demo'}", f"data.cache_dir={tmp / 'cache'}",
                 f"run.dir={tmp / 'run'}", "tracking.enabled=false",
                 "callbacks.num_sample_songs=0", f"trainer.max_steps={steps}",
                 "trainer.max_epochs=-1", f"data.crops_per_epoch={4 * steps}",
                 "optim.lr=1e-3"])  # fmt: skip
    if code != 0:
        raise SystemExit(f"training the debug model failed (exit {code})")
    return tmp / "run" / "checkpoints" / "last.ckpt"


def default_ckpt() -> Path | None:
    """The newest demo-trained checkpoint under runs/ (demo-long preferred), if any."""
    runs = Path(__file__).resolve().parents[1] / "runs"
    for pattern in ("demo-long-*/checkpoints/last.ckpt", "demo-*/checkpoints/last.ckpt"):
        found = sorted(runs.glob(pattern), key=lambda p: p.stat().st_mtime)
        if found:
            return found[-1]
    return None


def earlier_speed_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The speed rows and notes of the last results/sampling.json (``--skip-speed``)."""
    import json

    from common import RESULTS_DIR

    path = RESULTS_DIR / "sampling.json"
    if not path.is_file():
        raise SystemExit(f"--skip-speed needs an earlier {path}")
    old = json.loads(path.read_text(encoding="utf-8"))
    rows = [r for r in old["rows"] if str(r.get("table", "")).startswith("speed")]
    keep = ("mel_decode_s", "ancestral_note", "fast_sampler_time",
            "target_dpmpp25_rtf_latent_le_0.05", "target_dpmpp25_speedup_ge_60")  # fmt: skip
    notes = {k: old["meta"][k] for k in keep if k in old["meta"]}
    first = old["meta"].get("speed_rows")  # already kept from an earlier run: that run's date
    notes["speed_rows"] = first or f"kept from the run of {old['meta']['date']} (--skip-speed)"
    return [{k: v for k, v in r.items() if k != "table"} for r in rows], notes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer ancestral steps, one seed")
    p.add_argument(
        "--ckpt", default="auto",
        help="demo-trained checkpoint for the quality table (auto: newest runs/demo-*; none: "
        "train the debug config)",
    )  # fmt: skip
    p.add_argument("--train-steps", type=int, default=300, help="debug training steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cfg", type=float, default=2.5, help="guidance scale for the speed table")
    p.add_argument("--clips-per-song", type=int, default=4, help="quality crops per test song")
    p.add_argument("--crop-frames", type=int, default=0,
                   help="latent frames per quality crop (0: the checkpoint's window, shortened "
                   "to the shortest test song)")  # fmt: skip
    p.add_argument("--no-fd-mel", action="store_true", help="skip FD-mel (Griffin-Lim decodes)")
    p.add_argument("--seeds", type=int, default=2, help="seeds per quality case")
    p.add_argument("--quality-steps", type=int, nargs="+", default=list(QUALITY_STEPS))
    p.add_argument("--samplers", nargs="+", default=list(QUALITY_SAMPLERS),
                   help="few-step samplers in the quality table")  # fmt: skip
    p.add_argument(
        "--skip-speed", action="store_true",
        help="keep the speed rows of the last results/sampling.json (quality table only)",
    )  # fmt: skip
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    speed, notes = earlier_speed_rows() if args.skip_speed else speed_rows(args.quick, args.cfg)
    with tempfile.TemporaryDirectory(prefix="bench-sampling-") as tmp:
        demo = None
        if args.ckpt == "auto":
            ckpt = default_ckpt()
        else:
            ckpt = None if args.ckpt == "none" else Path(args.ckpt)
        if ckpt is None:
            steps = 150 if args.quick else args.train_steps
            ckpt = train_debug(Path(tmp), steps)
            demo, notes["quality_train_steps"] = Path(tmp) / "demo", steps
        quality, qnotes = quality_rows(
            ckpt,
            demo,
            args.quick,
            args.clips_per_song,
            not args.no_fd_mel,
            args.seeds,
            tuple(args.quality_steps),
            tuple(args.samplers),
            args.crop_frames,
        )
    rows = [{"table": "speed (paper U-Net, T=1024, CFG)", **r} for r in speed]
    label = "debug model" if demo else f"demo model {qnotes['quality_ckpt_steps']} steps"
    rows += [{"table": f"quality vs NFE and spacing ({label})", **r} for r in quality]
    meta = {"clip_seconds": round(CLIP_S, 2), "cfg": args.cfg, "quick": args.quick}
    write_results("sampling", rows, {**notes, **qnotes, **meta, "threads": args.threads})
    pivot_meta = {
        **qnotes,
        "threads": args.threads,
        "table": f"quality vs NFE and spacing ({label})",
        "ratio": f"Frechet / noise floor [95% CI]; <= {BAR} is the 'equal quality' bar of issue 21",
    }
    write_results("sampling_quality", pivot_rows(quality), pivot_meta)
    for r in rows:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()})


if __name__ == "__main__":
    main()
