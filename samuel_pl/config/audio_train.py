"""Schema shared by the audio networks ``fit`` trains on waveforms: the VAE codec and the vocoder.

Both train on crops of ``stems`` with a multi-resolution STFT loss, optionally a waveform L1 and a
multi-scale STFT discriminator (hinge loss + feature matching); ``samuel_pl.lit.audio_gan`` is
the one training loop behind both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from samuel_pl.config.checks import NONNEG, POS, checked, each, number, one_of


@dataclass
class AudioTrainConfig:
    stems: list[str] = checked(
        rule=each(one_of("vocals", "accompaniment")), factory=lambda: ["vocals", "accompaniment"]
    )
    """Stems of each song the network trains on (crops are drawn from all of them)."""
    min_crop_rms: float = checked(1e-3, NONNEG)
    """Training crops quieter than this RMS are redrawn (up to 8 times)."""
    stft_weight: float = checked(1.0, NONNEG)
    """Weight of the multi-resolution STFT loss (auraloss: spectral convergence + log magnitude)."""
    stft_fft_sizes: list[int] = checked(
        rule=each(number(2)), factory=lambda: [2048, 1024, 512, 256, 128]
    )
    """FFT sizes of the STFT loss (windows = FFT sizes, hops = FFT sizes / 4)."""
    waveform_l1_weight: float = checked(0.0, NONNEG)
    """Weight of an L1 loss on the waveform (0: off)."""
    discriminator: bool = False
    """Train a multi-scale STFT discriminator (hinge loss) with feature matching."""
    disc_fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512])
    """FFT sizes of the discriminator's scales."""
    disc_channels: int = checked(16, POS)
    """Width of each discriminator's conv stack."""
    adversarial_weight: float = checked(0.1, NONNEG)
    """Weight of the generator's adversarial (hinge) loss."""
    feature_weight: float = checked(2.0, NONNEG)
    """Weight of the feature-matching loss (relative L1 between discriminator features)."""
    disc_start_step: int = checked(0, NONNEG)
    """Training batches before the discriminator and adversarial losses start."""
    disc_lr_ratio: float = checked(1.0, number(0, lo_open=True))
    """Discriminator learning rate as a fraction of optim.lr."""
    sample_seconds: float = checked(4.0, number(0, lo_open=True))
    """Length of the reconstruction examples logged for fixed validation songs."""
