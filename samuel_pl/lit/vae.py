"""LitAudioVAE: trains the Oobleck-style audio VAE (``task: vae``) that becomes the ``vae`` codec.

Loss (generator): ``stft_weight`` x multi-resolution STFT (auraloss) + ``kl_weight`` (ramped
linearly over ``kl_warmup_steps`` batches) x KL(q(z|x) || N(0, I)) [+ waveform L1]; with
``vae.discriminator``: + hinge adversarial loss of a multi-scale STFT discriminator + feature
matching. Manual optimisation: one generator step and (with the discriminator) one
discriminator step per batch, so ``trainer.max_steps`` counts both optimisers' steps.
Validation logs ``val/mrstft`` (MR-STFT distance at auraloss' default resolutions),
``val/si_sdr`` (torchmetrics) and ``val/loss`` (the training STFT loss of the mean latent).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.audio import ScaleInvariantSignalDistortionRatio

from samuel_pl.config import ConfigError, FitConfig, load_config, to_dict
from samuel_pl.errors import NonFiniteError
from samuel_pl.lit.samuel import config_from_hparams
from samuel_pl.lit.schedule import warmup_cosine
from samuel_pl.nn.discriminator import (
    MultiScaleSTFTDiscriminator,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from samuel_pl.nn.oobleck import OobleckConfig, OobleckVAE, kl_to_standard_normal
from samuel_pl.nn.stft_loss import MRSTFTDistance, mr_stft_loss


def check_vae_config(cfg: FitConfig) -> None:
    """Raise ConfigError for a ``vae`` section that cannot train."""
    v = cfg.vae
    try:
        OobleckConfig.from_sizes(dataclasses.asdict(v), cfg.data.channels).validate()
    except ValueError as exc:
        raise ConfigError(f"vae: {exc}") from None
    # Choices and ranges (stems, nonfinite, crop_frames, ...) are checked when the config loads.
    if v.discriminator and not v.disc_fft_sizes:
        raise ConfigError("vae.disc_fft_sizes is empty")


class LitAudioVAE(pl.LightningModule):
    """The audio VAE (+ optional discriminator) as a LightningModule.

    ``LitAudioVAE.load_from_checkpoint(path)`` needs nothing else; the ``vae`` codec reads the
    same checkpoint without Lightning (:mod:`samuel_pl.codecs.vae`).

    Args:
        config: the full config as a plain dict or a :class:`FitConfig` (``task: vae``).
    """

    batches_seen: Tensor

    def __init__(self, config: dict[str, Any] | FitConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = load_config(None, ["task=vae"])
        if isinstance(config, FitConfig):
            config = to_dict(config)
        self.save_hyperparameters({"config": config})
        self.cfg = config_from_hparams(config)
        check_vae_config(self.cfg)
        v = self.cfg.vae
        self.automatic_optimization = False
        self.arch = OobleckConfig.from_sizes(dataclasses.asdict(v), self.cfg.data.channels)
        self.vae = OobleckVAE(self.arch)
        self.disc = (
            MultiScaleSTFTDiscriminator(v.disc_fft_sizes, self.arch.audio_channels, v.disc_channels)
            if v.discriminator
            else None
        )
        self.stft_loss = mr_stft_loss(v.stft_fft_sizes)
        self.distance = MRSTFTDistance()
        self.val_mrstft = MeanMetric()
        self.val_si_sdr = ScaleInvariantSignalDistortionRatio()
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))
        self.nonfinite_skipped = 0

    @property
    def segment(self) -> int:
        """Samples per training crop: ``data.crop_frames`` x hop."""
        return self.cfg.data.crop_frames * self.arch.hop_length

    def kl_weight(self, batches: int) -> float:
        """KL weight after ``batches`` training batches (linear warm-up)."""
        v = self.cfg.vae
        return v.kl_weight * min(1.0, (batches + 1) / max(1, v.kl_warmup_steps))

    # ----- training ----------------------------------------------------------------------
    def _generator_loss(
        self, x: Tensor, use_disc: bool
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(loss, reconstruction (B, C, N), logged terms) for audio x (B, C, N)."""
        v = self.cfg.vae
        recon, mean, std = self.vae(x)
        terms = {"stft": self.stft_loss(recon, x), "kl": kl_to_standard_normal(mean, std)}
        kl_w = self.kl_weight(int(self.batches_seen))
        loss = v.stft_weight * terms["stft"] + kl_w * terms["kl"]
        if v.waveform_l1_weight > 0:
            terms["l1"] = (recon - x).abs().mean()
            loss = loss + v.waveform_l1_weight * terms["l1"]
        if use_disc and self.disc is not None:
            fake_logits, fake_feats = self.disc(recon)
            with torch.no_grad():
                _, real_feats = self.disc(x)
            terms["adv"] = hinge_generator_loss(fake_logits)
            terms["feature"] = feature_matching_loss(real_feats, fake_feats)
            loss = loss + v.adversarial_weight * terms["adv"] + v.feature_weight * terms["feature"]
        terms["kl_weight"] = torch.tensor(kl_w)
        return loss, recon, terms

    def _step(self, opt: Any, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.cfg.optim.grad_clip > 0:
            self.clip_gradients(opt, self.cfg.optim.grad_clip, "norm")
        opt.step()

    def _skip(self, what: str, batch_idx: int) -> None:
        if getattr(self.cfg.trainer, "nonfinite", "stop") != "skip":
            raise NonFiniteError(
                f"non-finite {what} at global step {self.global_step} (batch index {batch_idx}); "
                "lower optim.lr, check the data, or set trainer.nonfinite=skip"
            )
        self.nonfinite_skipped += 1
        self.log("train/nonfinite_skipped", float(self.nonfinite_skipped))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x = batch["audio"]  # (B, C, N)
        opts = self.optimizers()
        opt_g, opt_d = (opts[0], opts[1]) if isinstance(opts, list) else (opts, None)
        use_disc = opt_d is not None and int(self.batches_seen) >= self.cfg.vae.disc_start_step
        if opt_d is not None:
            self.toggle_optimizer(opt_g)
        loss, recon, terms = self._generator_loss(x, use_disc)
        if torch.isfinite(loss):
            self._step(opt_g, loss)
        else:
            self._skip("generator loss", batch_idx)
        if opt_d is not None:
            self.untoggle_optimizer(opt_g)
        if use_disc and opt_d is not None and self.disc is not None:
            self.toggle_optimizer(opt_d)
            real, _ = self.disc(x)
            fake, _ = self.disc(recon.detach())
            terms["disc"] = hinge_discriminator_loss(real, fake)
            if torch.isfinite(terms["disc"]):
                self._step(opt_d, terms["disc"])
            else:
                self._skip("discriminator loss", batch_idx)
            self.untoggle_optimizer(opt_d)
        scheds = self.lr_schedulers()
        for s in scheds if isinstance(scheds, list) else [scheds]:
            if s is not None:
                s.step()
        self.batches_seen += 1
        bs = x.shape[0]
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=bs)
        for k, val in terms.items():
            self.log(f"train/{k}", val.detach().float(), batch_size=bs)
        self.log("train/lr", opt_g.param_groups[0]["lr"], batch_size=bs)

    # ----- validation --------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Audio (B, C, N), N a multiple of the hop -> reconstruction from the posterior mean."""
        mean, _ = self.vae.encode(x)
        return self.vae.decode(mean)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x = batch["audio"]  # (B, C, N)
        mean, std = self.vae.encode(x)
        recon = self.vae.decode(mean)
        bs = x.shape[0]
        self.log("val/loss", self.stft_loss(recon, x), prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("val/kl", kl_to_standard_normal(mean, std), batch_size=bs, sync_dist=True)
        # Metrics skip near-silent crops (spectral convergence and SI-SDR are undefined there).
        loud = x.pow(2).mean(dim=(1, 2)).sqrt() >= max(self.cfg.vae.min_crop_rms, 1e-6)
        if loud.any():
            self.val_mrstft.update(self.distance(recon[loud], x[loud]))
            self.val_si_sdr.update(recon[loud].float(), x[loud].float())
            self.log("val/mrstft", self.val_mrstft, batch_size=bs)
            self.log("val/si_sdr", self.val_si_sdr, batch_size=bs)

    # ----- optimisers --------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        o, v = self.cfg.optim, self.cfg.vae
        total = max(1, int(self.trainer.estimated_stepping_batches)) if self._trainer else 1
        if self.disc is not None and self.cfg.trainer.max_steps > 0:
            total = max(1, total // 2)  # max_steps counts both optimisers' steps

        def adamw(params: Any, lr: float) -> torch.optim.AdamW:
            return torch.optim.AdamW(
                params, lr=lr, betas=(o.betas[0], o.betas[1]), weight_decay=o.weight_decay
            )

        def schedule(opt: torch.optim.Optimizer) -> Any:
            return torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: warmup_cosine(s, o.warmup_steps, total, o.min_lr_ratio)
            )

        opt_g = adamw(self.vae.parameters(), o.lr)
        if self.disc is None:
            return {"optimizer": opt_g, "lr_scheduler": schedule(opt_g)}
        opt_d = adamw(self.disc.parameters(), o.lr * v.disc_lr_ratio)
        return [opt_g, opt_d], [schedule(opt_g), schedule(opt_d)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["nonfinite_skipped"] = int(self.nonfinite_skipped)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.nonfinite_skipped = int(checkpoint.get("nonfinite_skipped", 0))
