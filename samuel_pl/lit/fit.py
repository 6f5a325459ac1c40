"""Training orchestration: run folder, resume, MLflow, callbacks, Trainer, summary.json.

Distributed runs (``trainer.strategy=ddp|fsdp``): every rank runs :func:`fit`; only global rank
zero creates the run folder, writes config.yaml / mlflow_run.json / summary.json and creates the
MLflow run. Processes that Lightning launches itself find rank zero's run folder (and resume
checkpoint) in ``SAMUEL_RUN_DIR`` / ``SAMUEL_RESUME_CKPT``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from samuel_pl.audio import ensure_writable_dir, write_bytes_atomic
from samuel_pl.codecs import build_codec
from samuel_pl.config import ConfigError, FitConfig, to_dict, to_yaml
from samuel_pl.data.datamodule import SamuelDataModule
from samuel_pl.lit.callbacks import AudioSamples, MetricHistory
from samuel_pl.lit.checkpoint_io import AtomicCheckpointIO, remove_stale_temps
from samuel_pl.lit.diffusion_module import LitSamuel
from samuel_pl.lit.guard import NonFiniteGuard, PeriodicLast
from samuel_pl.plots import curves
from samuel_pl.tracking import git_commit, log_artifact, make_logger, read_run_id, write_run_id
from samuel_pl.tracking.mlflow_utils import normalise_uri, resolve_tracking_uri

# Expected, and noise for users: the EMA copy is always in eval mode; Lightning's pytree shim.
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


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


RUN_DIR_ENV = "SAMUEL_RUN_DIR"
RESUME_ENV = "SAMUEL_RESUME_CKPT"
_RANK_KEYS = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


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


def compile_model(module: LitSamuel) -> None:
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


class _Normalization(Callback):
    """Puts the train split's latent statistics into the module on every rank (before DDP)."""

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        pl_module.set_normalization(*trainer.datamodule.stats)  # type: ignore[attr-defined]


def _check(cfg: FitConfig, codec: Any) -> None:
    if cfg.trainer.nonfinite not in ("stop", "skip"):
        raise ConfigError(f"trainer.nonfinite={cfg.trainer.nonfinite!r}: use stop or skip")
    if cfg.model.in_channels != codec.latent_channels:
        raise ConfigError(
            f"model.in_channels={cfg.model.in_channels} but the {cfg.codec.type} codec makes "
            f"{codec.latent_channels}-channel latents; set model.in_channels="
            f"{codec.latent_channels}"
        )
    stride = 2 ** (len(cfg.model.channels) - 1)
    if cfg.data.crop_frames % stride:
        raise ConfigError(
            f"data.crop_frames={cfg.data.crop_frames} must be a multiple of {stride} "
            f"(2 ** (len(model.channels) - 1))"
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_bytes_atomic(path, json.dumps(data, indent=2, default=str).encode("utf-8"))


def fit(cfg: FitConfig) -> dict[str, Any]:
    """Train SAMUeL as configured; return the run summary (also written to summary.json)."""
    if cfg.task == "vae":  # the audio VAE codec (experiments/vae/*.yaml)
        from samuel_pl.lit.fit_vae import fit_vae

        return fit_vae(cfg)
    if cfg.task != "diffusion":
        raise ConfigError(f"task={cfg.task!r}: use diffusion or vae")
    t0 = time.time()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    codec = build_codec(cfg.codec)
    _check(cfg, codec)
    rank_zero = is_rank_zero()
    run_dir, ckpt_path = shared_run(cfg, rank_zero)
    dm = SamuelDataModule(cfg)
    module = LitSamuel(to_dict(cfg))
    if cfg.trainer.compile:
        compile_model(module)

    logger: Any = False
    tracking = cfg.tracking.enabled and not cfg.trainer.fast_dev_run
    uri = normalise_uri(cfg.tracking.uri) if tracking else ""
    if rank_zero:
        ensure_writable_dir(run_dir, "run folder")
        if tracking:  # before any work: an unreachable server fails (or falls back) now
            uri = resolve_tracking_uri(cfg.tracking.uri, cfg.tracking.fallback, run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_temps(run_dir / "checkpoints"):
            print(f"removed {stale.name} (a checkpoint save cut short by a killed run)")
        write_bytes_atomic(run_dir / "config.yaml", to_yaml(cfg).encode("utf-8"))
        # Render/encode once here; other ranks load the cache in the Trainer's setup hook.
        dm.prepare_data()
        dm.setup("fit")
        module.set_normalization(*dm.stats)
    if tracking:
        if rank_zero:
            run_id = read_run_id(run_dir, uri) if ckpt_path else None
            tags = {
                "git_commit": git_commit(),
                "codec_id": codec.codec_id,
                "dataset_fingerprint": dm.cache.manifest.get("fingerprint", ""),
                "run_dir": str(run_dir.resolve()),
            }
            logger = make_logger(uri, cfg.tracking.experiment, run_dir.name, run_id, tags, run_dir)
            write_run_id(run_dir, logger.run_id, uri, logger.name)
        else:
            # Lightning's MLFlowLogger is rank-zero guarded: this one never creates a run.
            logger = make_logger(cfg.tracking.uri, cfg.tracking.experiment, run_dir.name)

    history = MetricHistory()
    sharded = cfg.trainer.strategy == "fsdp"
    if sharded and cfg.callbacks.num_sample_songs and rank_zero:
        # Rank-zero sampling would need every rank's shard; generate from last.ckpt instead.
        print("note: strategy=fsdp: audio samples during training are off (use generate)")
    samples = AudioSamples(
        codec,
        run_dir,
        every_n_epochs=cfg.callbacks.samples_every_n_epochs,
        num_songs=0 if sharded else cfg.callbacks.num_sample_songs,
        frames=cfg.callbacks.sample_frames,
        seed=cfg.seed,
    )
    ckpt_cb = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="step{step:06d}",
        auto_insert_metric_name=False,
        save_last=True,
        save_top_k=1,
        monitor="val/loss",
        enable_version_counter=False,  # last.ckpt is one file, whoever writes it
    )
    ckpt_dir = run_dir / "checkpoints"
    callbacks = [_Normalization(), ckpt_cb, history, samples, NonFiniteGuard(ckpt_dir)]
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
        strategy=build_strategy(t.strategy),
        num_nodes=t.num_nodes,
        log_every_n_steps=t.log_every_n_steps,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        limit_val_batches=t.limit_val_batches,
        accumulate_grad_batches=t.accumulate_grad_batches,
        gradient_clip_val=cfg.optim.grad_clip or None,
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
    shared = {RUN_DIR_ENV: str(run_dir.resolve()), RESUME_ENV: ckpt_path or ""}
    saved = {k: os.environ.get(k) for k in shared}
    if rank_zero and trainer.world_size > 1:
        os.environ.update(shared)  # inherited by the processes Lightning launches
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return _finish(cfg, trainer, logger, run_dir, history, samples, t0)


def _finish(
    cfg: FitConfig,
    trainer: pl.Trainer,
    logger: Any,
    run_dir: Path,
    history: MetricHistory,
    samples: AudioSamples,
    t0: float,
) -> dict[str, Any]:
    if not trainer.is_global_zero:
        return {}
    last = run_dir / "checkpoints" / "last.ckpt"
    wall = time.time() - t0
    steps_run = max(0, trainer.global_step - history.start_step)
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "global_step": trainer.global_step,
        "steps_this_session": steps_run,
        "epochs": trainer.current_epoch,
        "first_train_loss": history.train[0][1] if history.train else None,
        "last_train_loss": history.train[-1][1] if history.train else None,
        "first_val_loss": history.val[0][1] if history.val else None,
        "last_val_loss": history.val[-1][1] if history.val else None,
        "val_loss_history": history.val,
        "train_loss_history": history.train[:: max(1, len(history.train) // 2000)],  # thinned
        "nonfinite_skipped": int(getattr(trainer.lightning_module, "nonfinite_skipped", 0)),
        "checkpoint": str(last) if last.is_file() else None,
        "samples": [str(p) for p in samples.last_files],
        "wall_time_s": round(wall, 1),
        "world_size": trainer.world_size,
        "train_samples_per_s": round(
            steps_run * cfg.data.batch_size * trainer.world_size / max(wall, 1e-9), 2
        ),
        "mlflow_run_id": getattr(logger, "run_id", None) if logger else None,
        "mlflow_uri": getattr(logger, "uri", None) if logger else None,
    }
    if logger:
        uri = summary["mlflow_uri"]
        summary["mlflow_ui"] = f"mlflow ui --backend-store-uri {uri}"
        plot = curves(
            {"train/loss": history.train, "val/loss": history.val},
            run_dir / "plots" / "loss.png",
            "v-MSE",
        )
        log_artifact(logger, plot, "plots")
        if cfg.tracking.log_checkpoints and last.is_file():
            log_artifact(logger, last, "checkpoints")
    if logger and logger.tracking_error:
        summary["tracking_error"] = logger.tracking_error
    _write_json(run_dir / "summary.json", summary)
    if logger:
        log_artifact(logger, run_dir / "summary.json")
        log_artifact(logger, run_dir / "config.yaml")
        if logger.tracking_error:  # reported at the end; the training itself completed
            summary["tracking_error"] = logger.tracking_error
            _write_json(run_dir / "summary.json", summary)
            print(f"warning: MLflow logging failed during the run ({logger.tracking_error})")
    return summary
