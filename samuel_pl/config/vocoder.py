"""Schema of the ``vocoder`` config section: a neural decoder for the mel / log-frequency codec.

A config with ``task: vocoder`` trains it (``python -m samuel_pl.fit --config
experiments/vocoder/demo.yaml``) on the codec features of audio crops (``codec`` section: the
same features the diffusion model generates); the mel codec then decodes with it instead of
Griffin-Lim when ``codec.vocoder=.../last.ckpt`` is set. Vocos-style (Siuzdak 2023): ConvNeXt
blocks at the frame rate and an inverse-STFT head, so the whole clip is one pass of convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from samuel_pl.config.audio_train import AudioTrainConfig


@dataclass
class VocoderConfig(AudioTrainConfig):
    stems: list[str] = field(default_factory=lambda: ["accompaniment"])
    """Stems of each song the vocoder trains on (what it will decode: the accompaniment)."""
    dim: int = 128
    """Width of the ConvNeXt blocks."""
    intermediate: int = 384
    """Hidden width of each block's pointwise MLP."""
    layers: int = 6
    """ConvNeXt blocks."""
    kernel: int = 7
    """Depthwise convolution kernel (frames, odd)."""
    n_fft_mult: int = 4
    """Inverse-STFT head: n_fft = n_fft_mult x codec.hop_length."""
    codec_weight: float = 1.0
    """Weight of the L1 distance between the codec features of the rendition and of the crop
    (the log-frequency band the harmony lives in; cf. HiFi-GAN's mel loss); 0: off."""
