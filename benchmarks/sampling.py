"""Sampler speed (paper config) and quality vs NFE (small trained model), with CFG.

Speed: a randomly initialised paper-config SamuelUNet (ModelConfig defaults), one clip of
T = 1024 latent frames (47.55 s at 21.53 frames/s), CFG (cond + uncond in one B=2 forward).
Real-time factor = generation seconds / 47.55 s, for the latent part and with the paper.yaml
mel-codec decode (hop 1024 at 22050 Hz: the same 21.53 frames/s). Ancestral-800 is timed on
its first steps and extrapolated linearly to 800.

Quality: a demo-trained model (``--ckpt``; auto: the newest runs/demo-long-* or runs/demo-*
last.ckpt; else the debug config trained briefly). Every few-step sampler (DPM++(2M), DPM++(3M),
UniPC (B(h) = h and bh1), DDIM) at 5/8/10/15/25 steps (``--quality-steps``) on each step spacing
(uniform in t | log-SNR | Karras rho = 7) samples the same vocal crops (the
checkpoint's crop length, ``--clips-per-song`` consecutive crops from the middle of each test
song) with the same seeds as ancestral-800, at the checkpoint's guidance scale; reported are the
Frechet distance between per-frame latent vectors (normalised space) and ancestral-800's, with
ancestral-800 on other seeds as the noise floor, the squared distance of per-channel mean/std,
and, for a model trained on the demo set, FD-mel (the evaluation suite's weight-free embedding)
of the decoded crops against the real accompaniment crops of the test songs. The quality rows
are also written pivoted (results/sampling_quality.md: Frechet by sampler x spacing x steps, and
its ratio to the noise floor, the acceptance measure of "equal quality").

    python benchmarks/sampling.py [--quick] [--ckpt CKPT|none] [--threads N] [--skip-speed]
        [--seeds 2] [--quality-steps 5 8 10 15 25] [--samplers dpmpp dpmpp3m ...] [--no-fd-mel]
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

from samuel_pl.diffusion.samplers import SPACINGS  # noqa: E402

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


def test_crops(acc: Any, n: int, per_song: int = 1) -> tuple[list, list]:
    """(vocal crops, accompaniment crops) ``(1, n)``: ``per_song`` consecutive crops from the
    middle of each test song of the model's demo data (the evaluation suites' clips); empty for
    a non-demo model."""
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips

    if acc.cfg.data.source != "demo":
        return [], []
    seconds = per_song * n / acc.sample_rate
    suite = SuiteConfig(data=acc.cfg.data, split="test", clip_seconds=seconds,
                        sample_rate=acc.sample_rate)  # fmt: skip
    vocals, accs = load_clips(suite)
    cut = [(v[:, i * n : (i + 1) * n], accs[k][:, i * n : (i + 1) * n])
           for k, v in vocals.items() for i in range(per_song)]  # fmt: skip
    cut = [(v, a) for v, a in cut if v.shape[-1] == n]
    return [v for v, _ in cut], [a for _, a in cut]


def quality_rows(
    ckpt: Path,
    demo: Path | None,
    quick: bool,
    per_song: int,
    fd_mel_rows: bool,
    n_seeds: int = 2,
    steps_grid: tuple[int, ...] = QUALITY_STEPS,
    samplers: tuple[str, ...] = QUALITY_SAMPLERS,
) -> tuple[list[dict], dict]:
    """Latent distance of each sampler/spacing/NFE to ancestral-800 on the same vocals and
    seeds, and FD-mel against the real test accompaniments for a demo-trained model."""
    import numpy as np
    import torch

    from samuel_pl.audio import read_audio
    from samuel_pl.generation import Accompanist
    from samuel_pl.metrics import build_embedder
    from samuel_pl.metrics.frechet import frechet_distance, gaussian_stats

    acc = Accompanist.from_checkpoint(ckpt, "cpu")
    mod, w = acc.module, acc.window
    n = acc.codec.num_samples(w)
    crops, refs = ([], []) if demo else test_crops(acc, n, per_song)
    for p in sorted(demo.glob("*/vocals.*")) if demo else []:
        audio, _ = read_audio(p, acc.sample_rate, 1)
        for start in range(0, audio.shape[-1] - n + 1, n)[:4]:
            crops.append(audio[:, start : start + n])
    if not crops:  # --ckpt without a demo folder: synthetic vocal crops
        t = np.arange(n) / acc.sample_rate
        crops = [(0.3 * np.sin(2 * np.pi * f * t))[None].astype(np.float32) for f in (220, 330)]
    x = torch.from_numpy(np.stack(crops))  # (B, 1, n)
    cond = mod.normalize(acc.codec.encode(x, acc.sample_rate)[..., :w])  # (B, C, W)
    seeds = (0,) if quick else tuple(range(n_seeds))

    embedder = build_embedder("mel") if refs and fd_mel_rows else None
    ref_emb = (
        gaussian_stats(np.concatenate([embedder.embed(a, acc.sample_rate) for a in refs]))
        if embedder is not None
        else None
    )
    first: dict[str, Any] = {}

    def run(name: str, steps: int, spacing: str, seed_offset: int = 0) -> np.ndarray:
        outs = []
        for s in seeds:
            g = torch.Generator().manual_seed(1000 * s + seed_offset)
            outs.append(mod.sample(cond, sampler=name, steps=steps, spacing=spacing, generator=g,
                                   normalized=True))  # fmt: skip
        first["z"] = outs[0]  # (B, C, W) of the first seed: decoded for FD-mel
        z = torch.cat(outs)  # (S*B, C, W)
        return z.permute(0, 2, 1).reshape(-1, z.shape[1]).numpy()  # (frames, C)

    def fd_mel() -> float | None:
        if embedder is None or ref_emb is None:
            return None
        wav = acc.codec.decode(mod.denormalize(first["z"])).float().numpy()  # (B, 1, N)
        emb = np.concatenate([embedder.embed(a, acc.sample_rate) for a in wav])
        return frechet_distance(*gaussian_stats(emb), *ref_emb)

    def stats(v: np.ndarray) -> np.ndarray:
        return np.concatenate([v.mean(0), v.std(0)])

    ref = run("ancestral", 800, "uniform")
    mu_r, s_r = gaussian_stats(ref)
    rows = []
    steps_grid = (10, 25) if quick else steps_grid
    cases = [("ancestral", "-", 800, 7)]
    cases += [(s, sp, k, 0) for s in samplers for sp in SPACINGS for k in steps_grid]
    for name, spacing, steps, off in cases:
        print(f"quality: {name} {spacing} {steps}", flush=True)
        t0 = time.perf_counter()
        z = run(name, steps, "uniform" if spacing == "-" else spacing, off)
        mu, s = gaussian_stats(z)
        rows.append({
            "sampler": name + (" (other seeds: noise floor)" if off else ""),
            "spacing": spacing,
            "steps": steps,
            "frechet_to_anc800": frechet_distance(mu, s, mu_r, s_r),
            "meanstd_sqdist_to_anc800": float(np.mean((stats(z) - stats(ref)) ** 2)),
            "seconds": time.perf_counter() - t0,
            "fd_mel_vs_test": fd_mel(),
        })  # fmt: skip
    best = {
        f"best_spacing_{name}{k}": min(
            (r for r in rows if r["sampler"] == name and r["steps"] == k),
            key=lambda r: r["frechet_to_anc800"],
        )["spacing"]
        for name in samplers
        for k in steps_grid
    }
    notes = {
        "quality_ckpt": str(ckpt),
        "quality_ckpt_steps": int(
            torch.load(ckpt, map_location="cpu", weights_only=True).get("global_step", -1)
        ),
        "fd_mel_reference": f"{len(refs)} real accompaniment crops of the test songs"
        if embedder is not None
        else "none (model not trained on the demo source, or --no-fd-mel)",
        "quality_clips": int(cond.shape[0]),
        "quality_clips_note": f"{per_song} consecutive crops from the middle of each test song"
        if refs
        else "debug/synthetic vocal crops",
        "quality_seeds": len(seeds),
        "quality_frames_per_clip": w,
        "quality_cfg": mod.cfg.sampling.cfg,
        **best,
    }
    return rows, notes


def pivot_rows(quality: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quality rows pivoted: one row per (sampler, spacing), Frechet to ancestral-800 per step
    count and, for each, its ratio to the noise floor (ancestral-800 on other seeds)."""
    floor = next(r["frechet_to_anc800"] for r in quality if "noise floor" in r["sampler"])
    fast = [r for r in quality if not r["sampler"].startswith("ancestral")]
    steps = sorted({r["steps"] for r in fast})
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in fast:
        blank = {f"{k} steps": None for k in steps} | {f"{k}/floor": None for k in steps}
        first = {"sampler": r["sampler"], "spacing": r["spacing"], **blank}
        row = rows.setdefault((r["sampler"], r["spacing"]), first)
        row[f"{r['steps']} steps"] = round(r["frechet_to_anc800"], 3)
        row[f"{r['steps']}/floor"] = round(r["frechet_to_anc800"] / floor, 2)
    out = list(rows.values())
    out.append({"sampler": "ancestral-800, other seeds (noise floor)", "spacing": "-",
                f"{steps[0]} steps": round(floor, 3)})  # fmt: skip
    return out


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
    notes["speed_rows"] = f"kept from the run of {old['meta']['date']} (--skip-speed)"
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
        "ratio": "Frechet / noise floor; <= 1.5 is the 'equal quality' bar of issue 21",
    }
    write_results("sampling_quality", pivot_rows(quality), pivot_meta)
    for r in rows:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()})


if __name__ == "__main__":
    main()
