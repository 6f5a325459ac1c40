"""End to end: a vocal file in, an accompaniment file out, through the path
``python -m samuel_pl.generate`` runs (``Accompanist.from_checkpoint(...).generate_file``).

The vocal is a synthetic melody written as a WAV file (``--vocal-sr``, default 44.1 kHz) lasting
``--frames`` latent frames of the model's codec (default 1024: 47.55 s at the paper codec's
21.53 frames/s; the duration follows the codec's frame rate, 23.75 s for the demo mel codec).
A setting is ``SAMPLER:STEPS[:wWINDOW][:DECODER]``: the window in latent frames (default the
checkpoint's), the decoder ``gl`` (Griffin-Lim, the codec's iterations), ``glN`` (N iterations)
or ``voc`` / ``vocN`` (the mel codec's vocoder refined by the codec's / N Griffin-Lim
iterations: ``--vocoder``, default the newest
``runs/vocoder-demo-*``, else a random vocoder of experiments/vocoder/demo.yaml for the
checkpoint's codec, saved and loaded here: real timings, not real audio). Each (threads,
setting) runs ``--warmup`` times untimed, then ``--repeats`` times; the table gives the median
seconds of each stage (read, encode, sample, decode, write: the ``on_stage`` callback of
``generate_file``) and of the whole call, each as a real-time factor (seconds per second of audio),
the denoiser's achieved GFLOP/s in the sample stage (FLOPs of one guided call,
``flops_per_forward``, x the calls made, / sample seconds) and the fp32 matmul ceiling measured
in the same run at the same thread count.

``--ckpt auto`` (the default) takes the newest ``runs/demo-long-*`` checkpoint; without one (or
with ``--ckpt random``) a randomly initialised model of ``--config`` (default the demo
architecture) is saved to a temporary checkpoint and loaded from it: the timings are real, the
audio is not. The default settings are the old default (DPM++ 20 steps in 128-frame windows,
Griffin-Lim 48) and the recommended one (:data:`RECOMMENDED`), measured in the same run.

    python benchmarks/generate_e2e.py [--ckpt auto|random|CKPT] [--config YAML]
        [--settings dpmpp:10:w2048:voc ...] [--vocoder auto|CKPT] [--threads 2 ...]
        [--repeats 3] [--frames 2048] [--device cpu] [--quick]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import REPO_ROOT, write_results  # noqa: E402

RECOMMENDED = "dpmpp:10:w2048:voc"
"""The recommended default (issue 21): DPM++(2M) 10 steps on the log-SNR grid, the whole 47.5 s
clip in one window, the vocoder refined by codec.vocoder_refine Griffin-Lim iterations."""
OLD_DEFAULT = "dpmpp:20:w128:gl48"
SETTINGS = [
    OLD_DEFAULT,
    "dpmpp:10:w128:gl48",
    "dpmpp:10:w2048:gl",
    "dpmpp:10:w2048:voc0",
    RECOMMENDED,
]
QUICK_SETTINGS = [OLD_DEFAULT, RECOMMENDED]
MATMUL_N = 2048


@dataclass(frozen=True)
class Setting:
    """One benchmarked way to generate: sampler, steps, window (None: checkpoint's), decoder."""

    sampler: str
    steps: int
    window: int | None = None
    decoder: str = "gl"  # gl | glN | voc | vocN

    @property
    def label(self) -> str:
        w = f":w{self.window}" if self.window else ""
        return f"{self.sampler}:{self.steps}{w}:{self.decoder}"


def parse_setting(text: str) -> Setting:
    """``SAMPLER:STEPS[:wWINDOW][:gl|glN|voc]`` -> Setting; a bad one is an argparse error."""
    from samuel_pl.diffusion import SAMPLERS

    parts = text.split(":")
    name, steps, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
    window = next((int(r[1:]) for r in rest if r[:1] == "w" and r[1:].isdigit()), None)
    decoders = [r for r in rest if re.fullmatch(r"(gl|voc)\d*", r)]
    ok = name in SAMPLERS and steps.isdigit() and int(steps) >= 1
    ok = ok and len(rest) == (window is not None) + len(decoders) and len(decoders) <= 1
    if not ok or (window is not None and window < 1):
        raise argparse.ArgumentTypeError(
            f"setting {text!r}: expected SAMPLER:STEPS[:wWINDOW][:gl|glN|voc|vocN], SAMPLER one of "
            f"{', '.join(SAMPLERS)}"
        )
    return Setting(name, int(steps), window, decoders[0] if decoders else "gl")


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
    from samuel_pl.training import resolve_in_channels

    torch.manual_seed(0)
    module = LitSamuel(resolve_in_channels(load_config(config)))
    path = folder / "random.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def random_vocoder(codec_cfg: Any, folder: Path) -> Path:
    """Save a seeded, untrained vocoder of experiments/vocoder/demo.yaml for ``codec_cfg``."""
    import dataclasses

    import torch

    from samuel_pl.config import load_config
    from samuel_pl.lit.vocoder import LitVocoder

    over = [f"codec.{k}={v}" for k, v in dataclasses.asdict(codec_cfg).items() if k != "vocoder"]
    cfg = load_config(REPO_ROOT / "experiments" / "vocoder" / "demo.yaml", over)
    cfg.data.sample_rate = codec_cfg.sample_rate
    torch.manual_seed(0)
    module = LitVocoder(cfg)
    path = folder / "random-vocoder.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def newest(pattern: str) -> Path | None:
    """The newest file under runs/ matching ``pattern``, or None."""
    found = sorted((REPO_ROOT / "runs").glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def fits(vocoder: Path, codec: Any) -> bool:
    """Whether the vocoder checkpoint was trained on ``codec``'s features."""
    from samuel_pl.codecs.vocoder import load_vocoder
    from samuel_pl.errors import SamuelError

    try:
        load_vocoder(vocoder, codec.latent_fields())
    except SamuelError:
        return False
    return True


def accompanist_for(base: Any, setting: Setting, vocoder: Path | None, device: str) -> Any:
    """An Accompanist on ``base``'s module with the setting's window and decoder."""
    from samuel_pl.generation import Accompanist

    voc = str(vocoder) if setting.decoder.startswith("voc") else "none"
    acc = Accompanist(base.module, device, window=setting.window, vocoder=voc)
    digits = setting.decoder.lstrip("glvoc")
    if digits and setting.decoder.startswith("gl"):
        acc.codec.griffin_lim_iters = int(digits)
    elif digits:
        acc.codec.vocoder_refine = int(digits)
    return acc


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


def guided_call_flops(acc: Any, cfg_scale: float) -> int:  # one window of acc.window frames
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
    acc: Any, vocal: Path, out: Path, setting: Setting, args: argparse.Namespace
) -> dict[str, Any]:
    """Median stage and total seconds of ``generate_file`` over the repeats, plus the plan."""
    name, steps = setting.sampler, setting.steps
    stages: dict[str, list[float]] = {}
    totals: list[float] = []
    res = None
    seen: dict[str, float] = {}
    plan = acc.sampling_plan(name, steps, args.cfg, args.spacing)
    for i in range(args.warmup + args.repeats):
        seen.clear()
        t0 = time.perf_counter()
        res = acc.generate_file(vocal, out, plan=plan, seed=i, on_stage=seen.__setitem__)
        total = time.perf_counter() - t0
        if i >= args.warmup:
            totals.append(total)
            for stage, seconds in seen.items():
                stages.setdefault(stage, []).append(seconds)
    assert res is not None
    med = {stage: statistics.median(v) for stage, v in stages.items()}
    return {"res": res, "stages": med, "total": statistics.median(totals)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--ckpt",
        default="auto",
        help="LitSamuel checkpoint | auto (newest runs/demo-long-*) | random",
    )
    p.add_argument("--vocoder", default="auto",
                   help="vocoder checkpoint for 'voc' settings | auto (newest runs/vocoder-demo-*, "
                   "else a random one) | random")  # fmt: skip
    p.add_argument("--config", default=str(REPO_ROOT / "experiments" / "demo.yaml"),
                   help="architecture of the random model when --ckpt is not given")  # fmt: skip
    p.add_argument("--settings", nargs="+", type=parse_setting, default=None,
                   help=f"SAMPLER:STEPS ... (default {' '.join(SETTINGS)})")  # fmt: skip
    p.add_argument("--threads", nargs="+", type=int, default=[2], help="torch threads (list)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per setting (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per setting first")
    p.add_argument(
        "--frames",
        type=int,
        default=2048,
        help="vocal length in latent frames (2048: 47.55 s at the demo codec)",
    )
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

    load_s = 0.0
    with tempfile.TemporaryDirectory(prefix="generate-e2e-") as tmp_s:
        tmp = Path(tmp_s)
        torch.set_num_threads(args.threads[0])
        ckpt_path = newest("demo-long-*/checkpoints/last.ckpt") if args.ckpt == "auto" else None
        if args.ckpt not in ("auto", "random"):
            ckpt_path = Path(args.ckpt)
        if ckpt_path is None:
            ckpt, model_note = (
                random_checkpoint(Path(args.config), tmp),
                (
                    f"random (untrained) model of {Path(args.config).name}, saved and loaded here: "
                    "timings are real, the audio is not (pass --ckpt for a trained model)"
                ),
            )
        else:
            ckpt, model_note = ckpt_path, f"checkpoint {ckpt_path}"
        print(f"model: {model_note}", flush=True)
        t0 = time.perf_counter()
        acc = Accompanist.from_checkpoint(ckpt, args.device)
        load_s = time.perf_counter() - t0
        vocoder, vocoder_note = None, "not used"
        if any(st.decoder.startswith("voc") for st in settings):
            vocoder = (
                newest("vocoder-demo-*/checkpoints/last.ckpt") if args.vocoder == "auto" else None
            )
            if args.vocoder not in ("auto", "random"):
                vocoder = Path(args.vocoder)
            elif vocoder is not None and not fits(vocoder, acc.codec):
                vocoder = None  # auto: the newest demo vocoder decodes another codec
            vocoder_note = f"checkpoint {vocoder}"
            if vocoder is None:
                vocoder = random_vocoder(acc.cfg.codec, tmp)
                vocoder_note = "random (untrained) vocoder of experiments/vocoder/demo.yaml"
        codec = acc.codec
        audio_s = codec.num_samples(args.frames) / codec.sample_rate
        cfg_scale = acc.sampling_plan(cfg=args.cfg).cfg
        vocal = write_vocal(tmp / "vocal.wav", audio_s, args.vocal_sr)
        rows: list[dict[str, Any]] = []
        for threads in args.threads:
            ceiling = matmul_gflops(threads)
            torch.set_num_threads(threads)
            for setting in settings:
                sacc = accompanist_for(acc, setting, vocoder, args.device)
                flops = guided_call_flops(sacc, cfg_scale)
                r = run_setting(sacc, vocal, tmp / "out.wav", setting, args)
                res, st = r["res"], r["stages"]
                calls = len(res.plan.starts) * res.settings["steps"]
                achieved = flops * calls / st["sample"] / 1e9
                row: dict[str, Any] = {
                    "threads": threads,
                    "setting": setting.label,
                    "sampler": res.settings["sampler"],
                    "steps": res.settings["steps"],
                    "spacing": resolve_spacing(res.settings["sampler"], res.settings["spacing"]),
                    "window": sacc.window,
                    "windows": len(res.plan.starts),
                    "calls": calls,
                    "decoder": setting.decoder,
                }
                row |= {f"{s}_s": st.get(s, 0.0) for s in ("read", "encode", "sample", "decode")}
                row |= {"write_s": st.get("write", 0.0), "total_s": r["total"]}
                row |= {f"rtf_{s}": st.get(s, 0.0) / audio_s for s in st}
                row |= {"rtf_total": r["total"] / audio_s, "net_gflops": achieved}
                row |= {"gflop_per_call": flops / 1e9}
                row |= {"matmul_gflops": ceiling, "pct_of_ceiling": 100 * achieved / ceiling}
                rows.append(row)
                print(
                    f"threads {threads} {setting.label}: total "
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
        "window": f"checkpoint default {acc.window} frames; overlap window // 4",
        "vocoder": vocoder_note,
        "recommended": RECOMMENDED,
        "guidance": cfg_scale,
        "checkpoint_load_s": round(load_s, 3),
        "timing": f"median of {args.repeats} runs after {args.warmup} warm-up run(s) per setting",
        "device": str(acc.device),
        "matmul_ceiling": f"fp32 {MATMUL_N}x{MATMUL_N} torch.mm, median of 5, per thread count",
    }
    print(write_results("generate_e2e", rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
