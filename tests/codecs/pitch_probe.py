"""Probes of a log-frequency codec's pitch resolution, shared by the log (test_mel) and pitched
(test_pitched) codec tests: the share of a tone's filter energy in its own channel, and how far
a one-semitone transposition is from a one-channel shift."""

from __future__ import annotations

import math

import numpy as np
import torch

from samuel_pl.codecs.mel import MelCodec
from samuel_pl.codecs.pitched import PitchedCodec

SR = 22050
TRANSPOSE_BOUND = 0.12  # energy-weighted mean |log error| of a one-semitone channel shift (1 dB)


def old_log_codec() -> MelCodec:
    return MelCodec(n_mels=64, scale="log", f_min=110.0)


def sines(freqs: list[float], seconds: float = 1.5) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return torch.stack([torch.sin(2 * math.pi * f * t) for f in freqs])[:, None]  # (B, 1, N)


def own_channel_share(codec: MelCodec | PitchedCodec, f_min: float, channels: int) -> np.ndarray:
    """Share of the filter outputs (linear) in the tone's own channel, one sine per semitone
    channel at its centre, frames away from the edges: (channels,)."""
    freqs = [f_min * 2 ** (k / 12) for k in range(channels)]
    energy = torch.exp(codec.encode(sines(freqs), SR))[:, :, 20:-20].mean(-1)  # (B, M)
    own = energy[torch.arange(channels), torch.arange(channels)]
    return (own / energy.sum(-1)).numpy()


def harmonic(f0: float) -> torch.Tensor:
    t = torch.arange(SR) / SR
    return sum(a * torch.sin(2 * math.pi * f0 * k * t) for k, a in [(1, .5), (2, .3), (3, .2),
                                                                     (4, .1)])  # fmt: skip


def transposition_errors(codec: MelCodec | PitchedCodec, midis: list[int]) -> np.ndarray:
    """Per MIDI note: a harmonic tone one semitone up against the tone's latent shifted up by one
    channel, the energy-weighted mean |difference| (log units) over the semitone channels."""
    hz = [440 * 2 ** ((m - 69) / 12) for m in midis]
    x = torch.stack([harmonic(f) for f in hz] + [harmonic(f * 2 ** (1 / 12)) for f in hz])
    z = codec.encode(x[:, None], SR)[:, :, 8:-8].mean(-1)  # (2B, M)
    pitched = getattr(codec, "semitones", codec.latent_channels)
    z0, z1 = z[: len(midis), : pitched - 1], z[len(midis) :, 1:pitched]
    w = torch.exp(z0)
    return ((w * (z1 - z0).abs()).sum(-1) / w.sum(-1)).numpy()
