"""LitVocoder: trains the mel codec's vocoder (``task: vocoder``) on codec features of audio crops.

Each training crop is encoded by the configured mel / log-frequency codec (exactly the features
the diffusion model generates) and the Vocos-style network (:mod:`samuel_pl.nn.vocos`) renders
it back to audio; the shared loop (:class:`~samuel_pl.lit.audio_gan.LitAudioGAN`) scores the
rendition against the crop (MR-STFT [+ L1] [+ discriminator]). The mel codec decodes with the
checkpoint when ``codec.vocoder=.../last.ckpt`` is set (:mod:`samuel_pl.codecs.vocoder`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from samuel_pl.codecs import build_codec
from samuel_pl.codecs.vocoder import AUTO, GRIFFIN_LIM, VOCODER_CODECS, build_vocoder
from samuel_pl.config import ConfigError, FitConfig, load_config, to_dict
from samuel_pl.lit.audio_gan import LitAudioGAN
from samuel_pl.lit.samuel import config_from_hparams


def check_vocoder_config(cfg: FitConfig) -> None:
    """Raise ConfigError for a config whose vocoder cannot train."""
    c, d = cfg.codec, cfg.data
    problems = []
    if c.type not in VOCODER_CODECS:
        problems.append(
            f"codec.type={c.type!r}: a vocoder decodes the weight-free codecs (codec.type="
            f"{' | '.join(VOCODER_CODECS)})"
        )
    if d.sample_rate != c.sample_rate:
        problems.append(
            f"data.sample_rate={d.sample_rate} must equal codec.sample_rate={c.sample_rate}"
        )
    if d.channels != 1:
        problems.append(f"data.channels={d.channels}: the mel codec and its vocoder are mono")
    if c.vocoder not in GRIFFIN_LIM | {AUTO}:
        problems.append("codec.vocoder is set: a vocoder trains on the codec's features, unset it")
    if cfg.vocoder.discriminator and not cfg.vocoder.disc_fft_sizes:
        problems.append("vocoder.disc_fft_sizes is empty")
    if problems:
        raise ConfigError("; ".join(problems))


class LitVocoder(LitAudioGAN):
    """The mel codec's vocoder (+ optional discriminator) as a LightningModule.

    Args:
        config: the full config as a plain dict or a :class:`FitConfig` (``task: vocoder``).
    """

    def __init__(self, config: dict[str, Any] | FitConfig | None = None) -> None:
        if config is None:
            config = load_config(None, ["task=vocoder"])
        if isinstance(config, FitConfig):
            config = to_dict(config)
        cfg = config_from_hparams(config)
        check_vocoder_config(cfg)
        super().__init__(cfg, audio_channels=1)
        self.save_hyperparameters({"config": config})
        self.codec = build_codec(dataclasses.replace(cfg.codec, vocoder=""))  # features only
        sizes = dataclasses.asdict(cfg.vocoder)
        self.vocoder = build_vocoder(sizes, self.codec.latent_channels, self.codec.hop_length)
        self.generator = self.vocoder

    @property
    def hop_length(self) -> int:
        return int(self.codec.hop_length)

    def features(self, x: Tensor) -> Tensor:
        """Audio (B, 1, N) -> codec frames (B, M, N // hop + 1), no gradient."""
        with torch.no_grad():
            return self.codec.encode(x, self.codec.sample_rate)

    def generate(
        self, x: Tensor, train: bool
    ) -> tuple[Tensor, Tensor, Tensor | None, dict[str, Tensor]]:
        """Render the crop's features; scored against its first (frames - 1) x hop samples, plus
        ``codec_weight`` x the L1 distance between the rendition's codec features and the crop's."""
        feats = self.features(x)  # (B, M, F)
        y = self.vocoder(feats)  # (B, 1, (F - 1) * hop)
        w = self.cfg.vocoder.codec_weight
        if w <= 0:
            return y, x[..., : y.shape[-1]], None, {}
        codec_l1 = (self.codec.encode(y, self.codec.sample_rate) - feats).abs().mean()
        return y, x[..., : y.shape[-1]], w * codec_l1, {"codec_l1": codec_l1}

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Audio (B, 1, N) -> the vocoder's rendition of its codec features (same length)."""
        y = self.vocoder(self.features(x))
        return torch.nn.functional.pad(y, (0, x.shape[-1] - y.shape[-1]))
