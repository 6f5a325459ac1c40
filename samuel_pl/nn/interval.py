"""Interval features: a convolution over the pitch axis of semitone latents, shared across keys.

Harmony is relative: whether an accompaniment note fits depends on its interval to the vocal, not
on either pitch. In a latent whose channels are semitones (the log codec: channel k is the note
k semitones above ``f_min``), a 2-D convolution over (pitch, time) with weights shared along the
pitch axis sees intervals only. It maps the stacked (x_t, vocal) pitched channels to
``features`` maps per semitone; a transposition of both inputs by k channels moves the output by
k channels (exactly, away from the pitch edges, where zero padding stands for silence).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class IntervalFeatures(nn.Module):
    """(x_t, vocal) pitched channels -> per-semitone interval features.

    Args:
        pitch_channels: how many leading latent channels are semitones (P).
        features: feature maps per semitone (F); the output has ``F * P`` channels.
        span: pitch extent of each convolution in semitones (odd; 25 covers +-1 octave).
        hidden: hidden maps between the two convolutions.
    """

    def __init__(self, pitch_channels: int, features: int, span: int = 25, hidden: int = 16):
        super().__init__()
        if pitch_channels < 2:
            raise ValueError(f"model.interval_pitch_channels must be >= 2, got {pitch_channels}")
        if span < 3 or span % 2 == 0:
            raise ValueError(f"model.interval_span must be odd and >= 3, got {span}")
        self.pitch_channels, self.features = pitch_channels, features
        pad = span // 2
        self.net = nn.Sequential(
            nn.Conv2d(2, hidden, (span, 3), padding=(pad, 1)),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, (span, 1), padding=(pad, 0)),
            nn.SiLU(),
            nn.Conv2d(hidden, features, 1),
        )

    @property
    def out_channels(self) -> int:
        """Channels of the flattened output: features * pitch_channels."""
        return self.features * self.pitch_channels

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """x, cond: (B, C, T) with C >= P. Returns (B, F * P, T), feature-major."""
        p = self.pitch_channels
        if x.shape[1] < p:
            raise ValueError(f"latent has {x.shape[1]} channels, fewer than {p} pitch channels")
        img = torch.stack([x[:, :p], cond[:, :p]], dim=1)  # (B, 2, P, T)
        out = self.net(img)  # (B, F, P, T)
        return out.flatten(1, 2)  # (B, F * P, T)
