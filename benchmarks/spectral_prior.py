"""Does the temporal spectral prior (samuel_pl/diffusion/spectral_prior.py) remove the frame-rate
noise the denoiser leaks? A checkpoint's samples on held-out demo songs with and without it:

- ``leak``: from a noised *real* latent (t = 100, 200, 400), the x0 error power over the input
  noise's in the top half of the temporal frequencies (the oracle S/(S+N) beside it);
- per variant and guidance scale: the samples' jump (mean |z_t - z_(t-1)|, real ~0.06), the
  realism metrics, RMS level vs real, the harmony metrics paired per song against the variant
  ``none`` (mean difference, 95% bootstrap interval over songs), and FD-mel over all clips;
- spectrogram pictures per song (vocal / each variant / real, the samples scaled to the real
  accompaniment's RMS so the one colour scale shows their shape) under ``--pictures``.

Variants: ``none`` | ``blend`` | ``shrink``, optionally ``@MAX`` (filter only where
sigma / alpha <= MAX). The spectrum comes from the checkpoint's latent cache (train split,
accompaniment, training-length crops). Writes ``results/<--name>.{json,md}``.

    python benchmarks/spectral_prior.py --ckpt runs/demo-long-clean-*/checkpoints/last.ckpt \
        --songs 3 --seconds 10 --cfg 1 4
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

HARMONY = ("consonance_share", "consonance_gain")


def parse_variant(text: str) -> tuple[str, float | None]:
    """``blend@1`` -> ("blend", 1.0); ``none`` -> ("none", None)."""
    mode, _, cap = text.partition("@")
    return mode, (float(cap) if cap else None)


def interval(d: np.ndarray, n_boot: int = 2000) -> str:
    """Mean of d with its 95% bootstrap interval over its entries."""
    boots = np.random.default_rng(0).choice(d, (n_boot, len(d))).mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--root", default="data/demo")
    ap.add_argument("--demo-songs", type=int, default=160)
    ap.add_argument("--songs", type=int, default=3, help="0: every test song")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--cfg", type=float, nargs="+", default=[1.0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--variants", nargs="+", default=["none", "blend", "shrink", "blend@1"])
    ap.add_argument("--pictures", default="/tmp/spectral_prior")
    ap.add_argument("--name", default="spectral_prior")
    ap.add_argument("--no-fd", action="store_true", help="skip FD-mel (meaningless on 3 songs)")
    args = ap.parse_args()

    import torch

    from samuel_pl.config.schema import DataConfig
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.cache_build import ensure_cache
    from samuel_pl.data.clips import load_clips
    from samuel_pl.data.spectrum import cache_spectrum
    from samuel_pl.diffusion import CFGDenoiser
    from samuel_pl.diffusion.solver_base import x0_hat
    from samuel_pl.diffusion.spectral_prior import SpectralPriorDenoiser
    from samuel_pl.generation import Accompanist
    from samuel_pl.metrics.harmony import analyse_vocal, harmonic_fit
    from samuel_pl.metrics.realism import REALISM_KEYS, realism_scores
    from samuel_pl.plots import mel_spectrograms

    sr = 22050
    data = DataConfig(source="demo", root=args.root, demo_songs=args.demo_songs)
    suite = SuiteConfig(data=data, split="test", clip_seconds=args.seconds, max_songs=args.songs)
    vocals, refs = load_clips(suite)
    acc = Accompanist.from_checkpoint(args.ckpt, device="cpu", vocoder="none")
    mod, sch = acc.module, acc.module.schedule
    net = mod.ema.module
    spectrum = cache_spectrum(ensure_cache(mod.cfg), mod.cfg.data.crop_frames)  # (C, F)
    variants = {v: parse_variant(v) for v in args.variants}

    def wrap(fn: Any, variant: str) -> Any:
        mode, cap = variants[variant]
        return fn if mode == "none" else SpectralPriorDenoiser(fn, sch, spectrum, mode, cap)

    def jump(z: np.ndarray | torch.Tensor) -> float:
        return float(np.abs(np.diff(np.asarray(z), axis=-1)).mean())

    leak: dict[str, list[float]] = {}
    per: dict[str, dict[str, list[float]]] = {}
    clips: dict[str, list[np.ndarray]] = {}
    for song, v in vocals.items():
        ref = refs[song]
        cond = mod.normalize(acc.codec.encode(torch.from_numpy(v)[None], sr))
        real = mod.normalize(acc.codec.encode(torch.from_numpy(ref)[None], sr))
        fr = real.shape[-1] - real.shape[-1] % 8
        cond, real = cond[..., :fr], real[..., :fr]
        per.setdefault("real", {}).setdefault("jump", []).append(jump(real))
        for t0 in (100.0, 200.0, 400.0):
            a = sch.alpha_bar(torch.tensor([t0], dtype=torch.float64)).float()
            noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(5))
            x_t = a.sqrt() * real + (1 - a).sqrt() * noise
            npow = torch.fft.rfft(noise * ((1 - a) / a).sqrt(), dim=-1).abs().pow(2).mean((0, 1))
            spow = torch.fft.rfft(real - real.mean(-1, keepdim=True), dim=-1)
            top = slice(len(npow) // 2, len(npow))
            snr = float(spow.abs().pow(2).mean((0, 1))[top].mean() / npow[top].mean())
            leak.setdefault(f"oracle t={t0:.0f}", []).append(snr / (1 + snr))
            for name in variants:
                x0 = x0_hat(wrap(CFGDenoiser(net, cond, 1.0), name), x_t, t0, sch)
                err = torch.fft.rfft(x0 - real, dim=-1).abs().pow(2).mean((0, 1))
                ratio = float(err[top].mean() / npow[top].mean())
                leak.setdefault(f"{name} t={t0:.0f}", []).append(ratio)
        signals: dict[str, np.ndarray] = {"vocal": v}
        va = analyse_vocal(v.mean(axis=0), sr)
        for cfg in args.cfg:
            for name in variants:
                row = f"{name} cfg{cfg:g}"
                acc._guided = lambda c, name=name: lambda w: wrap(CFGDenoiser(net, w, c), name)  # type: ignore[method-assign]
                g = acc.generate(
                    v, sr, sampler="dpmpp", steps=args.steps, cfg=cfg, return_latent=True
                )
                y = g.audio[:, : ref.shape[1]]
                level = np.sqrt(np.mean(ref**2) / max(np.mean(y**2), 1e-20))
                signals[row] = y * level  # pictures at the real level: the table has the level
                clips.setdefault(row, []).append(y)
                s = per.setdefault(row, {})
                s.setdefault("jump", []).append(jump(g.latent))
                rms = 10 * np.log10(np.mean(np.square(y, dtype=np.float64)) / np.mean(ref**2))
                s.setdefault("rms_vs_real_db", []).append(float(rms))
                for k, val in realism_scores(y[0], ref[0], sr).items():
                    if k in REALISM_KEYS:
                        s.setdefault(k, []).append(val)
                n = min(v.shape[-1], y.shape[-1])
                fit = harmonic_fit(v.mean(axis=0)[:n], y[0, :n], sr, va)
                for k in HARMONY:
                    s.setdefault(k, []).append(float(fit[k]))
        signals["real"] = ref
        mel_spectrograms(signals, sr, Path(args.pictures) / f"{song}.png", song, dpi=72)
        now = {k: round(float(np.mean(x)), 3) for k, x in leak.items()}
        print(song, now, file=sys.stderr, flush=True)
    fd: dict[str, float] = {}
    fd_ci: dict[str, tuple[float, float]] = {}
    if not args.no_fd:
        from samuel_pl.metrics.embedders import build_embedder
        from samuel_pl.metrics.fad import FrechetAudioDistance

        emb = build_embedder("mel")
        for row, ys in clips.items():
            metric = FrechetAudioDistance(emb, sr, n_boot=200)
            metric.update(list(ys), [refs[s] for s in vocals])
            fd[row] = float(metric.compute()["fd_mel"])
            fd_ci[row] = metric.intervals()["fd_mel"]
    rows: list[dict[str, Any]] = []
    for row, s in per.items():
        out: dict[str, Any] = {"samples": row}
        out |= {k: round(float(np.nanmean(x)), 3) for k, x in s.items()}
        if row in fd:
            out["fd_mel"] = f"{fd[row]:.0f} [{fd_ci[row][0]:.0f}, {fd_ci[row][1]:.0f}]"
        base = row.replace(row.split(" ")[0], "none", 1)
        if row != base and base in per:
            for k in HARMONY:
                out[f"{k} vs none"] = interval(np.asarray(s[k]) - np.asarray(per[base][k]))
        rows.append(out)
    meta = {
        "checkpoint": args.ckpt,
        "songs": f"{len(vocals)} test songs, {args.seconds:g} s clips, DPM++ {args.steps}, GL 32",
        "top-half leak (x0 error / input noise power; oracle S/(S+N))": {
            k: round(float(np.mean(x)), 3) for k, x in leak.items()
        },
        "spectrum (mean over channels): low 1/8, top half": [
            round(float(spectrum[:, 1 : spectrum.shape[1] // 8].mean()), 4),
            round(float(spectrum[:, spectrum.shape[1] // 2 :].mean()), 5),
        ],
    }
    print(write_results(args.name, rows, meta))


if __name__ == "__main__":
    main()
