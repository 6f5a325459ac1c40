"""Does a trained denoiser listen to the vocal's pitch? Validation v-MSE of the EMA network with
the true vocal latent against the same crops with the vocal transposed (+1, +6 semitones: a
channel shift of a log-frequency latent), another song's vocal and no vocal (the CFG null
condition), per noise level. A model that follows the vocal's harmony loses accuracy when its
vocal is transposed; one that only follows its rhythm and loudness does not.

Writes ``results/vocal_sensitivity.{json,md}``. Transposition rows need ``codec.scale=log``.

    python benchmarks/vocal_sensitivity.py --ckpt runs/demo-long-*/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402

from samuel_pl.diffusion.objective import training_loss  # noqa: E402

BUCKETS = 4  # noise levels: t at the centres of 4 equal slices of the training steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--ckpt",
        default="auto",
        help="SAMUeL checkpoint (auto: the newest runs/demo-long-*/checkpoints/last.ckpt; "
        "without one nothing is written)",
    )
    ap.add_argument("--batches", type=int, default=6, help="validation batches to score")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.ckpt == "auto":
        runs = HERE.parent / "runs"
        found = sorted(
            runs.glob("demo-long-*/checkpoints/last.ckpt"), key=lambda f: f.stat().st_mtime
        )
        if not found:
            hint = "python -m samuel_pl.fit --config experiments/demo_long.yaml"
            print(f"no runs/demo-long-*/checkpoints/last.ckpt: train one with `{hint}`; no output")
            return
        args.ckpt = str(found[-1])

    from samuel_pl.codecs.mel import LOG_FLOOR
    from samuel_pl.data.datamodule import SamuelDataModule, shift_channels
    from samuel_pl.lit import LitSamuel

    lit = LitSamuel.from_checkpoint(args.ckpt).eval()
    dm = SamuelDataModule(lit.cfg)
    dm.prepare_data()
    dm.setup("fit")
    net, sched = lit.ema.module, lit.schedule
    log_codec = lit.cfg.codec.type == "mel" and lit.cfg.codec.scale == "log"
    step, fill = lit.cfg.codec.bins_per_octave // 12, float(np.log(LOG_FLOOR))

    def condition(kind: str, c: torch.Tensor) -> torch.Tensor:
        if kind == "another song's vocal":
            return c.roll(1, 0)
        if kind.startswith("vocal +"):
            raw = lit.denormalize(c).numpy()  # (B, C, T)
            semitones = int(kind.split("+")[1].split()[0])
            return lit.normalize(torch.from_numpy(shift_channels(raw, semitones * step, fill)))
        return c

    kinds = ["true vocal", "another song's vocal", "no vocal (null)"]
    kinds += ["vocal +1 semitone", "vocal +6 semitones"] if log_codec else []
    mse = {k: [[] for _ in range(BUCKETS)] for k in kinds}
    gen = torch.Generator().manual_seed(args.seed)
    with torch.inference_mode():
        for bi, batch in enumerate(dm.val_dataloader()):
            if bi >= args.batches:
                break
            x0, c = batch["accompaniment"], batch["vocals"]
            b = x0.shape[0]
            for q in range(BUCKETS):
                t = torch.full((b,), (q + 0.5) * sched.train_steps / BUCKETS).floor()
                noise = torch.randn(x0.shape, generator=gen)
                for k in kinds:
                    drop = torch.full((b,), k == "no vocal (null)")
                    out = training_loss(
                        net, x0, condition(k, c), sched, t=t, noise=noise, drop=drop
                    )
                    mse[k][q].append(out.per_sample)
    rows = []
    for k in kinds:
        row: dict[str, object] = {"condition": k}
        for q in range(BUCKETS):
            lo, hi = q / BUCKETS, (q + 1) / BUCKETS
            row[f"v-MSE t/T {lo:.2f}-{hi:.2f}"] = round(float(torch.cat(mse[k][q]).mean()), 4)
        rows.append(row)
    write_results(
        "vocal_sensitivity",
        rows,
        {"ckpt": args.ckpt, "crops": sum(len(x) for x in mse[kinds[0]][0])},
    )
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
