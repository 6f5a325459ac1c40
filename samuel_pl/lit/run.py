"""Run folder, resume, MLflow logger, Trainer and summary shared by every training job.

Both jobs (diffusion: :mod:`samuel_pl.lit.fit`, audio VAE: :mod:`samuel_pl.lit.fit_vae`) follow
the same conventions: ``runs/<name>-<timestamp>/`` with config.yaml, checkpoints/ (atomic
writes, stale temporaries removed), mlflow_run.json and summary.json; ``resume=auto`` continues
the newest run of the same name in the same MLflow run; only global rank zero writes files.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from samuel_pl.config import ConfigError, FitConfig, to_yaml
from samuel_pl.files import ensure_writable_dir, write_json, write_text
from samuel_pl.lit.callbacks import MetricHistory
from samuel_pl.lit.checkpoint_io import AtomicCheckpointIO, remove_stale_temps
from samuel_pl.lit.guard import NonFiniteGuard, PeriodicLast
from samuel_pl.lit.progress import step_progress_bar
from samuel_pl.plots import curves
from samuel_pl.tracking import git_commit, log_artifact, make_logger, read_run_id, write_run_id
from samuel_pl.tracking.mlflow_utils import resolve_tracking_uri, run_url

RUN_DIR_ENV = "SAMUEL_RUN_DIR"
RESUME_ENV = "SAMUEL_RESUME_CKPT"
_RANK_KEYS = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


def _latest_run_dir(name: str, root: Path = Path("runs")) -> Path | None:
    candidates = sorted(
        (p for p in root.glob(f"{name}-*") if (p / "checkpoints" / "last.ckpt").is_file()),
        key=lambda p: (p / "checkpoints" / "last.ckpt").stat().st_mtime,
    )
    return candidates[-1] if candidates else None


def resolve_run(cfg: FitConfig) -> tuple[Path, str | None]:
    """(run folder, checkpoint to resume from or None) for ``run.dir`` and ``resume``."""
    run_dir = Path(cfg.run.dir) if cfg.run.dir else None
    if cfg.resume == "auto":
        if run_dir is None:
            run_dir = _latest_run_dir(cfg.run.name)
        if run_dir is not None and (run_dir / "checkpoints" / "last.ckpt").is_file():
            return run_dir, str(run_dir / "checkpoints" / "last.ckpt")
    elif cfg.resume:
        ckpt = Path(cfg.resume)
        if not ckpt.is_file():
            raise ConfigError(f"resume={cfg.resume}: checkpoint not found")
        return (run_dir or ckpt.resolve().parent.parent), str(ckpt)
    if run_dir is None:
        run_dir = Path("runs") / f"{cfg.run.name}-{datetime.now():%Y%m%d-%H%M%S}"
    return run_dir, None


def is_rank_zero() -> bool:
    """Whether this process is (or will be) global rank zero, from the launcher's environment.

    Works before the Trainer exists: torchrun sets RANK, SLURM's srun SLURM_PROCID, and
    Lightning's own launcher LOCAL_RANK / NODE_RANK on the processes it starts.
    """
    for key in _RANK_KEYS:
        try:
            if int(os.environ.get(key) or 0) != 0:
                return False
        except ValueError:
            continue
    return True


def shared_run(cfg: FitConfig, rank_zero: bool) -> tuple[Path, str | None]:
    """(run folder, resume checkpoint): rank zero resolves them, other ranks reuse its choice."""
    if not rank_zero and os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV]), os.environ.get(RESUME_ENV) or None
    return resolve_run(cfg)


def prepare_run_dir(cfg: FitConfig, run_dir: Path, tracking: bool) -> str:
    """Rank zero, before any work: check the folder is writable, resolve the tracking URI (an
    unreachable server fails or falls back now), drop cut-short checkpoint temporaries and
    write config.yaml. Returns the tracking URI to use ("" when not tracking)."""
    ensure_writable_dir(run_dir, "run folder")
    uri = resolve_tracking_uri(cfg.tracking.uri, cfg.tracking.fallback, run_dir) if tracking else ""
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temps(run_dir / "checkpoints"):
        print(f"removed {stale.name} (a checkpoint save cut short by a killed run)")
    write_text(run_dir / "config.yaml", to_yaml(cfg))
    return uri


def run_logger(
    cfg: FitConfig,
    run_dir: Path,
    uri: str,
    rank_zero: bool,
    resuming: bool,
    tags: dict[str, str],
) -> Any:
    """MLflow logger of the run: rank zero creates (or, resuming, continues) the MLflow run and
    records it in mlflow_run.json; other ranks get Lightning's rank-zero-guarded logger."""
    if not rank_zero:
        return make_logger(uri, cfg.tracking.experiment, run_dir.name)
    run_id = read_run_id(run_dir, uri) if resuming else None
    tags = {"git_commit": git_commit(), "run_dir": str(run_dir.resolve()), **tags}
    logger = make_logger(uri, cfg.tracking.experiment, run_dir.name, run_id, tags, run_dir)
    write_run_id(run_dir, logger.run_id, uri, logger.name)
    return logger


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
