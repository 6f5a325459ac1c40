"""LitSamuel: the SAMUeL denoiser + v-diffusion + EMA as a LightningModule."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import grad_norm
from torch import Tensor

from samuel_pl.config import FitConfig, load_config, to_dict
from samuel_pl.diffusion import (
    CFGDenoiser,
    CosineSchedule,
    SamplingPlan,
    training_loss,
)
from samuel_pl.errors import NonFiniteError, SamuelError
from samuel_pl.lit.lr_schedule import warmup_cosine
from samuel_pl.nn import EMA, SamuelUNet


def build_unet(cfg: FitConfig, schedule: CosineSchedule | None = None) -> SamuelUNet:
    """The denoiser of ``cfg.model`` (its fields are the U-Net's keyword arguments), with the
    noise schedule's alpha_bar(t) for the ``alpha_bar`` mix (``schedule``: built from
    ``cfg.diffusion`` when not given)."""
    d = cfg.diffusion
    schedule = schedule or CosineSchedule(d.train_steps, d.cosine_s)
    return SamuelUNet(
        **dataclasses.asdict(cfg.model), train_steps=d.train_steps, alpha_bar=schedule.alpha_bar
    )


def config_from_hparams(hparams: dict[str, Any]) -> FitConfig:
    """Rebuild the typed config saved in a checkpoint's hyper-parameters."""
    from omegaconf import OmegaConf

    base = OmegaConf.structured(FitConfig)
    return OmegaConf.to_object(OmegaConf.merge(base, OmegaConf.create(hparams)))  # type: ignore[return-value]


class LitSamuel(pl.LightningModule):
    """Trains :class:`SamuelUNet` with the v-objective; EMA weights validate, sample and save.

    The per-channel latent statistics (from the train split) are buffers, so
    ``LitSamuel.load_from_checkpoint(path)`` restores network, EMA and normalisation alone.

    Args:
        config: the full config as a plain dict (what ``save_hyperparameters`` stores) or a
            :class:`FitConfig`.
    """

    latent_mean: Tensor
    latent_std: Tensor
    temporal_spectrum: Tensor

    def __init__(self, config: dict[str, Any] | FitConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = load_config()
        cfg = config if isinstance(config, FitConfig) else config_from_hparams(config)
        if cfg.model.in_channels < 1:
            raise SamuelError(
                f"model.in_channels={cfg.model.in_channels}: resolve it from the codec before "
                "building the module (samuel_pl.training.resolve_in_channels(cfg))"
            )
        self.save_hyperparameters({"config": to_dict(cfg)})
        self.cfg = config_from_hparams(to_dict(cfg))
        m, d = self.cfg.model, self.cfg.diffusion
        self.schedule = CosineSchedule(d.train_steps, d.cosine_s)
        self.model = build_unet(self.cfg, self.schedule)
        self.ema = EMA(self.model, decay=d.ema_decay, warmup=d.ema_warmup)
        self.register_buffer("latent_mean", torch.zeros(m.in_channels))
        self.register_buffer("latent_std", torch.ones(m.in_channels))
        # (C, crop // 2 + 1) temporal power of the z-scored train latents; zeros: not measured
        # (checkpoints from before it was stored). The spectral prior's input (diffusion/plan.py).
        n_bins = max(self.cfg.data.crop_frames, 2) // 2 + 1
        self.register_buffer("temporal_spectrum", torch.zeros(m.in_channels, n_bins))
        self.nonfinite_skipped = 0
        """Batches/steps skipped for a NaN/inf loss or gradient (``trainer.nonfinite=skip``)."""
        self._skip_step = False
        self._step_dropped = False

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> LitSamuel:
        """The module of a ``task: diffusion`` checkpoint (weights-only; one-line errors).

        The one loader behind generate, evaluate, serve and reports (fit resumes through
        :class:`~samuel_pl.training.checkpoint_io.AtomicCheckpointIO`, which reads the same way).
        """
        from samuel_pl.errors import SamuelError
        from samuel_pl.safeload import load_checkpoint

        ckpt = load_checkpoint(path, "diffusion")
        try:
            module = cls(ckpt["hyper_parameters"]["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SamuelError(
                f"{path}: the checkpoint's saved config is unusable ({exc})"
            ) from None
        module.on_load_checkpoint(ckpt)
        missing, unexpected = module.load_state_dict(ckpt["state_dict"], strict=False)
        if missing or unexpected:
            first = (missing or unexpected)[0]
            raise SamuelError(
                f"{path}: the weights do not match the checkpoint's config ({len(missing)} "
                f"missing, {len(unexpected)} unexpected tensors, e.g. {first})"
            )
        return module.eval()

    # ----- normalisation -----------------------------------------------------------------
    def set_normalization(self, mean: np.ndarray | Tensor, std: np.ndarray | Tensor) -> None:
        """Store per-channel latent statistics (C,) from the train split."""
        mean_t = torch.as_tensor(np.asarray(mean), dtype=torch.float32).reshape(-1)
        std_t = torch.as_tensor(np.asarray(std), dtype=torch.float32).reshape(-1)
        if mean_t.numel() != self.latent_mean.numel():
            raise ValueError(
                f"latent statistics have {mean_t.numel()} channels but model.in_channels is "
                f"{self.latent_mean.numel()}; set model.in_channels to the codec's latent channels"
            )
        self.latent_mean.copy_(mean_t)
        self.latent_std.copy_(std_t.clamp_min(1e-5))

    def set_temporal_spectrum(self, spectrum: np.ndarray | Tensor) -> None:
        """Store the train latents' temporal power spectrum (C, crop_frames // 2 + 1)
        (:func:`samuel_pl.data.spectrum.cache_spectrum`)."""
        spec = torch.as_tensor(np.asarray(spectrum), dtype=torch.float32)
        if spec.shape != self.temporal_spectrum.shape:
            raise ValueError(
                f"temporal spectrum of shape {tuple(spec.shape)}, expected "
                f"{tuple(self.temporal_spectrum.shape)} (latent channels, crop_frames // 2 + 1)"
            )
        self.temporal_spectrum.copy_(spec)

    def measured_spectrum(self) -> Tensor | None:
        """The stored temporal spectrum, else (an older checkpoint) one measured now from the
        config's latent cache (reused when it exists, built otherwise); None without data."""
        if bool(self.temporal_spectrum.any()):
            return self.temporal_spectrum
        from importlib import import_module  # the data package, only where it is needed

        data = import_module("samuel_pl.data.spectrum")
        try:
            spectrum = data.cache_spectrum(data.ensure_cache(self.cfg), self.cfg.data.crop_frames)
        except SamuelError:
            return None
        self.set_temporal_spectrum(spectrum)
        return self.temporal_spectrum

    def normalize(self, z: Tensor) -> Tensor:
        """(B, C, T) codec latent -> z-scored latent."""
        return (z - self.latent_mean[:, None]) / self.latent_std[:, None]

    def denormalize(self, z: Tensor) -> Tensor:
        """(B, C, T) z-scored latent -> codec latent."""
        return z * self.latent_std[:, None] + self.latent_mean[:, None]

    # ----- training ----------------------------------------------------------------------
    def _loss(self, batch: dict[str, Tensor], net: Any, generator: Any = None, **kw: Any) -> Any:
        d = self.cfg.diffusion
        return training_loss(
            net,
            batch["accompaniment"],
            batch["vocals"],
            self.schedule,
            weighting=d.loss_weight,
            min_snr_gamma=d.min_snr_gamma,
            cond_drop_prob=kw.pop("cond_drop_prob", d.cond_drop_prob),
            future_mask_prob=kw.pop("future_mask_prob", d.future_mask_prob),
            generator=generator,
            **kw,
        )

    def _nonfinite(self, what: str, detail: str = "") -> None:
        """Stop (raise NonFiniteError) or count a skip, as ``trainer.nonfinite`` says."""
        if self.cfg.trainer.nonfinite != "skip":
            raise NonFiniteError(
                f"non-finite {what} at global step {self.global_step}{detail}; lower optim.lr, "
                "check the data, or set trainer.nonfinite=skip to skip such batches"
            )
        self.nonfinite_skipped += 1
        self._skip_step = True
        self.log("train/nonfinite_skipped", float(self.nonfinite_skipped))

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        out = self._loss(batch, self.model)
        bad = not bool(torch.isfinite(out.loss))
        if self._trainer is not None and self.trainer.world_size > 1:
            bad = self.trainer.strategy.reduce_boolean_decision(bad, all=False)  # any rank
        if bad:
            self._nonfinite("training loss", f" (batch {batch_idx}, songs {batch.get('song')})")
            # Skip: a zero loss tied to every parameter keeps DDP's gradient hooks in step.
            return torch.stack([p.sum() for p in self.model.parameters()]).sum() * 0.0
        bs = batch["accompaniment"].shape[0]
        self.log("train/loss", out.loss, prog_bar=True, batch_size=bs)
        self.log("train/v_mse", out.per_sample.mean(), batch_size=bs)
        return out.loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        norms = grad_norm(self.model, norm_type=2)
        total = norms.get("grad_2.0_norm_total")
        # 16-mixed: the GradScaler itself skips steps with inf gradients.
        scaler = self.cfg.trainer.precision == "16-mixed"
        bad_grad = total is not None and not scaler and not math.isfinite(float(total))
        if bad_grad:
            self._nonfinite("gradient norm")
        skip, self._skip_step = self._skip_step, False
        # A skipped batch inside gradient accumulation only contributed zeros: keep the others.
        if skip and (bad_grad or self.trainer.accumulate_grad_batches == 1):
            for p in self.model.parameters():
                p.grad = None  # AdamW leaves parameters without gradients untouched
            self._step_dropped = True
        elif total is not None:
            self.log("train/grad_norm", total)
        self.log("train/lr", optimizer.param_groups[0]["lr"])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["nonfinite_skipped"] = int(self.nonfinite_skipped)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.nonfinite_skipped = int(checkpoint.get("nonfinite_skipped", 0))
        state = checkpoint.get("state_dict")
        if isinstance(state, dict) and "temporal_spectrum" not in state:  # older checkpoints
            state["temporal_spectrum"] = torch.zeros_like(self.temporal_spectrum)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimiser step, then one EMA update if the step was taken: not on a step
        dropped as non-finite, nor one the fp16 GradScaler skipped (its scale went down)."""
        scaler = getattr(self.trainer.precision_plugin, "scaler", None) if self._trainer else None
        scale = float(scaler.get_scale()) if scaler is not None else None
        self._step_dropped = False
        super().optimizer_step(*args, **kwargs)
        skipped_by_scaler = scaler is not None and float(scaler.get_scale()) < float(scale or 0)
        if not (self._step_dropped or skipped_by_scaler):
            self.ema.update(self.model)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        # Fixed draws per batch (stratified t, seeded noise) so epochs are comparable.
        x0 = batch["accompaniment"]
        b = x0.shape[0]
        gen = torch.Generator(device="cpu").manual_seed(10_000 + batch_idx)
        steps = self.schedule.train_steps
        t = (
            ((torch.arange(b) + torch.rand(b, generator=gen)) * steps / b)
            .floor()
            .clamp(max=steps - 1)
        )
        noise = torch.randn(x0.shape, generator=gen).to(x0)
        drop = torch.zeros(b, dtype=torch.bool, device=x0.device)
        out = self._loss(batch, self.ema.module, t=t.to(x0.device), noise=noise, drop=drop)
        self.log("val/loss", out.per_sample.mean(), prog_bar=True, batch_size=b, sync_dist=True)
        return out.per_sample.mean()

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        opt = torch.optim.AdamW(
            self.model.parameters(),
            lr=o.lr,
            betas=(o.betas[0], o.betas[1]),
            weight_decay=o.weight_decay,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches)) if self._trainer else 1
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: warmup_cosine(s, o.warmup_steps, total, o.min_lr_ratio)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ----- sampling ----------------------------------------------------------------------
    def sampling_plan(
        self,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        spectral_prior: str | None = None,
    ) -> SamplingPlan:
        """The overrides (None: ``cfg.sampling``'s value) resolved and checked once."""
        prior = spectral_prior or self.cfg.sampling.spectral_prior
        spectrum = None if prior == "none" else self.measured_spectrum()
        return SamplingPlan.resolve(
            self.cfg.sampling,
            self.schedule,
            sampler=sampler,
            steps=steps,
            cfg=cfg,
            spacing=spacing,
            spectral_prior=spectral_prior,
            spectrum=spectrum,
        )

    @torch.no_grad()
    def sample(
        self,
        vocals: Tensor,
        *,
        plan: SamplingPlan | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        generator: torch.Generator | None = None,
        callback: Callable[[int, int, Tensor], None] | None = None,
        use_ema: bool = True,
        normalized: bool = False,
    ) -> Tensor:
        """Accompaniment latents for vocal latents ``(B, C, T)`` (codec scale unless normalized).

        ``plan`` (:meth:`sampling_plan`), else the overrides left None come from
        ``cfg.sampling``. ``generator`` may live on the CPU whatever the module's device. T must
        be a multiple of the U-Net's time stride; see :mod:`samuel_pl.generation` for any-length
        audio.
        """
        plan = plan or self.sampling_plan(sampler, steps, cfg, spacing)
        net = self.ema.module if use_ema else self.model
        cond = vocals if normalized else self.normalize(vocals)
        cond = cond.to(self.latent_mean.device, torch.float32)
        gen_device = generator.device if generator is not None else "cpu"
        x = torch.randn(cond.shape, generator=generator, device=gen_device).to(cond)
        fn = plan.wrap(CFGDenoiser(net, cond, plan.cfg), self.schedule)
        out = plan.run(fn, x, self.schedule, callback=callback, generator=generator)
        return out if normalized else self.denormalize(out)
