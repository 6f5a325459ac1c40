"""Multi-scale STFT discriminator (as in EnCodec, Defossez et al. 2022) with hinge losses and
feature matching, for adversarial training of the audio VAE.

Each scale sees the complex STFT (real and imaginary parts of every audio channel as input
planes, shape (B, 2C, frames, bins)) and applies 2-D convolutions that are dilated in time and
strided in frequency; it returns patch logits and the feature maps of every layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm


class STFTDiscriminator(nn.Module):
    """One scale: audio (B, C, N) -> (logits (B, 1, frames, bins'), feature maps)."""

    window: Tensor

    def __init__(
        self,
        n_fft: int,
        audio_channels: int = 1,
        channels: int = 16,
        dilations: tuple[int, ...] = (1, 2, 4),
    ) -> None:
        super().__init__()
        self.n_fft, self.hop = int(n_fft), int(n_fft) // 4
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        layers = [weight_norm(nn.Conv2d(2 * audio_channels, channels, (3, 9), padding=(1, 4)))]
        for d in dilations:
            conv = nn.Conv2d(
                channels, channels, (3, 9), stride=(1, 2), dilation=(d, 1), padding=(d, 4)
            )
            layers.append(weight_norm(conv))
        layers.append(weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))))
        self.layers = nn.ModuleList(layers)
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: Tensor) -> tuple[Tensor, list[Tensor]]:
        b, c, n = audio.shape
        spec = torch.stft(
            audio.reshape(b * c, n).float(),
            self.n_fft,
            self.hop,
            window=self.window,
            return_complex=True,
        )  # (B * C, bins, frames)
        x = torch.view_as_real(spec)  # (B * C, bins, frames, 2)
        x = x.reshape(b, c, *x.shape[1:]).permute(0, 1, 4, 3, 2)  # (B, C, 2, frames, bins)
        x = x.reshape(b, 2 * c, x.shape[3], x.shape[4])  # (B, 2C, frames, bins)
        feats = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            feats.append(x)
        return self.out(x), feats


class MultiScaleSTFTDiscriminator(nn.Module):
    """Several :class:`STFTDiscriminator` scales (one per FFT size)."""

    def __init__(
        self, fft_sizes: list[int] | tuple[int, ...], audio_channels: int = 1, channels: int = 16
    ) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            STFTDiscriminator(n, audio_channels, channels) for n in fft_sizes
        )

    def forward(self, audio: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        """(B, C, N) -> (logits per scale, feature maps per scale)."""
        outs = [d(audio) for d in self.scales]
        return [o[0] for o in outs], [o[1] for o in outs]


def hinge_discriminator_loss(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """mean_scales [ E relu(1 - D(x)) + E relu(1 + D(G(z))) ]."""
    terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake)]
    return torch.stack(terms).mean()


def hinge_generator_loss(fake: list[Tensor]) -> Tensor:
    """mean_scales E relu(1 - D(G(z)))."""
    return torch.stack([F.relu(1 - f).mean() for f in fake]).mean()


def feature_matching_loss(real: list[list[Tensor]], fake: list[list[Tensor]]) -> Tensor:
    """Mean over scales and layers of |f_real - f_fake|_1 / mean |f_real| (relative L1)."""
    terms = [
        (fr.detach() - ff).abs().mean() / fr.detach().abs().mean().clamp_min(1e-8)
        for sr, sf in zip(real, fake)
        for fr, ff in zip(sr, sf)
    ]
    return torch.stack(terms).mean()
