"""One-run GPU check of the paper configuration: training throughput, memory, sampler speed.

On a CUDA machine: trains LitSamuel (experiments/paper.yaml model, 15.6M parameters) on random
latents (B = 32, T = 1024, 64 channels) through a real ``lightning.Trainer`` for a fixed number
of steps in bf16-mixed and 32-true, and once more in bf16-mixed under the DDP strategy (world
size 1 on one card: the wrapper, the NCCL process group and the gradient all-reduce hooks), then
generates one batch with each sampler (dpmpp-25, ddim-50, ancestral-800, all with
classifier-free guidance) and reports samples/s, peak memory (``torch.cuda.max_memory_allocated``)
and the generation real-time factor (seconds of compute per second of audio; T = 1024 latent
frames are a 47.55 s clip at the Stable Audio VAE rate). ``--compile-modes`` adds dpmpp-25 rows
with the sampling network under ``torch.compile`` (``reduce-overhead`` = CUDA graphs); the
first call (compilation included) and the second are timed apart. Each phase that fails is a
row with its error, and the results are rewritten after every row, so a run cut short keeps
what it measured. Results go to ``benchmarks/results/gpu_check.{json,md}`` with the card's
name. Without CUDA it says so and exits 0 without writing results.

    python benchmarks/gpu_check.py [--steps 20] [--gen-batch 8] [--compile]
        [--no-ddp] [--compile-modes default reduce-overhead]
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO_ROOT, write_results  # noqa: E402

BATCH, T, C = 32, 1024, 64
CLIP_S = 47.55  # T = 1024 latent frames at 44100 / 2048 Hz
SAMPLERS = [("dpmpp", 25), ("ddim", 50), ("ancestral", 800)]
NO_CUDA = "gpu_check: no CUDA device is available (torch.cuda.is_available() is False); "


def _train(
    module: Any, precision: str, steps: int, warmup: int, strategy: str = "auto"
) -> dict[str, Any]:
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, Dataset

    pool = torch.randn(4 * BATCH, 2, C, T, generator=torch.Generator().manual_seed(0))

    class RandomLatents(Dataset):
        def __len__(self) -> int:
            return BATCH * (steps + warmup)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            x = pool[i % len(pool)]
            return {"vocals": x[0], "accompaniment": x[1]}

    class Timer(pl.Callback):
        t0 = 0.0
        t1 = 0.0

        def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
            if trainer.global_step == warmup:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                self.t0 = time.perf_counter()

        def on_train_end(self, trainer: pl.Trainer, *args: Any) -> None:
            torch.cuda.synchronize()
            self.t1 = time.perf_counter()

    timer = Timer()
    trainer = pl.Trainer(
        max_steps=steps + warmup,
        precision=precision,  # type: ignore[arg-type]
        accelerator="cuda",
        devices=1,
        strategy=strategy,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[timer],
        gradient_clip_val=1.0,
    )
    loader = DataLoader(RandomLatents(), batch_size=BATCH, num_workers=2, pin_memory=True)
    trainer.fit(module, loader)
    seconds = timer.t1 - timer.t0
    return {
        "phase": "train" if strategy == "auto" else f"train-{strategy}",
        "precision": precision,
        "world_size": trainer.world_size,
        "batch": BATCH,
        "steps": steps,
        "seconds": round(seconds, 3),
        "samples_per_s": round(steps * BATCH / seconds, 2),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
    }


def _generate(
    module: Any,
    precision: str,
    batch: int,
    cfg: float,
    samplers: list[tuple[str, int]] = SAMPLERS,
    label: str = "",
) -> list[dict[str, Any]]:
    import torch

    rows = []
    module.cuda().eval()
    vocals = torch.randn(batch, C, T, generator=torch.Generator().manual_seed(1)).cuda()
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    for name, steps in samplers:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            z = module.sample(
                vocals, sampler=name, steps=steps, cfg=cfg, generator=torch.Generator()
            )
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "phase": f"{name}-{steps}{label}",
                "precision": precision,
                "batch": batch,
                "steps": steps,
                "seconds": round(seconds, 3),
                "samples_per_s": round(batch / seconds, 3),
                "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
                "rtf": round(seconds / (batch * CLIP_S), 5),
                "finite": bool(torch.isfinite(z).all()),
            }
        )
        print(rows[-1], flush=True)
    return rows


def _compiled(module: Any, mode: str, batch: int, cfg: float) -> list[dict[str, Any]]:
    """dpmpp-25 in bf16 with the sampling network compiled: first call, then second call."""
    module.cuda().eval()
    module.ema.module.compile(mode=mode)
    first = _generate(module, "bf16-mixed", batch, cfg, [("dpmpp", 25)], f" compile={mode} 1st")
    return first + _generate(module, "bf16-mixed", batch, cfg, [("dpmpp", 25)], f" compile={mode}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20, help="timed training steps per precision")
    p.add_argument("--warmup", type=int, default=5, help="untimed training steps first")
    p.add_argument("--gen-batch", type=int, default=8, help="clips generated per sampler")
    p.add_argument("--cfg", type=float, default=2.5, help="classifier-free guidance scale")
    p.add_argument("--precisions", nargs="+", default=["bf16-mixed", "32-true"])
    p.add_argument("--compile", action="store_true", help="torch.compile the training network")
    p.add_argument("--no-ddp", action="store_true", help="skip the DDP training row")
    p.add_argument(
        "--compile-modes",
        nargs="*",
        default=["reduce-overhead"],
        help="torch.compile modes for compiled dpmpp-25 sampling rows (none: skip)",
    )
    args = p.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(NO_CUDA + "run this on a GPU machine; nothing measured, no results written.")
        return 0
    from samuel_pl.config import load_config, to_dict
    from samuel_pl.lit import LitSamuel
    from samuel_pl.training import resolve_in_channels

    name = torch.cuda.get_device_name()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    print(f"gpu_check on {name}", flush=True)
    t_start = time.perf_counter()
    cfg = load_config(REPO_ROOT / "experiments" / "paper.yaml")
    module0 = LitSamuel(to_dict(resolve_in_channels(cfg)))
    params = sum(p.numel() for p in module0.model.parameters())
    rows: list[dict[str, Any]] = []

    def record(phase: str, precision: str, work: Any) -> None:
        """Run one phase; a failure becomes a row with its error. Results rewritten each time."""
        try:
            rows.extend(work())
        except Exception as exc:  # noqa: BLE001 - a failed phase is a result, not a crash
            rows.append({"phase": phase, "precision": precision, "error": repr(exc)[:300]})
            print(rows[-1], flush=True)
        torch.cuda.empty_cache()
        meta = {
            "device": name,
            "cuda": torch.version.cuda,
            "params": params,
            "latents": f"random, B={BATCH} (train), T={T}, C={C}",
            "clip_s": CLIP_S,
            "compile": args.compile,
            "total_s": round(time.perf_counter() - t_start, 1),
        }
        path = write_results("gpu_check", [{"device": name, **r} for r in rows], meta)
        print(f"wrote {path} ({meta['total_s']} s)", flush=True)

    def fresh() -> Any:
        torch.manual_seed(0)
        module = LitSamuel(to_dict(resolve_in_channels(cfg)))
        if args.compile:
            module.model.compile()
        return module

    def train_then_sample(precision: str, strategy: str) -> list[dict[str, Any]]:
        module = fresh()
        out = [_train(module, precision, args.steps, args.warmup, strategy)]
        print(out[-1], flush=True)
        if strategy == "auto":
            out += _generate(module, precision, args.gen_batch, args.cfg)
        return out

    for precision in args.precisions:
        record("train", precision, partial(train_then_sample, precision, "auto"))
    if not args.no_ddp:
        record("train-ddp", "bf16-mixed", partial(train_then_sample, "bf16-mixed", "ddp"))
    for mode in args.compile_modes:
        record(
            f"compile={mode}",
            "bf16-mixed",
            partial(_compiled, fresh(), mode, args.gen_batch, args.cfg),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
