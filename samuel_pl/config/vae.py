"""Schema of the ``vae`` config section: an Oobleck-style audio VAE trained with this framework.

A config with ``task: vae`` trains this VAE (``python -m samuel_pl.fit --config
experiments/vae/demo.yaml``); its checkpoint is then a latent codec (``codec.type=vae
codec.path=.../last.ckpt``). The VAE works at ``data.sample_rate`` with ``data.channels`` audio
channels; a training crop is ``data.crop_frames`` latent frames (``crop_frames * hop`` samples).
"""

from __future__ import annotations

from dataclasses import dataclass

from samuel_pl.config.audio_train import AudioTrainConfig
from samuel_pl.config.checks import NONNEG, POS, checked, each, number


@dataclass
class VAEConfig(AudioTrainConfig):
    channels: int = checked(16, POS)
    """Width of the first encoder level (level i has channels * c_mults[i])."""
    c_mults: list[int] = checked(rule=each(POS), factory=lambda: [1, 2, 4, 8])
    """Channel multipliers per down-sampling block."""
    strides: list[int] = checked(rule=each(number(2)), factory=lambda: [2, 4, 8, 8])
    """Down-sampling per block (each >= 2); hop = their product."""
    latent_dim: int = checked(64, POS)
    """Latent channels."""
    dilations: list[int] = checked(rule=each(POS), factory=lambda: [1, 3, 9])
    """Dilations of the residual units in every block."""
    weight_norm: bool = True
    """Weight-normalised convolutions (as in Oobleck)."""
    istft_hop: int = checked(0, NONNEG)
    """0: Oobleck's waveform output; > 0: an inverse-STFT output head with this hop (n_fft =
    4 * hop) replacing the decoder's last up-sampling blocks (product of the first strides)."""
    kl_weight: float = checked(1e-4, NONNEG)
    """Final weight of the KL term (posterior vs N(0, I))."""
    kl_warmup_steps: int = checked(1000, NONNEG)
    """Training batches over which the KL weight ramps linearly from 0."""
