"""Schema shared by the audio networks ``fit`` trains on waveforms: the VAE codec and the vocoder.

Both train on crops of ``stems`` with a multi-resolution STFT loss, optionally a waveform L1 and a
multi-scale STFT discriminator (hinge loss + feature matching); ``samuel_pl.lit.audio_gan`` is
the one training loop behind both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AudioTrainConfig:
    stems: list[str] = field(default_factory=lambda: ["vocals", "accompaniment"])
    """Stems of each song the network trains on (crops are drawn from all of them)."""
    min_crop_rms: float = 1e-3
    """Training crops quieter than this RMS are redrawn (up to 8 times)."""
    stft_weight: float = 1.0
    """Weight of the multi-resolution STFT loss (auraloss: spectral convergence + log magnitude)."""
    stft_fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])
    """FFT sizes of the STFT loss (windows = FFT sizes, hops = FFT sizes / 4)."""
    waveform_l1_weight: float = 0.0
    """Weight of an L1 loss on the waveform (0: off)."""
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
