"""Generate an accompaniment for a vocal file, or for every audio file in a folder.

VOCALS may be a folder: OUT (and MIX) are then folders with one WAV per input (same stem), and
inputs whose outputs already exist are skipped. Any format, rate and channel count soundfile
reads; the output is at the codec's sample rate with the input's duration. Sampler settings
default to the checkpoint's cfg.sampling. Prints the real-time factor at the end.

An output is never written over an input or another output (symlinks included), and an
existing file is only replaced with --overwrite.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

from samuel_pl.audio import DecodeLimits
from samuel_pl.diffusion import (
    SAMPLERS,
    SPACING_CHOICES,
    guidance_allowed,
    resolve_spacing,
    steps_allowed,
)
from samuel_pl.errors import SamuelError
from samuel_pl.files import ensure_writable_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="LitSamuel checkpoint (e.g. last.ckpt)")
    parser.add_argument("--vocals", required=True, help="vocal audio file or folder of files")
    parser.add_argument("--out", required=True, help="accompaniment file (or folder)")
    parser.add_argument("--mix", default=None, help="also write vocals + accompaniment here")
    parser.add_argument(
        "--sampler", choices=sorted(SAMPLERS), default=None, help="default: the checkpoint's"
    )
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (NFE per window)")
    parser.add_argument("--cfg", type=float, default=None, help="classifier-free guidance scale")
    parser.add_argument(
        "--spacing",
        choices=SPACING_CHOICES,
        default=None,
        help="step grid of the fast samplers; auto: each sampler's best (log_snr for dpmpp, "
        "uniform for ddim, dpmpp3m, unipc; default: the checkpoint's sampling.spacing)",
    )
    parser.add_argument(
        "--spectral-prior",
        choices=("none", "blend", "shrink"),
        default=None,
        help="filter each x0 prediction by the training latents' temporal spectrum (removes "
        "the frame-rate speckle; default: the checkpoint's sampling.spectral_prior)",
    )
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu) | cpu | cuda | mps"
    )
    parser.add_argument("--window", type=int, default=None, help="frames per window")
    parser.add_argument("--overlap", type=int, default=None, help="frames shared by windows")
    parser.add_argument("--crossfade", type=int, default=None, help="blended overlap frames")
    parser.add_argument(
        "--vocoder",
        default=None,
        help="task: vocoder checkpoint (or export) the mel codec decodes with instead of "
        "Griffin-Lim (none: Griffin-Lim; auto: the shipped vocoder where it fits the codec; "
        "default: the checkpoint's codec.vocoder)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3600.0,
        help="longest vocal accepted, in seconds (default 3600)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def check_arguments(args: argparse.Namespace) -> None:
    """SamuelError for a flag value that cannot work, before the model is loaded."""
    checks = [
        (
            args.steps is None or not steps_allowed(args.steps),
            f"--steps must be {steps_allowed(args.steps)}, got {args.steps}",
        ),
        (
            args.cfg is None or not guidance_allowed(args.cfg),
            f"--cfg must be {guidance_allowed(args.cfg)}, got {args.cfg}",
        ),
        (args.window is None or args.window >= 1, f"--window must be >= 1, got {args.window}"),
        (args.overlap is None or args.overlap >= 0, f"--overlap must be >= 0, got {args.overlap}"),
        (
            args.crossfade is None or args.crossfade >= 0,
            f"--crossfade must be >= 0, got {args.crossfade}",
        ),
        (0 <= args.seed < 2**63, f"--seed must be in [0, 2**63), got {args.seed}"),
        (
            math.isfinite(args.max_seconds) and args.max_seconds > 0,
            f"--max-seconds must be a positive number, got {args.max_seconds}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise SamuelError(message)
    if args.window is not None and args.overlap is not None and args.overlap >= args.window:
        raise SamuelError(f"--overlap ({args.overlap}) must be smaller than --window")


def run(args: argparse.Namespace) -> int:
    from samuel_pl.generation import Accompanist, plan_batch, resolve_device
    from samuel_pl.generation.batch import pending

    check_arguments(args)
    resolve_device(args.device)  # an unknown or unavailable device fails now
    jobs = plan_batch(args.vocals, args.out, args.mix)
    batch = Path(args.vocals).is_dir()
    todo = pending(jobs, batch, args.overwrite)
    if batch and len(todo) < len(jobs):
        print(f"skipping {len(jobs) - len(todo)} of {len(jobs)} inputs (outputs exist)")
    if not todo:
        print("nothing to do")
        return 0
    # Fail now, not after loading the model and sampling: unwritable output folders.
    for folder in sorted({j.out.parent for j in todo} | {j.mix.parent for j in todo if j.mix}):
        ensure_writable_dir(folder)
    acc = Accompanist.from_checkpoint(
        args.ckpt,
        args.device,
        window=args.window,
        overlap=args.overlap,
        crossfade=args.crossfade,
        vocoder=args.vocoder,
    )
    plan = acc.sampling_plan(  # checked once
        args.sampler, args.steps, args.cfg, args.spacing, args.spectral_prior
    )
    if getattr(acc.codec, "decoder_note", "") and not args.quiet:
        print(f"decoder: {acc.codec.decoder_note}")
    limits = DecodeLimits(max_seconds=args.max_seconds, hint="raise it with --max-seconds")
    gen_s = audio_s = 0.0
    failed: list[str] = []
    for job in todo:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = acc.generate_file(
                    job.vocals,
                    job.out,
                    job.mix,
                    plan=plan,
                    seed=args.seed,
                    progress=not args.quiet,
                    limits=limits,
                )
            except SamuelError as exc:
                if not batch:
                    raise
                failed.append(str(exc).splitlines()[0])
                sys.stderr.write(f"error: {failed[-1]}\n")
                continue
        for w in caught:
            if issubclass(w.category, UserWarning):
                sys.stderr.write(f"warning: {job.vocals}: {w.message}\n")
        seconds = res.audio.shape[-1] / res.sample_rate
        gen_s, audio_s = gen_s + res.seconds, audio_s + seconds
        s = res.settings
        print(
            f"wrote {job.out} ({seconds:.2f} s, {len(res.plan.starts)} window(s), "
            f"{s['sampler']}-{s['steps']} {resolve_spacing(s['sampler'], s['spacing'])} "
            f"cfg {s['cfg']:g})" + (f" and {job.mix}" if job.mix else "")
        )
    if audio_s > 0:
        print(
            f"real-time factor {gen_s / audio_s:.3f} ({gen_s:.1f} s for {audio_s:.1f} s of audio "
            f"on {acc.device.type})"
        )
    if failed:
        return _fail(f"{len(failed)} of {len(todo)} inputs failed; first: {failed[0]}")
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 2
