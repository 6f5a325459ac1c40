"""Oobleck-style audio VAE (the architecture of Stable Audio Open's autoencoder), pure torch.

Encoder: Conv(k=7) -> blocks of [residual units (dilations 1, 3, 9) -> Snake -> strided Conv
(k = 2 * stride)] -> Snake -> Conv(k=3) to 2 * latent_dim channels (posterior mean and scale,
std = softplus(scale) + 1e-4). The decoder mirrors it with transposed convolutions. Snake
activation: x + sin^2(alpha * x) / beta with per-channel log-scale alpha, beta (Ziyin et al.
2020; "SnakeBeta" in BigVGAN / stable-audio-tools). Lengths: ``encode`` of N samples (N a multiple
of ``hop_length``) gives N / hop_length frames; ``decode`` of T frames gives T * hop_length.

``istft_hop > 0`` swaps the decoder's last up-sampling blocks for an inverse-STFT head (as in
Vocos / iSTFTNet): the decoder stops at ``istft_hop`` samples per frame and predicts, per frame,
a log-magnitude and a phase for ``4 * istft_hop``-point STFT bins, which ``torch.istft`` turns
into audio. Magnitudes are produced directly instead of being built up by transposed
convolutions, and a training step is cheaper (fewer waveform-rate blocks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from samuel_pl.nn.istft import ISTFTHead

INIT_SCALE_BIAS = -4.0  # initial bias of the posterior's scale channels


@dataclass
class OobleckConfig:
    """Size of an Oobleck VAE (defaults: Stable Audio Open 1.0, 44.1 kHz stereo, hop 2048).

    The fields after ``audio_channels`` are the ``vae`` config section's architecture keys, with
    the same names (:meth:`from_sizes` picks them out of it).
    """

    audio_channels: int = 2
    channels: int = 128
    c_mults: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    strides: list[int] = field(default_factory=lambda: [2, 4, 4, 8, 8])
    latent_dim: int = 64
    dilations: list[int] = field(default_factory=lambda: [1, 3, 9])
    weight_norm: bool = True
    istft_hop: int = 0
    """0: waveform output; else the iSTFT head's hop (a product of the first ``strides``)."""

    @classmethod
    def from_sizes(cls, sizes: Mapping[str, Any], audio_channels: int) -> OobleckConfig:
        """The sizes named by this class's fields in ``sizes`` (e.g. a ``vae`` config section
        as a dict; other keys are ignored), with ``audio_channels``."""
        names = [f.name for f in fields(cls) if f.name != "audio_channels"]
        missing = [n for n in names if n not in sizes]
        if missing:
            raise ValueError(f"VAE sizes lack {', '.join(missing)}")
        return cls(audio_channels=int(audio_channels), **{n: sizes[n] for n in names})

    @property
    def hop_length(self) -> int:
        """Audio samples per latent frame (product of the strides)."""
        return int(math.prod(self.strides))

    def validate(self) -> None:
        """Raise ValueError for sizes that cannot build."""
        if len(self.c_mults) != len(self.strides):
            raise ValueError(
                f"c_mults {self.c_mults} and strides {self.strides} need the same length"
            )
        if min(self.strides, default=2) < 2:
            raise ValueError(f"every stride must be >= 2, got {self.strides}")
        if self.channels < 1 or self.latent_dim < 1:
            raise ValueError("channels and latent_dim must be positive")
        if self.audio_channels not in (1, 2):
            raise ValueError(f"audio_channels must be 1 or 2, got {self.audio_channels}")
        if self.istft_hop:
            self.istft_blocks()

    def istft_blocks(self) -> int:
        """Number k of leading ``strides`` the iSTFT head replaces (their product = istft_hop)."""
        prods = [math.prod(self.strides[:k]) for k in range(1, len(self.strides) + 1)]
        if self.istft_hop not in prods:
            raise ValueError(
                f"istft_hop={self.istft_hop} must be a product of the first strides "
                f"{self.strides}: one of {prods}"
            )
        return prods.index(self.istft_hop) + 1


def _conv(
    cin: int, cout: int, k: int, wn: bool, stride: int = 1, dilation: int = 1, padding: int = 0
) -> nn.Module:
    conv = nn.Conv1d(cin, cout, k, stride=stride, dilation=dilation, padding=padding)
    return weight_norm(conv) if wn else conv


class Snake(nn.Module):
    """Snake-beta activation with log-scale per-channel parameters: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.zeros(1, channels, 1))
        self.log_beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        alpha, beta = self.log_alpha.exp(), self.log_beta.exp()
        return x + torch.sin(alpha * x).pow(2) / (beta + 1e-9)


class ResidualUnit(nn.Module):
    """Snake -> dilated Conv(k=7) -> Snake -> Conv(k=1), plus the input: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, dilation: int, wn: bool) -> None:
        super().__init__()
        self.act1 = Snake(channels)
        self.conv1 = _conv(channels, channels, 7, wn, dilation=dilation, padding=3 * dilation)
        self.act2 = Snake(channels)
        self.conv2 = _conv(channels, channels, 1, wn)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act2(self.conv1(self.act1(x))))


class EncoderBlock(nn.Module):
    """Residual units at C_in, then a strided conv: (B, C_in, T) -> (B, C_out, T / stride)."""

    def __init__(self, cin: int, cout: int, stride: int, dilations: list[int], wn: bool) -> None:
        super().__init__()
        self.units = nn.Sequential(*[ResidualUnit(cin, d, wn) for d in dilations])
        self.act = Snake(cin)
        self.down = _conv(cin, cout, 2 * stride, wn, stride=stride, padding=math.ceil(stride / 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.units(x)))


class DecoderBlock(nn.Module):
    """A transposed strided conv, then residual units: (B, C_in, T) -> (B, C_out, T * stride)."""

    def __init__(self, cin: int, cout: int, stride: int, dilations: list[int], wn: bool) -> None:
        super().__init__()
        self.act = Snake(cin)
        pad = math.ceil(stride / 2)
        # (T - 1) s - 2 pad + 2 s + out_pad = T s  <=>  out_pad = 2 pad - s (0 or 1)
        up = nn.ConvTranspose1d(
            cin, cout, 2 * stride, stride=stride, padding=pad, output_padding=2 * pad - stride
        )
        self.up = weight_norm(up) if wn else up
        self.units = nn.Sequential(*[ResidualUnit(cout, d, wn) for d in dilations])

    def forward(self, x: Tensor) -> Tensor:
        return self.units(self.up(self.act(x)))


class OobleckEncoder(nn.Module):
    """Audio (B, audio_channels, N) -> posterior parameters (B, 2 * latent_dim, N / hop)."""

    def __init__(self, cfg: OobleckConfig) -> None:
        super().__init__()
        wn, widths = cfg.weight_norm, [cfg.channels * m for m in [1, *cfg.c_mults]]
        self.conv_in = _conv(cfg.audio_channels, widths[0], 7, wn, padding=3)
        self.blocks = nn.Sequential(
            *[
                EncoderBlock(widths[i], widths[i + 1], s, cfg.dilations, wn)
                for i, s in enumerate(cfg.strides)
            ]
        )
        self.act = Snake(widths[-1])
        self.conv_out = _conv(widths[-1], 2 * cfg.latent_dim, 3, wn, padding=1)
        bias = self.conv_out.bias
        if isinstance(bias, Tensor):  # start with std = softplus(-4) ~ 0.02: sampling noise
            with torch.no_grad():  # does not drown the untrained means (fast early training)
                bias[cfg.latent_dim :].fill_(INIT_SCALE_BIAS)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.act(self.blocks(self.conv_in(x))))


class OobleckDecoder(nn.Module):
    """Latents (B, latent_dim, T) -> audio (B, audio_channels, T * hop)."""

    def __init__(self, cfg: OobleckConfig) -> None:
        super().__init__()
        wn, widths = cfg.weight_norm, [cfg.channels * m for m in [1, *cfg.c_mults]]
        self.conv_in = _conv(cfg.latent_dim, widths[-1], 7, wn, padding=3)
        n = len(cfg.strides)
        first = cfg.istft_blocks() if cfg.istft_hop else 0  # blocks the iSTFT head replaces
        self.blocks = nn.Sequential(
            *[
                DecoderBlock(widths[i + 1], widths[i], cfg.strides[i], cfg.dilations, wn)
                for i in reversed(range(first, n))
            ]
        )
        self.act = Snake(widths[first])
        self.head: ISTFTHead | None = None
        if cfg.istft_hop:
            self.head = ISTFTHead(widths[first], cfg.audio_channels, cfg.istft_hop, wn)
        else:
            conv = nn.Conv1d(widths[0], cfg.audio_channels, 7, padding=3, bias=False)
            self.conv_out = weight_norm(conv) if wn else conv

    def forward(self, z: Tensor) -> Tensor:
        h = self.act(self.blocks(self.conv_in(z)))
        return self.head(h) if self.head is not None else self.conv_out(h)


def posterior(params: Tensor) -> tuple[Tensor, Tensor]:
    """Split encoder output (B, 2L, T) into mean (B, L, T) and std = softplus(scale) + 1e-4."""
    mean, scale = params.chunk(2, dim=1)
    return mean, F.softplus(scale) + 1e-4


def kl_to_standard_normal(mean: Tensor, std: Tensor) -> Tensor:
    """KL(N(mean, std^2) || N(0, 1)) summed over channels, averaged over batch and frames."""
    var = std.pow(2)
    return 0.5 * (mean.pow(2) + var - var.log() - 1.0).sum(dim=1).mean()


class OobleckVAE(nn.Module):
    """Encoder + diagonal-Gaussian bottleneck + decoder.

    Args:
        cfg: architecture sizes (:class:`OobleckConfig`).
    """

    def __init__(self, cfg: OobleckConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or OobleckConfig()
        self.cfg.validate()
        self.encoder = OobleckEncoder(self.cfg)
        self.decoder = OobleckDecoder(self.cfg)

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def encode(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, N) with N a multiple of hop -> (mean, std), each (B, latent_dim, N / hop)."""
        return posterior(self.encoder(audio))

    def decode(self, z: Tensor) -> Tensor:
        """(B, latent_dim, T) -> (B, audio_channels, T * hop)."""
        return self.decoder(z)

    def forward(
        self, audio: Tensor, sample: bool = True, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruct (B, C, N): returns (reconstruction (B, C, N), mean, std)."""
        mean, std = self.encode(audio)
        z = mean
        if sample:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device)
            z = mean + std * noise.to(mean.dtype)
        return self.decode(z), mean, std


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold weight-norm parametrisations into plain weights (faster inference), in place."""
    from torch.nn.utils import parametrize

    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module
