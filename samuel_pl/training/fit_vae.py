"""Training job of the audio VAE (``task: vae``): run folder, MLflow, Trainer, summary.json.

The same run-folder, resume (``resume=auto``) and tracking conventions as the diffusion job
(:mod:`samuel_pl.training.fit`); the summary names the checkpoint to use as ``codec.type=vae``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from samuel_pl.config import FitConfig, to_dict
from samuel_pl.data.audio_crops import AudioDataModule
from samuel_pl.lit.vae import LitAudioVAE, check_vae_config
from samuel_pl.lit.vae_callbacks import VAEReconstructions
from samuel_pl.tracking import normalise_uri
from samuel_pl.training.run import is_rank_zero, prepare_run_dir, run_logger, shared_run
from samuel_pl.training.summary import MetricHistory, build_summary, finish_run
from samuel_pl.training.trainer import build_trainer, checkpoint_callbacks


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
        uri = prepare_run_dir(cfg, run_dir, tracking)
        dm.prepare_data()
    if tracking:
        fp = dm.manifest.get("fingerprint", "") if rank_zero else ""
        tags = {"task": "vae", "dataset_fingerprint": fp}
        logger = run_logger(cfg, run_dir, uri, rank_zero, bool(ckpt_path), tags)
    history = MetricHistory()
    examples = VAEReconstructions(
        run_dir,
        every_n_epochs=cfg.callbacks.samples_every_n_epochs,
        num_tracks=cfg.callbacks.num_sample_songs,
        seconds=cfg.vae.sample_seconds,
    )
    # validation-driven best checkpoint, like the diffusion job
    ckpt_callbacks = checkpoint_callbacks(cfg, run_dir, "val/mrstft")
    ckpt_cb = ckpt_callbacks[0]
    assert isinstance(ckpt_cb, ModelCheckpoint)
    callbacks: list[pl.Callback] = [*ckpt_callbacks, history, examples]
    trainer = build_trainer(cfg, run_dir, logger, callbacks, cfg.trainer.strategy)
    if ckpt_path and rank_zero:
        print(f"resuming from {ckpt_path}")
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    if not trainer.is_global_zero:
        return {}
    last = run_dir / "checkpoints" / "last.ckpt"
    if not cfg.trainer.fast_dev_run and not trainer.interrupted:
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
    batches = int(getattr(trainer.lightning_module, "batches_seen", 0))
    summary = build_summary(
        trainer,
        logger,
        run_dir,
        history,
        examples.last_files,
        t0,
        samples_seen=batches * cfg.data.batch_size,
        task="vae",
        batches=batches,
        val_metrics=metrics,
        best_checkpoint=ckpt_cb.best_model_path or None,
        codec_overrides=f"codec.type=vae codec.path={last.resolve()}" if last.is_file() else None,
    )
    return finish_run(cfg, logger, run_dir, summary, history, "MR-STFT + KL")
