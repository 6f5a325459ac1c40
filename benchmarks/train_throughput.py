"""Paper-config training throughput (samples/s) through Lightning, 32-true vs bf16-mixed.

Each precision runs in a fresh process: LitSamuel (paper config, 15.6M parameters) is trained on
random latent batches (B = 8, T = 1024, 64 channels) by a real ``lightning.Trainer``; the first
steps are warm-up, the rest are timed by a callback.

    python benchmarks/train_throughput.py [--steps N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO_ROOT, run_case, write_results  # noqa: E402

BATCH, T, C = 8, 1024, 64


def _case(precision: str, steps: int, warmup: int) -> dict:
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, Dataset

    from samuel_pl.config import load_config, to_dict
    from samuel_pl.lit import LitSamuel
    from samuel_pl.training import resolve_in_channels

    torch.manual_seed(0)

    class Random(Dataset):
        def __len__(self) -> int:
            return BATCH * (steps + warmup)

        def __getitem__(self, i: int) -> dict:
            g = torch.Generator().manual_seed(i)
            return {
                "vocals": torch.randn(C, T, generator=g),
                "accompaniment": torch.randn(C, T, generator=g),
            }

    class Timer(pl.Callback):
        def __init__(self) -> None:
            self.t0 = 0.0
            self.timed = 0

        def on_train_batch_start(self, trainer, *args) -> None:  # type: ignore[no-untyped-def]
            if trainer.global_step == warmup:
                self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, *args) -> None:  # type: ignore[no-untyped-def]
            if trainer.global_step > warmup:
                self.timed = trainer.global_step - warmup

    cfg = load_config(REPO_ROOT / "experiments" / "paper.yaml")
    module = LitSamuel(to_dict(resolve_in_channels(cfg)))
    timer = Timer()
    trainer = pl.Trainer(
        max_steps=steps + warmup,
        precision=precision,  # type: ignore[arg-type]
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[timer],
        gradient_clip_val=1.0,
    )
    trainer.fit(module, DataLoader(Random(), batch_size=BATCH))
    seconds = time.perf_counter() - timer.t0
    return {
        "precision": precision,
        "device": str(module.device),
        "batch": BATCH,
        "T": T,
        "timed_steps": timer.timed,
        "s_per_step": round(seconds / max(1, timer.timed), 3),
        "samples_per_s": round(BATCH * timer.timed / seconds, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--case", nargs="*")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="3 timed steps")
    args = p.parse_args()
    if args.case is not None:
        precision, steps, warmup = args.case[0], int(args.case[1]), int(args.case[2])
        print(json.dumps(_case(precision, steps, warmup)))
        return
    steps = 3 if args.quick else args.steps
    rows = []
    for precision in ("32-true", "bf16-mixed"):
        rows.append(
            {"precision": precision}
            | run_case(Path(__file__), [precision, str(steps), str(args.warmup)])
        )
    base = rows[0].get("samples_per_s")
    for r in rows:
        if base and r.get("samples_per_s"):
            r["speed_vs_32_true"] = round(r["samples_per_s"] / base, 2)
    write_results(
        "train_throughput",
        rows,
        {
            "model": "LitSamuel, experiments/paper.yaml (15.6M-parameter U-Net + EMA update)",
            "data": f"random latents, B={BATCH}, T={T}, {C} channels (no I/O)",
            "method": f"lightning.Trainer, {args.warmup} warm-up steps then {steps} timed steps, "
            "fresh process per precision; includes AdamW, grad clipping and the EMA update",
            "note": "CPUs without native bf16 emulate it: bf16-mixed is slower there, not faster",
        },
    )


if __name__ == "__main__":
    main()
