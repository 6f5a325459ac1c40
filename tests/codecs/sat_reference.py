"""An independent stand-in for stable-audio-tools' Oobleck autoencoder, written for the tests.

It follows stable-audio-tools' module nesting (``encoder.layers.N`` Sequentials, SnakeBeta with
(C,)-shaped alpha/beta, ``torch.nn.utils.weight_norm`` convolutions) so that its state dict has
that library's key names; the loader under test must map them onto diffusers' model. Outputs
of this reference are the expected values.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils import weight_norm


def _wn(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return weight_norm(module)


class SnakeBeta(nn.Module):
    def __init__(self, channels: int, gen: torch.Generator) -> None:
        super().__init__()
        # random log-scale parameters so that a wrong reshape or swap changes the output
        self.alpha = nn.Parameter(0.3 * torch.randn(channels, generator=gen))
        self.beta = nn.Parameter(0.3 * torch.randn(channels, generator=gen))

    def forward(self, x: Tensor) -> Tensor:
        a = self.alpha.exp()[None, :, None]
        b = self.beta.exp()[None, :, None]
        return x + (1.0 / (b + 1e-9)) * torch.sin(x * a).pow(2)


class ResidualUnit(nn.Module):
    def __init__(self, ch: int, dilation: int, gen: torch.Generator) -> None:
        super().__init__()
        pad = 3 * dilation
        self.layers = nn.Sequential(
            SnakeBeta(ch, gen),
            _wn(nn.Conv1d(ch, ch, 7, dilation=dilation, padding=pad)),
            SnakeBeta(ch, gen),
            _wn(nn.Conv1d(ch, ch, 1)),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


def encoder_block(cin: int, cout: int, stride: int, gen: torch.Generator) -> nn.Module:
    block = nn.Module()
    block.layers = nn.Sequential(
        *[ResidualUnit(cin, d, gen) for d in (1, 3, 9)],
        SnakeBeta(cin, gen),
        _wn(nn.Conv1d(cin, cout, 2 * stride, stride=stride, padding=math.ceil(stride / 2))),
    )
    block.forward = block.layers.forward  # type: ignore[method-assign]
    return block


def decoder_block(cin: int, cout: int, stride: int, gen: torch.Generator) -> nn.Module:
    up = nn.ConvTranspose1d(cin, cout, 2 * stride, stride=stride, padding=math.ceil(stride / 2))
    block = nn.Module()
    block.layers = nn.Sequential(
        SnakeBeta(cin, gen), _wn(up), *[ResidualUnit(cout, d, gen) for d in (1, 3, 9)]
    )
    block.forward = block.layers.forward  # type: ignore[method-assign]
    return block


class SATAutoencoder(nn.Module):
    """encoder: audio -> (B, 2 * latent, T); decoder: (B, latent, T) -> audio."""

    def __init__(self, io: int, ch: int, c_mults: list[int], strides: list[int], latent: int):
        super().__init__()
        gen = torch.Generator().manual_seed(7)
        m = [1, *c_mults]
        n = len(strides)
        self.encoder = nn.Module()
        self.encoder.layers = nn.Sequential(
            _wn(nn.Conv1d(io, m[0] * ch, 7, padding=3)),
            *[encoder_block(m[i] * ch, m[i + 1] * ch, strides[i], gen) for i in range(n)],
            SnakeBeta(m[-1] * ch, gen),
            _wn(nn.Conv1d(m[-1] * ch, 2 * latent, 3, padding=1)),
        )
        self.decoder = nn.Module()
        self.decoder.layers = nn.Sequential(
            _wn(nn.Conv1d(latent, m[-1] * ch, 7, padding=3)),
            *[
                decoder_block(m[i] * ch, m[i - 1] * ch, strides[i - 1], gen)
                for i in range(n, 0, -1)
            ],
            SnakeBeta(m[0] * ch, gen),
            _wn(nn.Conv1d(m[0] * ch, io, 7, padding=3, bias=False)),
        )
        with torch.no_grad():  # non-trivial weight-norm gains and biases
            for p in self.parameters():
                if p.dim() <= 1 or p.shape[1:].numel() == 1:
                    p.add_(0.05 * torch.randn(p.shape, generator=gen))

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder.layers(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder.layers(z)


def sat_config(io: int, ch: int, c_mults: list[int], strides: list[int], latent: int, sr: int):
    """A stable-audio-tools autoencoder config (standalone ``model_type: autoencoder``)."""
    enc = {"in_channels": io, "channels": ch, "c_mults": c_mults, "strides": strides,
           "latent_dim": 2 * latent, "use_snake": True}  # fmt: skip
    dec = {"out_channels": io, "channels": ch, "c_mults": c_mults, "strides": strides,
           "latent_dim": latent, "use_snake": True, "final_tanh": False}  # fmt: skip
    return {
        "model_type": "autoencoder",
        "sample_rate": sr,
        "audio_channels": io,
        "model": {
            "encoder": {"type": "oobleck", "config": enc},
            "decoder": {"type": "oobleck", "config": dec},
            "bottleneck": {"type": "vae"},
            "latent_dim": latent,
            "downsampling_ratio": int(math.prod(strides)),
            "io_channels": io,
        },
    }
