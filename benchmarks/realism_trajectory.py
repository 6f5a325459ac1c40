"""Where does the samples' frame-to-frame roughness enter? Probes a trained model on a few
held-out demo songs (normalised latents, z units; "jump" = mean |z_t - z_(t-1)| over frames):

- ``trajectory``: one DPM++ 10-step sample, the jump of x_t and of the x0 prediction at every
  model call;
- ``leak``: how much of the input noise the one-step x0 prediction from a noised *real* latent
  passes through, per band of temporal frequency (power of the x0 error over the power of the
  noise in x0 units; a denoiser that knew the real spectrum would pass S/(S+N) of it), at
  t = 100, 200, 400;
- ``samplers``: the final jump of DPM++ at 2-20 steps, DDIM, DDIM eta 1 and ancestral 800;
- ``checkpoints``: the top-half leak at t = 200 and the DPM++ 10 jump for each ``--ckpt``.

Writes ``results/realism_trajectory.{json,md}``.

    python benchmarks/realism_trajectory.py --ckpt runs/demo-long-clean-*/checkpoints/last.ckpt
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

SAMPLER_RUNS = [  # (name, sampler, steps, eta)
    *[(f"dpmpp {n}", "dpmpp", n, None) for n in (2, 3, 5, 10, 20)],
    ("ddim 10", "ddim", 10, None),
    ("ddim eta 1, 100", "ddim", 100, 1.0),
    ("ancestral 800", "ancestral", 800, None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", nargs="+", required=True, help="the first one gets every probe")
    ap.add_argument("--root", default="data/demo")
    ap.add_argument("--demo-songs", type=int, default=160)
    ap.add_argument("--songs", type=int, default=2)
    ap.add_argument("--frames", type=int, default=256)
    args = ap.parse_args()

    import torch

    from samuel_pl.config.schema import DataConfig
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips
    from samuel_pl.diffusion import CFGDenoiser
    from samuel_pl.diffusion.samplers import get_sampler
    from samuel_pl.diffusion.solver_base import x0_hat
    from samuel_pl.generation import Accompanist

    sr, fr = 22050, args.frames
    data = DataConfig(source="demo", root=args.root, demo_songs=args.demo_songs)
    seconds = fr * 512 / sr + 0.5
    suite = SuiteConfig(data=data, split="test", clip_seconds=seconds, max_songs=args.songs)
    vocals, refs = load_clips(suite)

    def jump(z: torch.Tensor) -> float:
        return float((z[..., 1:] - z[..., :-1]).abs().mean())

    rows: list[dict[str, Any]] = []
    meta: dict[str, Any] = {"songs": f"{len(vocals)} test songs, {fr} frames, guidance 1"}
    for ci, ckpt in enumerate(args.ckpt):
        acc = Accompanist.from_checkpoint(ckpt, device="cpu", vocoder="none")
        mod, sch = acc.module, acc.module.schedule
        net = mod.ema.module
        acc_rows: dict[str, list[float]] = {}
        traj: dict[int, list[tuple[float, float, float]]] = {}
        for song, v in vocals.items():
            enc = acc.codec.encode
            cond = mod.normalize(enc(torch.from_numpy(v)[None], sr))[..., :fr]
            real = mod.normalize(enc(torch.from_numpy(refs[song])[None], sr))[..., :fr]
            acc_rows.setdefault("real", []).append(jump(real))
            fn = CFGDenoiser(net, cond, 1.0)
            for t0 in (100.0, 200.0, 400.0):
                a = sch.alpha_bar(torch.tensor([t0], dtype=torch.float64)).float()
                noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(5))
                x0 = x0_hat(fn, a.sqrt() * real + (1 - a).sqrt() * noise, t0, sch)
                err = torch.fft.rfft(x0 - real, dim=-1).abs().pow(2).mean((0, 1))
                n_x0 = noise * ((1 - a) / a).sqrt()
                npow = torch.fft.rfft(n_x0, dim=-1).abs().pow(2).mean((0, 1))
                spow = torch.fft.rfft(real - real.mean(-1, keepdim=True), dim=-1)
                spow = spow.abs().pow(2).mean((0, 1))
                nb = len(err)
                bands = {"low 1/8": slice(1, nb // 8), "top half": slice(nb // 2, nb)}
                for bname, s in bands.items():
                    snr = float(spow[s].mean() / npow[s].mean())
                    acc_rows.setdefault(f"leak t={t0:.0f} {bname}", []).append(
                        float(err[s].mean() / npow[s].mean())
                    )
                    acc_rows.setdefault(f"oracle t={t0:.0f} {bname}", []).append(snr / (1 + snr))
            runs = SAMPLER_RUNS if ci == 0 else SAMPLER_RUNS[3:4]
            for name, sampler, steps, eta in runs:
                spec = get_sampler(sampler)
                calls: list[tuple[float, float, float]] = []

                def logged(
                    x: torch.Tensor,
                    t: torch.Tensor,
                    calls: list = calls,
                    fn: Any = fn,
                    sch: Any = sch,
                ) -> torch.Tensor:
                    out = fn(x, t)
                    a = sch.alpha_bar(t[:1].double()).float()
                    calls.append((float(t[0]), jump(x), jump(a.sqrt() * x - (1 - a).sqrt() * out)))
                    return out

                g = torch.Generator().manual_seed(0)
                x_T = torch.randn(cond.shape, generator=g)
                kw = {"eta": eta} if eta is not None else {}
                z = spec(logged, x_T, sch, spec.timesteps(sch, steps, "auto"), generator=g, **kw)
                acc_rows.setdefault(f"sample {name}", []).append(jump(z))
                if name == "dpmpp 10":
                    for i, c in enumerate(calls):
                        traj.setdefault(i, []).append(c)
        row: dict[str, Any] = {"checkpoint": ckpt}
        row |= {k: round(sum(v) / len(v), 3) for k, v in acc_rows.items()}
        rows.append(row)
        if ci == 0:
            meta["dpmpp 10 trajectory (t, jump x_t, jump x0_hat), first checkpoint"] = [
                tuple(round(sum(c[j] for c in cs) / len(cs), 3) for j in range(3))
                for _, cs in sorted(traj.items())
            ]
        print(ckpt, file=sys.stderr, flush=True)
    write_results("realism_trajectory", rows, meta)


if __name__ == "__main__":
    main()
