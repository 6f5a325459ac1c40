"""Inverse-STFT output head (Vocos / iSTFTNet): frame features -> audio through ``torch.istft``.

Used by the VAE decoder (``istft_hop > 0``) and by the mel codec's vocoder. A convolution
predicts, per audio channel and frame, ``n_fft / 2 + 1`` log-magnitudes (capped at
``MAX_LOG_MAG``, biased to start at ``INIT_LOG_MAG``) and phases; Hann window, centred frames.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm


class ISTFTHead(nn.Module):
    """Frames (B, channels, F) -> audio (B, audio_channels, length) by an inverse STFT.

    Args:
        channels: input feature channels.
        audio_channels: output audio channels.
        hop: samples per frame.
        wn: weight-normalised convolution.
        kernel: convolution kernel in frames (odd; 1 = a per-frame linear map, as in Vocos).
        n_fft: STFT size (default ``4 * hop``).
    """

    MAX_LOG_MAG = 6.0
    INIT_LOG_MAG = -5.0  # start quiet: an untrained head would otherwise emit loud white noise

    def __init__(
        self,
        channels: int,
        audio_channels: int,
        hop: int,
        wn: bool,
        kernel: int = 7,
        n_fft: int | None = None,
    ) -> None:
        super().__init__()
        self.hop, self.audio_channels = int(hop), int(audio_channels)
        self.n_fft = 4 * self.hop if n_fft is None else int(n_fft)
        self.bins = self.n_fft // 2 + 1
        conv = nn.Conv1d(channels, 2 * audio_channels * self.bins, kernel, padding=kernel // 2)
        assert conv.bias is not None
        with torch.no_grad():  # channels (c, 0, bin) are log-magnitudes
            conv.bias.view(audio_channels, 2, self.bins)[:, 0].fill_(self.INIT_LOG_MAG)
        self.conv = weight_norm(conv) if wn else conv
        self.window: Tensor
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, h: Tensor, length: int | None = None) -> Tensor:
        """(B, channels, F) -> (B, audio_channels, length); length defaults to F * hop."""
        b, _, frames = h.shape
        n = frames * self.hop if length is None else int(length)
        if n == 0:  # one centred frame spans no samples between frame centres
            return h.new_zeros(b, self.audio_channels, 0)
        out = self.conv(h).float().reshape(b * self.audio_channels, 2, self.bins, frames)
        mag = out[:, 0].clamp(max=self.MAX_LOG_MAG).exp()
        spec = torch.polar(mag, out[:, 1])  # (B * C, bins, F) complex
        audio = torch.istft(
            spec,
            self.n_fft,
            hop_length=self.hop,
            window=self.window.float(),
            center=True,
            length=n,
        )
        return audio.reshape(b, self.audio_channels, -1).to(h.dtype)
