"""Schema of the ``vae`` config section: an Oobleck-style audio VAE trained with this framework.

A config with ``task: vae`` trains this VAE (``python -m samuel_pl.fit --config
experiments/vae/demo.yaml``); its checkpoint is then a latent codec (``codec.type=vae
codec.path=.../last.ckpt``). The VAE works at ``data.sample_rate`` with ``data.channels`` audio
channels; a training crop is ``data.crop_frames`` latent frames (``crop_frames * hop`` samples).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VAEConfig:
    channels: int = 16
    """Width of the first encoder level (level i has channels * c_mults[i])."""
    c_mults: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    """Channel multipliers per down-sampling block."""
    strides: list[int] = field(default_factory=lambda: [2, 4, 8, 8])
    """Down-sampling per block (each >= 2); hop = their product."""
    latent_dim: int = 64
    """Latent channels."""
    dilations: list[int] = field(default_factory=lambda: [1, 3, 9])
    """Dilations of the residual units in every block."""
    weight_norm: bool = True
    """Weight-normalised convolutions (as in Oobleck)."""
    istft_hop: int = 0
    """0: Oobleck's waveform output; > 0: an inverse-STFT output head with this hop (n_fft =
    4 * hop) replacing the decoder's last up-sampling blocks (product of the first strides)."""
    stems: list[str] = field(default_factory=lambda: ["vocals", "accompaniment"])
    """Stems of each song the VAE trains on (crops are drawn from all of them)."""
    min_crop_rms: float = 1e-3
    """Training crops quieter than this RMS are redrawn (up to 8 times)."""
    stft_weight: float = 1.0
    """Weight of the multi-resolution STFT loss (auraloss: spectral convergence + log magnitude)."""
    stft_fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])
    """FFT sizes of the STFT loss (windows = FFT sizes, hops = FFT sizes / 4)."""
    waveform_l1_weight: float = 0.0
    """Weight of an L1 loss on the waveform (0: off)."""
    kl_weight: float = 1e-4
    """Final weight of the KL term (posterior vs N(0, I))."""
    kl_warmup_steps: int = 1000
    """Training batches over which the KL weight ramps linearly from 0."""
    discriminator: bool = False
    """Train a multi-scale STFT discriminator (hinge loss) with feature matching."""
    disc_fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512])
    """FFT sizes of the discriminator's scales."""
    disc_channels: int = 16
    """Width of each discriminator's conv stack."""
    adversarial_weight: float = 0.1
    """Weight of the generator's adversarial (hinge) loss."""
    feature_weight: float = 2.0
    """Weight of the feature-matching loss (relative L1 between discriminator features)."""
    disc_start_step: int = 0
    """Training batches before the discriminator and adversarial losses start."""
    disc_lr_ratio: float = 1.0
    """Discriminator learning rate as a fraction of optim.lr."""
    sample_seconds: float = 4.0
    """Length of the reconstruction examples logged for fixed validation songs."""
