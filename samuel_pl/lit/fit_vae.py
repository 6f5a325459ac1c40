"""Training job of the audio VAE (``task: vae``): run folder, MLflow, Trainer, summary.json.

The same run-folder, resume (``resume=auto``) and tracking conventions as the diffusion job
(:mod:`samuel_pl.lit.fit`); the summary names the checkpoint to use as ``codec.type=vae``.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from samuel_pl.audio import ensure_writable_dir, write_bytes_atomic
from samuel_pl.config import FitConfig, to_dict, to_yaml
from samuel_pl.data.audio_crops import AudioDataModule
from samuel_pl.lit.callbacks import MetricHistory
from samuel_pl.lit.checkpoint_io import AtomicCheckpointIO, remove_stale_temps
from samuel_pl.lit.fit import is_rank_zero, shared_run
from samuel_pl.lit.guard import NonFiniteGuard, PeriodicLast
from samuel_pl.lit.vae import LitAudioVAE, check_vae_config
from samuel_pl.lit.vae_callbacks import VAEReconstructions
from samuel_pl.plots import curves
from samuel_pl.tracking import git_commit, log_artifact, make_logger, read_run_id, write_run_id
from samuel_pl.tracking.mlflow_utils import normalise_uri, resolve_tracking_uri


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_bytes_atomic(path, json.dumps(data, indent=2, default=str).encode("utf-8"))


def fit_vae(cfg: FitConfig) -> dict[str, Any]:
    """Train the audio VAE as configured; return the run summary (also in summary.json)."""
    t0 = time.time()
    check_vae_config(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    rank_zero = is_rank_zero()
    run_dir, ckpt_path = shared_run(cfg, rank_zero)
    module = LitAudioVAE(to_dict(cfg))
    dm = AudioDataModule(cfg, module.segment)
    tracking = cfg.tracking.enabled and not cfg.trainer.fast_dev_run
    logger: Any = False
    uri = normalise_uri(cfg.tracking.uri) if tracking else ""
    if rank_zero:
        ensure_writable_dir(run_dir, "run folder")
        if tracking:  # before any work: an unreachable server fails (or falls back) now
            uri = resolve_tracking_uri(cfg.tracking.uri, cfg.tracking.fallback, run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_temps(run_dir / "checkpoints"):
            print(f"removed {stale.name} (a checkpoint save cut short by a killed run)")
        write_bytes_atomic(run_dir / "config.yaml", to_yaml(cfg).encode("utf-8"))
        dm.prepare_data()
    if tracking:
        if rank_zero:
            run_id = read_run_id(run_dir, uri) if ckpt_path else None
            tags = {
                "git_commit": git_commit(),
                "task": "vae",
                "dataset_fingerprint": dm.manifest.get("fingerprint", ""),
                "run_dir": str(run_dir.resolve()),
            }
            logger = make_logger(uri, cfg.tracking.experiment, run_dir.name, run_id, tags, run_dir)
            write_run_id(run_dir, logger.run_id, uri, logger.name)
        else:
            logger = make_logger(uri, cfg.tracking.experiment, run_dir.name)
    history = MetricHistory()
    examples = VAEReconstructions(
        run_dir,
        every_n_epochs=cfg.callbacks.samples_every_n_epochs,
        num_tracks=cfg.callbacks.num_sample_songs,
        seconds=cfg.vae.sample_seconds,
    )
    ckpt_dir = run_dir / "checkpoints"
    ckpt_cb = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="step{step:06d}",
        auto_insert_metric_name=False,
        save_last=True,
        save_top_k=1,
        monitor="val/mrstft",  # validation-driven, like the diffusion job
        enable_version_counter=False,  # last.ckpt is one file, whoever writes it
    )
    callbacks: list[pl.Callback] = [ckpt_cb, history, examples, NonFiniteGuard(ckpt_dir)]
    if cfg.callbacks.checkpoint_every_n_steps > 0:  # mid-epoch last.ckpt (crash safety)
        callbacks.append(PeriodicLast(ckpt_dir, cfg.callbacks.checkpoint_every_n_steps))
    t = cfg.trainer
    trainer = pl.Trainer(
        max_steps=t.max_steps,
        max_epochs=t.max_epochs if t.max_steps < 0 else -1,
        max_time=timedelta(seconds=t.max_time_s) if t.max_time_s > 0 else None,
        precision=t.precision,  # type: ignore[arg-type]
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
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
        plugins=[AtomicCheckpointIO()],
        reload_dataloaders_every_n_epochs=1,
        num_sanity_val_steps=0,
    )
    if ckpt_path and rank_zero:
        print(f"resuming from {ckpt_path}")
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    if not trainer.is_global_zero:
        return {}
    last = run_dir / "checkpoints" / "last.ckpt"
    if not t.fast_dev_run and not trainer.interrupted:
        # max_time may stop mid-epoch, after the last validation's checkpoint: keep the end state.
        trainer.save_checkpoint(last, weights_only=False)
    return _finish(cfg, trainer, logger, run_dir, history, examples, ckpt_cb, t0)


def _finish(
    cfg: FitConfig,
    trainer: pl.Trainer,
    logger: Any,
    run_dir: Path,
    history: MetricHistory,
    examples: VAEReconstructions,
    ckpt_cb: ModelCheckpoint,
    t0: float,
) -> dict[str, Any]:
    last = run_dir / "checkpoints" / "last.ckpt"
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    module = trainer.lightning_module
    summary: dict[str, Any] = {
        "task": "vae",
        "run_dir": str(run_dir),
        "global_step": trainer.global_step,
        "batches": int(getattr(module, "batches_seen", 0)),
        "epochs": trainer.current_epoch,
        "first_train_loss": history.train[0][1] if history.train else None,
        "last_train_loss": history.train[-1][1] if history.train else None,
        "first_val_loss": history.val[0][1] if history.val else None,
        "last_val_loss": history.val[-1][1] if history.val else None,
        "val_loss_history": history.val,
        "val_metrics": metrics,
        "checkpoint": str(last) if last.is_file() else None,
        "best_checkpoint": ckpt_cb.best_model_path or None,
        "codec_overrides": f"codec.type=vae codec.path={last.resolve()}"
        if last.is_file()
        else None,
        "samples": [str(p) for p in examples.last_files],
        "wall_time_s": round(time.time() - t0, 1),
        "train_samples_per_s": round(
            int(getattr(module, "batches_seen", 0)) * cfg.data.batch_size / (time.time() - t0), 2
        ),
        "world_size": trainer.world_size,
        "nonfinite_skipped": int(getattr(module, "nonfinite_skipped", 0)),
        "mlflow_run_id": getattr(logger, "run_id", None) if logger else None,
        "mlflow_uri": getattr(logger, "uri", None) if logger else None,
    }
    if logger:
        summary["mlflow_ui"] = f"mlflow ui --backend-store-uri {summary['mlflow_uri']}"
        plot = curves(
            {"train/loss": history.train, "val/loss": history.val},
            run_dir / "plots" / "loss.png",
            "MR-STFT + KL",
        )
        log_artifact(logger, plot, "plots")
        if cfg.tracking.log_checkpoints and last.is_file():
            log_artifact(logger, last, "checkpoints")
    _write_json(run_dir / "summary.json", summary)
    if logger:
        log_artifact(logger, run_dir / "summary.json")
        log_artifact(logger, run_dir / "config.yaml")
    return summary
