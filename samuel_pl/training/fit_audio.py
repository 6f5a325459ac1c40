"""Training job of the waveform networks (``task: vae`` | ``vocoder``): run folder, MLflow,
Trainer, summary.json.

The same run-folder, resume (``resume=auto``) and tracking conventions as the diffusion job
(:mod:`samuel_pl.training.fit_diffusion`); the summary names how to use the checkpoint
(``codec.type=vae codec.path=...`` or ``codec.vocoder=...``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from samuel_pl.config import FitConfig, to_dict
from samuel_pl.data.audio_crops import AudioDataModule
from samuel_pl.lit.audio_callbacks import AudioReconstructions
from samuel_pl.lit.audio_gan import LitAudioGAN
from samuel_pl.lit.vae import LitAudioVAE
from samuel_pl.lit.vocoder import LitVocoder
from samuel_pl.tracking import normalise_uri
from samuel_pl.training.run import is_rank_zero, prepare_run_dir, run_logger, shared_run
from samuel_pl.training.run_summary import MetricHistory, build_summary, finish_run
from samuel_pl.training.trainer import build_trainer, checkpoint_callbacks


def fit_audio(cfg: FitConfig) -> dict[str, Any]:
    """Train the VAE or the vocoder as configured; return the run summary (also in summary.json)."""
    t0 = time.time()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    module: LitAudioGAN = (LitVocoder if cfg.task == "vocoder" else LitAudioVAE)(to_dict(cfg))
    rank_zero = is_rank_zero()
    run_dir, ckpt_path = shared_run(cfg, rank_zero)
    dm = AudioDataModule(cfg, module.segment)
    tracking = cfg.tracking.enabled and not cfg.trainer.fast_dev_run
    logger: Any = False
    uri = normalise_uri(cfg.tracking.uri) if tracking else ""
    if rank_zero:
        uri = prepare_run_dir(cfg, run_dir, tracking)
        dm.prepare_data()
    if tracking:
        fp = dm.manifest.get("fingerprint", "") if rank_zero else ""
        tags = {"task": cfg.task, "dataset_fingerprint": fp}
        logger = run_logger(cfg, run_dir, uri, rank_zero, bool(ckpt_path), tags)
    history = MetricHistory()
    examples = AudioReconstructions(
        run_dir,
        every_n_epochs=cfg.callbacks.samples_every_n_epochs,
        num_tracks=cfg.callbacks.num_sample_songs,
        seconds=cfg.audio_train().sample_seconds,
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
    examples: AudioReconstructions,
    ckpt_cb: ModelCheckpoint,
    t0: float,
) -> dict[str, Any]:
    last = run_dir / "checkpoints" / "last.ckpt"
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    batches = int(getattr(trainer.lightning_module, "batches_seen", 0))
    use = f"codec.type=vae codec.path={last.resolve()}"
    if cfg.task == "vocoder":
        use = f"codec.vocoder={last.resolve()}"
    summary = build_summary(
        trainer,
        logger,
        run_dir,
        history,
        examples.last_files,
        t0,
        samples_seen=batches * cfg.data.batch_size,
        task=cfg.task,
        batches=batches,
        val_metrics=metrics,
        best_checkpoint=ckpt_cb.best_model_path or None,
        codec_overrides=use if last.is_file() else None,
    )
    loss = "MR-STFT" if cfg.task == "vocoder" else "MR-STFT + KL"
    return finish_run(cfg, logger, run_dir, summary, history, loss)
