"""The Lightning Trainer of a training job: strategy, checkpoint callbacks, step progress bar."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from samuel_pl.config import FitConfig
from samuel_pl.training.checkpoint_io import AtomicCheckpointIO
from samuel_pl.training.nan_guard import NonFiniteGuard, PeriodicLast
from samuel_pl.training.progress import step_progress_bar


def compile_model(module: Any) -> None:
    """``torch.compile`` the online denoiser in place (``nn.Module.compile``: same state_dict
    keys, so checkpoints and the EMA copy are unchanged)."""
    module.model.compile()


def build_strategy(name: str) -> Any:
    """Lightning strategy for ``trainer.strategy``. ``fsdp`` wraps each U-Net (online and EMA)
    as its own unit with original parameters kept, so the frozen EMA copy is sharded exactly
    like the trained one and the EMA update stays element-wise on each rank's shard."""
    if name != "fsdp":
        return name
    from lightning.pytorch.strategies import FSDPStrategy

    from samuel_pl.nn import SamuelUNet

    return FSDPStrategy(auto_wrap_policy={SamuelUNet}, use_orig_params=True)


def checkpoint_callbacks(cfg: FitConfig, run_dir: Path, monitor: str) -> list[pl.Callback]:
    """Best-by-``monitor`` and last.ckpt, the non-finite guard and the periodic last.ckpt.

    The first element is the :class:`ModelCheckpoint`."""
    ckpt_dir = run_dir / "checkpoints"
    ckpt_cb = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="step{step:06d}",
        auto_insert_metric_name=False,
        save_last=True,
        save_top_k=1,
        monitor=monitor,
        enable_version_counter=False,  # last.ckpt is one file, whoever writes it
    )
    out: list[pl.Callback] = [ckpt_cb, NonFiniteGuard(ckpt_dir)]
    if cfg.callbacks.checkpoint_every_n_steps > 0:  # mid-epoch last.ckpt (crash safety)
        out.append(PeriodicLast(ckpt_dir, cfg.callbacks.checkpoint_every_n_steps))
    return out


def build_trainer(
    cfg: FitConfig,
    run_dir: Path,
    logger: Any,
    callbacks: list[pl.Callback],
    strategy: Any,
    **extra: Any,
) -> pl.Trainer:
    """The Lightning Trainer for ``cfg.trainer`` (``extra``: job-specific Trainer arguments)."""
    t = cfg.trainer
    if t.enable_progress_bar and t.max_steps > 0 and not t.fast_dev_run:
        callbacks = [*callbacks, step_progress_bar()]  # "step 37/200", not "Epoch 1/-2"
    return pl.Trainer(
        max_steps=t.max_steps,
        max_epochs=t.max_epochs if t.max_steps < 0 else -1,
        max_time=timedelta(seconds=t.max_time_s) if t.max_time_s > 0 else None,
        precision=t.precision,  # type: ignore[arg-type]
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=strategy,
        num_nodes=t.num_nodes,
        log_every_n_steps=t.log_every_n_steps,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        limit_val_batches=t.limit_val_batches,
        deterministic=t.deterministic,
        enable_progress_bar=t.enable_progress_bar,
        fast_dev_run=t.fast_dev_run,
        logger=logger,
        callbacks=callbacks,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO(cfg.task)],
        reload_dataloaders_every_n_epochs=1,
        num_sanity_val_steps=0,
        **extra,
    )
