"""The run summary of a training job (summary.json) and the loss history it is built from.

One builder for both jobs: the keys every run has (steps, losses, checkpoint, speed, MLflow run),
plus the job's own keys (``extra``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from samuel_pl.config import FitConfig
from samuel_pl.files import write_json
from samuel_pl.plots import curves
from samuel_pl.tracking import log_artifact
from samuel_pl.tracking.mlflow_logger import run_url


class MetricHistory(pl.Callback):
    """Keeps (step, value) of train/val losses for the run summary and plots."""

    def __init__(self) -> None:
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, float]] = []
        self.start_step = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.start_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
        v = trainer.callback_metrics.get("train/loss")
        if v is not None:
            self.train.append((trainer.global_step, float(v)))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        v = trainer.callback_metrics.get("val/loss")
        if v is not None:
            self.val.append((trainer.global_step, float(v)))


def build_summary(
    trainer: pl.Trainer,
    logger: Any,
    run_dir: Path,
    history: MetricHistory,
    samples: list[Path],
    t0: float,
    samples_seen: int,
    **extra: Any,
) -> dict[str, Any]:
    """The summary keys every job writes, then ``extra`` (job-specific keys, in their order).

    Args:
        samples: audio files the job's sample callback wrote last.
        t0: ``time.time()`` when the job started (wall time and throughput).
        samples_seen: training examples processed this session (all ranks), for
            ``train_samples_per_s``.
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    wall = time.time() - t0
    module = trainer.lightning_module
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "global_step": trainer.global_step,
        "epochs": trainer.current_epoch,
        "interrupted": bool(getattr(trainer, "interrupted", False)),  # Ctrl-C / SIGTERM in fit
        "first_train_loss": history.train[0][1] if history.train else None,
        "last_train_loss": history.train[-1][1] if history.train else None,
        "first_val_loss": history.val[0][1] if history.val else None,
        "last_val_loss": history.val[-1][1] if history.val else None,
        "val_loss_history": history.val,
        "nonfinite_skipped": int(getattr(module, "nonfinite_skipped", 0)),
        "checkpoint": str(last) if last.is_file() else None,
        "samples": [str(p) for p in samples],
        "wall_time_s": round(wall, 1),
        "world_size": trainer.world_size,
        "train_samples_per_s": round(samples_seen / max(wall, 1e-9), 2),
        "mlflow_run_id": getattr(logger, "run_id", None) if logger else None,
        "mlflow_uri": getattr(logger, "uri", None) if logger else None,
    }
    summary.update(extra)
    return summary


def finish_run(
    cfg: FitConfig,
    logger: Any,
    run_dir: Path,
    summary: dict[str, Any],
    history: MetricHistory,
    loss_label: str,
) -> dict[str, Any]:
    """Loss plot, checkpoint and summary.json to MLflow; summary.json written atomically.

    A tracking failure during the run is reported at the end (the training itself completed).
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    if logger:
        exp_id, run_id = getattr(logger, "_experiment_id", None), getattr(logger, "_run_id", None)
        if exp_id and run_id:  # (known without asking the server, which may be gone)
            url, command = run_url(str(summary.get("mlflow_uri")), exp_id, run_id)
            summary["mlflow_url"], summary["mlflow_ui"] = url, command
        plot = curves(
            {"train/loss": history.train, "val/loss": history.val},
            run_dir / "plots" / "loss.png",
            loss_label,
        )
        log_artifact(logger, plot, "plots")
        if cfg.tracking.log_checkpoints and last.is_file():
            log_artifact(logger, last, "checkpoints")
    write_json(run_dir / "summary.json", summary, indent=2, default=str)
    if logger:
        log_artifact(logger, run_dir / "summary.json")
        log_artifact(logger, run_dir / "config.yaml")
        if logger.tracking_error:
            summary["tracking_error"] = logger.tracking_error
            write_json(run_dir / "summary.json", summary, indent=2, default=str)
            print(f"warning: MLflow logging failed during the run ({logger.tracking_error})")
    return summary
