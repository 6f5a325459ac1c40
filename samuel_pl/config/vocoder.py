"""Schema of the ``vocoder`` config section: a neural decoder for the mel / log-frequency codec.

A config with ``task: vocoder`` trains it (``python -m samuel_pl.fit --config
experiments/vocoder/demo.yaml``) on the codec features of audio crops (``codec`` section: the
same features the diffusion model generates); the mel codec then decodes with it instead of
Griffin-Lim when ``codec.vocoder=.../last.ckpt`` is set. Vocos-style (Siuzdak 2023): ConvNeXt
blocks at the frame rate and an inverse-STFT head, so the whole clip is one pass of convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass

from samuel_pl.config.audio_train import AudioTrainConfig
from samuel_pl.config.checks import NONNEG, POS, checked, each, odd_positive, one_of


@dataclass
class VocoderConfig(AudioTrainConfig):
    stems: list[str] = checked(
        rule=each(one_of("vocals", "accompaniment")), factory=lambda: ["accompaniment"]
    )
    """Stems of each song the vocoder trains on (what it will decode: the accompaniment)."""
    dim: int = checked(128, POS)
    """Width of the ConvNeXt blocks."""
    intermediate: int = checked(384, POS)
    """Hidden width of each block's pointwise MLP."""
    layers: int = checked(6, POS)
    """ConvNeXt blocks."""
    kernel: int = checked(7, odd_positive)
    """Depthwise convolution kernel (frames, odd)."""
    n_fft_mult: int = checked(4, one_of(1, 2, 4))
    """Inverse-STFT head: n_fft = n_fft_mult x codec.hop_length."""
    codec_weight: float = checked(1.0, NONNEG)
    """Weight of the L1 distance between the codec features of the rendition and of the crop
    (the log-frequency band the harmony lives in; cf. HiFi-GAN's mel loss); 0: off."""
