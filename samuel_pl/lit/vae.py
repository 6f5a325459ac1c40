"""LitAudioVAE: trains the Oobleck-style audio VAE (``task: vae``) that becomes the ``vae`` codec.

The shared training loop (:class:`~samuel_pl.lit.audio_gan.LitAudioGAN`: MR-STFT [+ L1]
[+ discriminator]) plus ``kl_weight`` (ramped linearly over ``kl_warmup_steps`` batches) x
KL(q(z|x) || N(0, I)); validation reconstructs from the posterior mean and logs ``val/kl``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from samuel_pl.config import ConfigError, FitConfig, load_config, to_dict
from samuel_pl.lit.audio_gan import LitAudioGAN
from samuel_pl.lit.samuel import config_from_hparams
from samuel_pl.nn.oobleck import OobleckConfig, OobleckVAE, kl_to_standard_normal


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


class LitAudioVAE(LitAudioGAN):
    """The audio VAE (+ optional discriminator) as a LightningModule.

    ``LitAudioVAE.load_from_checkpoint(path)`` needs nothing else; the ``vae`` codec reads the
    same checkpoint without Lightning (:mod:`samuel_pl.codecs.vae`).

    Args:
        config: the full config as a plain dict or a :class:`FitConfig` (``task: vae``).
    """

    def __init__(self, config: dict[str, Any] | FitConfig | None = None) -> None:
        if config is None:
            config = load_config(None, ["task=vae"])
        if isinstance(config, FitConfig):
            config = to_dict(config)
        cfg = config_from_hparams(config)
        check_vae_config(cfg)
        arch = OobleckConfig.from_sizes(dataclasses.asdict(cfg.vae), cfg.data.channels)
        super().__init__(cfg, arch.audio_channels)
        self.save_hyperparameters({"config": config})
        self.arch = arch
        self.vae = OobleckVAE(self.arch)
        self.generator = self.vae

    @property
    def hop_length(self) -> int:
        return int(self.arch.hop_length)

    def kl_weight(self, batches: int) -> float:
        """KL weight after ``batches`` training batches (linear warm-up)."""
        v = self.cfg.vae
        return v.kl_weight * min(1.0, (batches + 1) / max(1, v.kl_warmup_steps))

    def generate(
        self, x: Tensor, train: bool
    ) -> tuple[Tensor, Tensor, Tensor | None, dict[str, Tensor]]:
        """Training: decode a posterior draw, + weighted KL; validation: the posterior mean."""
        if train:
            recon, mean, std = self.vae(x)
        else:
            mean, std = self.vae.encode(x)
            recon = self.vae.decode(mean)
        kl = kl_to_standard_normal(mean, std)
        if not train:
            return recon, x, None, {"kl": kl}
        kl_w = self.kl_weight(int(self.batches_seen))
        return recon, x, kl_w * kl, {"kl": kl, "kl_weight": torch.tensor(kl_w)}

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Audio (B, C, N), N a multiple of the hop -> reconstruction from the posterior mean."""
        mean, _ = self.vae.encode(x)
        return self.vae.decode(mean)
