"""Codec reconstruction quality on the demo test songs: MR-STFT distance and SI-SDR, mel vs VAE.

Every stem (vocals, accompaniment) of every song of a split is encoded and decoded whole by
each codec and scored against the original at the config's ``data.sample_rate`` / channels
(``samuel_pl.codecs.quality``). Writes ``results/codec_quality.{json,md}``.

    python benchmarks/codec_quality.py --vae-ckpt runs/vae-demo-*/checkpoints/last.ckpt
    python benchmarks/codec_quality.py --config experiments/demo.yaml --split test \\
        --vae-ckpt CKPT [--stable-audio DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402


def _codecs(args: argparse.Namespace, cfg: Any) -> dict[str, Any]:
    from samuel_pl.codecs import build_codec
    from samuel_pl.config import CodecConfig

    griffin_lim = dataclasses.replace(cfg.codec, vocoder="none")  # not the shipped vocoder
    out = {
        f"mel ({cfg.codec.n_mels} bins, Griffin-Lim {cfg.codec.griffin_lim_iters})": build_codec(
            griffin_lim
        )
    }
    if args.vae_ckpt:
        out["vae (demo VAE)"] = build_codec(CodecConfig(type="vae", path=args.vae_ckpt))
    if args.stable_audio:
        out["stable_audio"] = build_codec(CodecConfig(type="stable_audio", path=args.stable_audio))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(HERE.parent / "experiments" / "demo.yaml"))
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument(
        "--vae-ckpt",
        default="auto",
        help="checkpoint of a task: vae run (auto: the newest runs/vae-demo-*/checkpoints/"
        "last.ckpt; without one nothing is written)",
    )
    p.add_argument("--stable-audio", default="", help="Stable Audio Open weights folder")
    p.add_argument("--name", default="codec_quality", help="results/<name>.{json,md}")
    p.add_argument("overrides", nargs="*", help="config key=value overrides")
    args = p.parse_args()
    if args.vae_ckpt == "auto":
        found = sorted(
            (HERE.parent / "runs").glob("vae-demo-*/checkpoints/last.ckpt"),
            key=lambda f: f.stat().st_mtime,
        )
        if not found:
            hint = "python -m samuel_pl.fit --config experiments/vae/demo.yaml"
            print(f"no runs/vae-demo-*/checkpoints/last.ckpt: train one with `{hint}`; no output")
            return
        args.vae_ckpt = str(found[-1])

    import torch

    from samuel_pl.codecs.quality import reconstruction_metrics
    from samuel_pl.config import load_config
    from samuel_pl.data import prepare_source

    torch.set_num_threads(min(2, torch.get_num_threads()))
    cfg = load_config(args.config, args.overrides)
    d = cfg.data
    source = prepare_source(d)
    songs = source.songs(args.split)
    codecs = _codecs(args, cfg)
    rows: list[dict[str, Any]] = []
    for song in songs:
        vocals, accomp = source.load_pair(song, d.sample_rate, d.channels)
        for stem, audio in (("vocals", vocals), ("accompaniment", accomp)):
            for name, codec in codecs.items():
                m = reconstruction_metrics(codec, audio, d.sample_rate)
                rows.append({"codec": name, "song": song.song_id, "stem": stem, **m})
                print(f"{name:40s} {song.song_id:12s} {stem:14s} mrstft={m['mrstft']:.3f} "
                      f"si_sdr={m['si_sdr_db']:.2f} dB", flush=True)  # fmt: skip
    summary = []
    for name, codec in codecs.items():
        mine = [r for r in rows if r["codec"] == name]
        summary.append(
            {
                "codec": name,
                "codec_id": codec.codec_id,
                "latent": f"{codec.latent_channels} x {codec.frame_rate:.2f}/s",
                "items": len(mine),
                "seconds": round(sum(r["seconds"] for r in mine), 1),
                "mrstft_mean": statistics.fmean(r["mrstft"] for r in mine),
                "si_sdr_db_mean": statistics.fmean(r["si_sdr_db"] for r in mine),
            }
        )
    table = [*summary, *({k: v for k, v in r.items() if k != "latent_shape"} for r in rows)]
    meta = {
        "config": args.config,
        "split": args.split,
        "songs": [s.song_id for s in songs],
        "sample_rate": d.sample_rate,
        "channels": d.channels,
        "vae_ckpt": args.vae_ckpt,
        "metrics": "MR-STFT distance = auraloss MultiResolutionSTFTLoss defaults (FFT 1024/2048/"
        "512, hop 120/240/50, win 600/1200/240; SC + log-magnitude L1), lower is better; "
        "SI-SDR (torchmetrics, zero_mean=False), higher is better; whole stems",
        "summary_rows": "the first rows are per-codec means over every (song, stem)",
    }
    path = write_results(args.name, table, meta)
    print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
