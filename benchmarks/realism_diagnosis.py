"""Where does a trained model lose realism? Its samples against its own codec round trip on a few
held-out demo songs, with the realism metrics (samuel_pl/metrics/realism.py), for: guidance
scale, sampler steps, EMA vs raw weights; the per-channel level of the generated normalised
latent against the real accompaniment's (the upper channels: where the level above 2 kHz lives),
its frame-to-frame change (mean |z_t - z_t-1|, z-score units) and the RMS level of the audio
against the real accompaniment's.

Writes ``results/realism_diagnosis.{json,md}`` and spectrogram pictures of every setting under
``--pictures`` (vocal / each setting / round trip / real, one colour scale).

    python benchmarks/realism_diagnosis.py --ckpt runs/demo-long-clean-*/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402

SETTINGS = {  # name -> (cfg, steps, weights)
    "cfg1 10 steps ema": (1.0, 10, "ema"),
    "cfg2 10 steps ema": (2.0, 10, "ema"),
    "cfg4 10 steps ema": (4.0, 10, "ema"),
    "cfg2 30 steps ema": (2.0, 30, "ema"),
    "cfg2 10 steps raw": (2.0, 10, "raw"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--root", default="data/demo")
    ap.add_argument("--demo-songs", type=int, default=160)
    ap.add_argument("--songs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pictures", default="/tmp/realism_diagnosis")
    args = ap.parse_args()

    import torch

    from samuel_pl.baselines.codec import CodecRoundTrip
    from samuel_pl.config.schema import DataConfig
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips
    from samuel_pl.diffusion import CFGDenoiser
    from samuel_pl.generation import Accompanist
    from samuel_pl.metrics.realism import REALISM_KEYS, realism_scores
    from samuel_pl.plots import mel_spectrograms

    sr = 22050
    data = DataConfig(source="demo", root=args.root, demo_songs=args.demo_songs)
    suite = SuiteConfig(data=data, split="test", clip_seconds=args.seconds, max_songs=args.songs)
    vocals, refs = load_clips(suite)
    acc = Accompanist.from_checkpoint(args.ckpt, device="cpu", vocoder="none")
    mod = acc.module
    trip = CodecRoundTrip(refs, acc.codec)
    scores: dict[str, dict[str, list[float]]] = {}
    channels: dict[str, list[np.ndarray]] = {}
    jumps: dict[str, list[float]] = {}
    levels: dict[str, list[float]] = {}

    def rms_db(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))

    for song, v in vocals.items():
        ref = refs[song]
        signals: dict[str, np.ndarray] = {"vocal": v}
        real_z = mod.normalize(acc.codec.encode(torch.from_numpy(ref)[None], sr))[0].numpy()
        channels.setdefault("real", []).append(real_z.mean(axis=1))
        jumps.setdefault("real", []).append(float(np.abs(np.diff(real_z, axis=1)).mean()))
        for name, (cfg, steps, weights) in SETTINGS.items():
            net = mod.ema.module if weights == "ema" else mod.model
            acc._guided = lambda c, net=net: lambda cond: CFGDenoiser(net, cond, c)  # type: ignore[method-assign]
            g = acc.generate(v, sr, sampler="dpmpp", steps=steps, cfg=cfg, return_latent=True)
            signals[name] = g.audio[:, : ref.shape[1]]
            channels.setdefault(name, []).append(g.latent.mean(axis=1))
            jumps.setdefault(name, []).append(float(np.abs(np.diff(g.latent, axis=1)).mean()))
            levels.setdefault(name, []).append(rms_db(g.audio) - rms_db(ref))
            s = realism_scores(g.audio[0, : ref.shape[1]], ref[0], sr)
            for k in REALISM_KEYS:
                scores.setdefault(name, {}).setdefault(k, []).append(s[k])
        signals["codec round trip"] = trip.generate(v, sr, song)
        levels.setdefault("codec round trip", []).append(
            rms_db(signals["codec round trip"]) - rms_db(ref)
        )
        s = realism_scores(signals["codec round trip"][0], ref[0], sr)
        for k in REALISM_KEYS:
            scores.setdefault("codec round trip", {}).setdefault(k, []).append(s[k])
        signals["real"] = ref
        mel_spectrograms(signals, sr, Path(args.pictures) / f"{song}.png", song, dpi=72)
        print(song, file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = []
    n = next(iter(channels.values()))[0].shape[0]
    top = slice(n - n // 4, n)  # the top quarter of the latent channels
    real_top = np.mean([c[top].mean() for c in channels["real"]])
    for name, vals in scores.items():
        row: dict[str, Any] = {"audio": name}
        row |= {k: f"{np.nanmean(v):.3g}" for k, v in vals.items() if k != "hf_share"}
        if name in channels:
            gen_top = np.mean([c[top].mean() for c in channels[name]])
            row["top-quarter latent mean (z) minus real"] = f"{gen_top - real_top:+.2f}"
            row["frame-to-frame mean abs dz"] = f"{np.mean(jumps[name]):.2f}"
        row["RMS level vs real (dB)"] = f"{np.mean(levels[name]):+.1f}"
        rows.append(row)
    stats = mod.latent_std.numpy()
    write_results(
        "realism_diagnosis",
        rows,
        {
            "checkpoint": args.ckpt,
            "songs": f"{len(vocals)} test songs of the {args.demo_songs}-song render, "
            f"{args.seconds:g} s clips; DPM++ sampler, Griffin-Lim 32 decoding",
            "latent_std (natural-log magnitude units per z unit), lowest / top quarter": (
                f"{stats[: n // 4].mean():.3g} / {stats[top].mean():.3g}"
            ),
            "real top-quarter mean (z)": f"{real_top:.2f}",
            "real frame-to-frame mean abs dz": f"{np.mean(jumps['real']):.2f}",
            "per-channel mean z, real vs cfg2 10 ema (every 8th channel)": [
                (
                    int(i),
                    round(float(np.mean([c[i] for c in channels["real"]])), 2),
                    round(float(np.mean([c[i] for c in channels["cfg2 10 steps ema"]])), 2),
                )
                for i in range(0, n, 8)
            ],  # fmt: skip
        },
    )


if __name__ == "__main__":
    main()
