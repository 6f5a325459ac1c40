"""Codec speed: encode / decode real-time factor of 30 s of 44.1 kHz stereo audio on this CPU.

Cases, each in a fresh process (``--case NAME``):

* ``mel``: the demo's weight-free log-mel codec (22.05 kHz mono, 64 bins, hop 512; decode is
  non-negative mel inversion + 48 Fast Griffin-Lim iterations).
* ``vae_demo``: the demo VAE (experiments/vae/demo.yaml: 22.05 kHz mono, hop 512, 64 channels,
  0.72M parameters); trained weights from ``--vae-ckpt`` (default: the newest
  runs/vae-demo-*/checkpoints/last.ckpt), else random weights (same speed).
* ``oobleck``: the full Stable Audio Open 1.0 Oobleck architecture (44.1 kHz stereo, hop 2048,
  64 channels, 156M parameters) with RANDOM weights: speed only; default chunking
  (256-frame windows sharing 64 frames).

``encode`` includes the resampling / channel conversion to the codec's format (as when the latent
cache is built); RTF = compute seconds / audio seconds (below 1 is faster than real time).

    python benchmarks/codecs.py [--seconds 30] [--repeats 3] [--only mel vae_demo oobleck]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import PeakRSS, run_case, write_results  # noqa: E402

CASES = ("mel", "vae_demo", "oobleck")
SR = 44100


def _newest_vae() -> str:
    found = sorted(
        (HERE.parent / "runs").glob("vae-demo-*/checkpoints/last.ckpt"),
        key=lambda f: f.stat().st_mtime,
    )
    return str(found[-1]) if found else ""


def _build(name: str, vae_ckpt: str) -> tuple[Any, str]:
    from samuel_pl.codecs import build_codec
    from samuel_pl.config import CodecConfig, load_config

    if name == "mel":
        # Griffin-Lim, as this row has always measured (not the shipped vocoder)
        cfg = load_config(HERE.parent / "experiments" / "demo.yaml", ["codec.vocoder=none"])
        return build_codec(cfg.codec), "none (weight-free)"
    if name == "vae_demo":
        if vae_ckpt:
            return build_codec(CodecConfig(type="vae", path=vae_ckpt)), f"trained ({vae_ckpt})"
        import dataclasses

        from samuel_pl.codecs.vae_base import PosteriorCodec
        from samuel_pl.nn.oobleck import OobleckConfig, OobleckVAE, remove_weight_norm

        cfg = load_config(HERE.parent / "experiments" / "vae" / "demo.yaml")
        arch = OobleckConfig.from_sizes(dataclasses.asdict(cfg.vae), cfg.data.channels)
        model = remove_weight_norm(OobleckVAE(arch))
        codec = PosteriorCodec(
            model,
            sample_rate=cfg.data.sample_rate,
            audio_channels=arch.audio_channels,
            latent_channels=arch.latent_dim,
            hop_length=arch.hop_length,
        )
        return codec, "random (no demo VAE checkpoint found)"
    from samuel_pl.codecs.stable_audio import StableAudioCodec

    return StableAudioCodec.from_architecture(), "random (architecture only)"


def case(name: str, seconds: float, repeats: int, vae_ckpt: str, threads: int) -> dict[str, Any]:
    """Time encode and decode of ``seconds`` of synthetic 44.1 kHz stereo audio."""
    import torch

    torch.set_num_threads(threads)
    codec, weights = _build(name, vae_ckpt)
    n = int(seconds * SR)
    t = torch.arange(n) / SR
    g = torch.Generator().manual_seed(0)
    audio = 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.05 * torch.randn(2, n, generator=g)
    audio = audio[None].float()  # (1, 2, N)
    enc, dec = [], []
    with PeakRSS() as mem:
        for _ in range(repeats):
            t0 = time.perf_counter()
            z = codec.encode(audio, SR)
            t1 = time.perf_counter()
            y = codec.decode(z)
            dec.append(time.perf_counter() - t1)
            enc.append(t1 - t0)
    params = sum(p.numel() for p in codec.parameters())
    return {
        "codec": name,
        "weights": weights,
        "params_m": round(params / 1e6, 2),
        "codec_format": f"{codec.sample_rate} Hz x{codec.audio_channels}",
        "latent": f"{codec.latent_channels} x {codec.frame_rate:.2f}/s",
        "audio_s": seconds,
        "encode_s": statistics.median(enc),
        "decode_s": statistics.median(dec),
        "encode_rtf": statistics.median(enc) / seconds,
        "decode_rtf": statistics.median(dec) / seconds,
        "peak_mem_mb": round(mem.peak_bytes / 2**20, 1),
        "repeats": repeats,
        "out_samples": int(y.shape[-1]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--repeats", type=int, default=3, help="runs per case (oobleck: 1)")
    p.add_argument("--only", nargs="*", choices=CASES, default=list(CASES))
    p.add_argument("--vae-ckpt", default="auto", help="demo VAE checkpoint (auto: newest run)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--quick", action="store_true", help="5 s of audio, one run")
    args = p.parse_args()
    if args.case is not None:  # child process: name seconds repeats ckpt
        name, seconds, repeats, ckpt, threads = args.case
        print(json.dumps(case(name, float(seconds), int(repeats), ckpt, int(threads))))
        return
    seconds, repeats = (5.0, 1) if args.quick else (args.seconds, args.repeats)
    ckpt = _newest_vae() if args.vae_ckpt == "auto" else args.vae_ckpt
    rows = []
    for name in args.only:
        reps = 1 if name == "oobleck" else repeats
        case_args = [name, str(seconds), str(reps), ckpt, str(args.threads)]
        row = run_case(Path(__file__), case_args, timeout=3600)
        rows.append({"codec": name, **row})
        print(json.dumps(rows[-1]), flush=True)
    meta = {
        "input": f"{seconds:g} s of synthetic 44.1 kHz stereo audio (tone + noise)",
        "time_method": "median over repeats (the oobleck case runs once), fresh process per case",
        "rtf": "compute seconds / audio seconds; encode includes resampling + channel conversion",
        "oobleck": "Stable Audio Open 1.0 architecture with random weights: speed only",
        "memory_method": "peak extra RSS over the timed runs",
        "threads": args.threads,
    }
    write_results("codecs" if not args.quick else "codecs_quick", rows, meta)


if __name__ == "__main__":
    main()
