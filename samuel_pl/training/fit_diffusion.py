"""The latent-diffusion training job: codec, DataModule, LitSamuel, callbacks, Trainer, summary.

Distributed runs (``trainer.strategy=ddp|fsdp``): every rank runs :func:`fit`; only global rank
zero creates the run folder, writes config.yaml / mlflow_run.json / summary.json and creates the
MLflow run. Processes that Lightning launches itself find rank zero's run folder (and resume
checkpoint) in ``SAMUEL_RUN_DIR`` / ``SAMUEL_RESUME_CKPT``.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from samuel_pl.codecs import build_codec, latent_fields
from samuel_pl.config import ConfigError, FitConfig, to_dict, validate
from samuel_pl.data.datamodule import SamuelDataModule
from samuel_pl.lit.samuel import LitSamuel
from samuel_pl.lit.samuel_callbacks import AudioSamples
from samuel_pl.tracking import normalise_uri
from samuel_pl.training.run import (
    RESUME_ENV,
    RUN_DIR_ENV,
    is_rank_zero,
    prepare_run_dir,
    run_logger,
    shared_run,
    temporary_env,
)
from samuel_pl.training.run_summary import MetricHistory, build_summary, finish_run
from samuel_pl.training.trainer import (
    build_strategy,
    build_trainer,
    checkpoint_callbacks,
    compile_model,
)

__all__ = ["fit", "resolve_in_channels"]

# Expected, and noise for users: the EMA copy is always in eval mode; Lightning's pytree shim.
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


class _Normalization(Callback):
    """Puts the train split's latent statistics into the module on every rank (before DDP)."""

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        dm = trainer.datamodule  # type: ignore[attr-defined]
        pl_module.set_normalization(*dm.stats)
        pl_module.set_temporal_spectrum(dm.temporal_spectrum)


def resolve_in_channels(cfg: FitConfig, latent_channels: int | None = None) -> FitConfig:
    """``cfg`` (a copy) with ``model.in_channels`` = the codec's latent channels where it is 0
    (``latent_channels``, else read from ``cfg.codec`` without building the codec:
    :func:`samuel_pl.codecs.latent_fields`); ``cfg`` itself when already set."""
    if cfg.model.in_channels:
        return cfg
    channels = latent_fields(cfg.codec).channels if latent_channels is None else latent_channels
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, in_channels=int(channels)))


def _check(cfg: FitConfig, codec: Any) -> None:
    """What only the built codec can tell (every other value was checked at load)."""
    if cfg.model.in_channels != codec.latent_channels:
        raise ConfigError(
            f"model.in_channels={cfg.model.in_channels} but the {cfg.codec.type} codec makes "
            f"{codec.latent_channels}-channel latents; set model.in_channels="
            f"{codec.latent_channels} or 0 (follow the codec)"
        )


def fit(cfg: FitConfig) -> dict[str, Any]:
    """Train SAMUeL as configured; return the run summary (also written to summary.json)."""
    validate(cfg)  # configs built in code too: every value checked before anything is created
    if cfg.task in ("vae", "vocoder"):  # experiments/vae/*.yaml, experiments/vocoder/*.yaml
        from samuel_pl.training.fit_audio import fit_audio

        return fit_audio(cfg)
    t0 = time.time()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    codec = build_codec(cfg.codec)
    cfg = resolve_in_channels(cfg, codec.latent_channels)
    _check(cfg, codec)
    rank_zero = is_rank_zero()
    decoder = getattr(codec, "decoder_note", "")  # mel / pitched: which decoder and why
    if decoder and rank_zero:
        print(f"samples decoded by: {decoder}")
    run_dir, ckpt_path = shared_run(cfg, rank_zero)
    dm = SamuelDataModule(cfg)
    module = LitSamuel(to_dict(cfg))
    if cfg.trainer.compile:
        compile_model(module)

    logger: Any = False
    tracking = cfg.tracking.enabled and not cfg.trainer.fast_dev_run
    uri = normalise_uri(cfg.tracking.uri) if tracking else ""
    if rank_zero:
        uri = prepare_run_dir(cfg, run_dir, tracking)
        # Render/encode once here; other ranks load the cache in the Trainer's setup hook.
        dm.prepare_data()
        dm.setup("fit")
        module.set_normalization(*dm.stats)
        module.set_temporal_spectrum(dm.temporal_spectrum)
    if tracking:
        tags = {
            "codec_id": codec.codec_id,
            "dataset_fingerprint": dm.cache.manifest.get("fingerprint", "") if rank_zero else "",
        }
        logger = run_logger(cfg, run_dir, uri, rank_zero, bool(ckpt_path), tags)

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
    callbacks = [
        _Normalization(),
        *checkpoint_callbacks(cfg, run_dir, "val/loss"),
        history,
        samples,
    ]
    try:
        trainer = build_trainer(
            cfg,
            run_dir,
            logger,
            callbacks,
            build_strategy(cfg.trainer.strategy),
            accumulate_grad_batches=cfg.trainer.accumulate_grad_batches,
            gradient_clip_val=cfg.optim.grad_clip or None,
        )
    except Exception:
        if logger:  # e.g. a strategy Lightning refuses: the MLflow run ends FAILED, not RUNNING
            logger.finalize("failed")
        raise
    if ckpt_path and rank_zero:
        print(f"resuming from {ckpt_path}")
    shared = {RUN_DIR_ENV: str(run_dir.resolve()), RESUME_ENV: ckpt_path or ""}
    # inherited by the processes Lightning launches
    with temporary_env(shared if rank_zero and trainer.world_size > 1 else {}):
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    return _finish(cfg, trainer, logger, run_dir, history, samples, t0, decoder)


def _finish(
    cfg: FitConfig,
    trainer: pl.Trainer,
    logger: Any,
    run_dir: Path,
    history: MetricHistory,
    samples: AudioSamples,
    t0: float,
    decoder: str = "",
) -> dict[str, Any]:
    if not trainer.is_global_zero:
        return {}
    steps_run = max(0, trainer.global_step - history.start_step)
    summary = build_summary(
        trainer,
        logger,
        run_dir,
        history,
        samples.last_files,
        t0,
        samples_seen=steps_run * cfg.data.batch_size * trainer.world_size,
        steps_this_session=steps_run,
        train_loss_history=history.train[:: max(1, len(history.train) // 2000)],  # thinned
        decoder=decoder,
    )
    return finish_run(cfg, logger, run_dir, summary, history, "v-MSE")
