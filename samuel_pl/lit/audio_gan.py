"""LitAudioGAN: the one training loop of the waveform networks ``fit`` trains (VAE, vocoder).

Loss (generator): ``stft_weight`` x multi-resolution STFT (auraloss) [+ waveform L1] + the
subclass's own terms (the VAE's KL); with ``discriminator``: + hinge adversarial loss of a
multi-scale STFT discriminator + feature matching. Manual optimisation: one generator step and
(with the discriminator) one discriminator step per batch, so ``trainer.max_steps`` counts both
optimisers' steps. Validation logs ``val/mrstft`` (MR-STFT distance at auraloss' default
resolutions), ``val/si_sdr`` (torchmetrics) and ``val/loss`` (the training STFT loss).

A subclass sets ``self.generator`` (the network trained against the discriminator) and
implements :meth:`generate` (audio crop -> estimate, reference, extra loss, extra terms) and
:meth:`reconstruct`.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.audio import ScaleInvariantSignalDistortionRatio

from samuel_pl.config import FitConfig
from samuel_pl.errors import NonFiniteError
from samuel_pl.lit.lr_schedule import warmup_cosine
from samuel_pl.nn.discriminator import (
    MultiScaleSTFTDiscriminator,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from samuel_pl.nn.stft_loss import MRSTFTDistance, mr_stft_loss


class LitAudioGAN(pl.LightningModule):
    """Shared training of a waveform generator (+ optional discriminator); see the module doc.

    Args:
        cfg: the full config; ``cfg.audio_train()`` is the loss section (``vae`` or ``vocoder``).
        audio_channels: channels of the audio the generator produces.
    """

    batches_seen: Tensor
    generator: nn.Module

    def __init__(self, cfg: FitConfig, audio_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        v = cfg.audio_train()
        self.automatic_optimization = False
        self.disc = (
            MultiScaleSTFTDiscriminator(v.disc_fft_sizes, audio_channels, v.disc_channels)
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
    def hop_length(self) -> int:
        """Audio samples per frame of the generator."""
        raise NotImplementedError

    @property
    def segment(self) -> int:
        """Samples per training crop: ``data.crop_frames`` x hop."""
        return self.cfg.data.crop_frames * self.hop_length

    def generate(
        self, x: Tensor, train: bool
    ) -> tuple[Tensor, Tensor, Tensor | None, dict[str, Tensor]]:
        """Audio crop (B, C, N) -> (estimate, reference it is scored against, extra loss or
        None, extra logged terms); ``train``: the training pass (e.g. a posterior draw)."""
        raise NotImplementedError

    def reconstruct(self, x: Tensor) -> Tensor:
        """Audio (B, C, N) -> the generator's rendition, for validation and examples."""
        raise NotImplementedError

    # ----- training ----------------------------------------------------------------------
    def _generator_loss(
        self, x: Tensor, use_disc: bool
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """(loss, estimate, reference, logged terms) for audio x (B, C, N)."""
        v = self.cfg.audio_train()
        recon, ref, extra, more = self.generate(x, train=True)
        terms = {"stft": self.stft_loss(recon, ref), **more}
        loss = v.stft_weight * terms["stft"] + (extra if extra is not None else 0.0)
        if v.waveform_l1_weight > 0:
            terms["l1"] = (recon - ref).abs().mean()
            loss = loss + v.waveform_l1_weight * terms["l1"]
        if use_disc and self.disc is not None:
            fake_logits, fake_feats = self.disc(recon)
            with torch.no_grad():
                _, real_feats = self.disc(ref)
            terms["adv"] = hinge_generator_loss(fake_logits)
            terms["feature"] = feature_matching_loss(real_feats, fake_feats)
            loss = loss + v.adversarial_weight * terms["adv"] + v.feature_weight * terms["feature"]
        return loss, recon, ref, terms

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
        start = self.cfg.audio_train().disc_start_step
        use_disc = opt_d is not None and int(self.batches_seen) >= start
        if opt_d is not None:
            self.toggle_optimizer(opt_g)
        loss, recon, ref, terms = self._generator_loss(x, use_disc)
        if torch.isfinite(loss):
            self._step(opt_g, loss)
        else:
            self._skip("generator loss", batch_idx)
        if opt_d is not None:
            self.untoggle_optimizer(opt_g)
        if use_disc and opt_d is not None and self.disc is not None:
            self.toggle_optimizer(opt_d)
            real, _ = self.disc(ref)
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
    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x = batch["audio"]  # (B, C, N)
        with torch.no_grad():
            recon, ref, _, more = self.generate(x, train=False)
        bs = x.shape[0]
        self.log(
            "val/loss", self.stft_loss(recon, ref), prog_bar=True, batch_size=bs, sync_dist=True
        )
        for k, val in more.items():
            self.log(f"val/{k}", val, batch_size=bs, sync_dist=True)
        # Metrics skip near-silent crops (spectral convergence and SI-SDR are undefined there).
        min_rms = max(self.cfg.audio_train().min_crop_rms, 1e-6)
        loud = ref.pow(2).mean(dim=(1, 2)).sqrt() >= min_rms
        if loud.any():
            self.val_mrstft.update(self.distance(recon[loud], ref[loud]))
            self.val_si_sdr.update(recon[loud].float(), ref[loud].float())
            self.log("val/mrstft", self.val_mrstft, batch_size=bs)
            self.log("val/si_sdr", self.val_si_sdr, batch_size=bs)

    # ----- optimisers --------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        o, v = self.cfg.optim, self.cfg.audio_train()
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

        opt_g = adamw(self.generator.parameters(), o.lr)
        if self.disc is None:
            return {"optimizer": opt_g, "lr_scheduler": schedule(opt_g)}
        opt_d = adamw(self.disc.parameters(), o.lr * v.disc_lr_ratio)
        return [opt_g, opt_d], [schedule(opt_g), schedule(opt_d)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["nonfinite_skipped"] = int(self.nonfinite_skipped)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.nonfinite_skipped = int(checkpoint.get("nonfinite_skipped", 0))
