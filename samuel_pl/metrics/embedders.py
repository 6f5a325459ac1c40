"""Audio embedders for Frechet distances, behind one registry (``build_embedder``).

Every embedder is an ``nn.Module`` with ``name``, ``metric_name`` (how its distance is reported),
``sample_rate``, ``dim``, ``forward(audio (B, N) mono at sample_rate) -> (B, frames, dim)`` and
``embed(audio (C, N) numpy, sr) -> (frames, dim)`` which downmixes and resamples itself.

``mel`` is weight-free and always available; its distance is reported as "FD-mel", never as
FAD-VGGish. ``vggish`` and ``clap`` need local weights and are imported lazily.
"""

from __future__ import annotations

import importlib
import itertools
from functools import lru_cache
from typing import Any

import librosa
import numpy as np
import torch
from torch import nn

from samuel_pl.audio import convert_channels, resample
from samuel_pl.errors import SamuelError

EMBEDDERS: dict[str, str] = {
    "mel": "samuel_pl.metrics.embedders:MelStatsEmbedder",
    "vggish": "samuel_pl.metrics.vggish:VGGishEmbedder",
    "clap": "samuel_pl.metrics.clap:ClapEmbedder",
}


def build_embedder(name: str, **kwargs: Any) -> AudioEmbedder:
    """Build the embedder registered as ``name`` (see ``EMBEDDERS``); kwargs go to its class."""
    if name not in EMBEDDERS:
        raise SamuelError(f"unknown embedder {name!r}; valid: {', '.join(sorted(EMBEDDERS))}")
    module_name, cls_name = EMBEDDERS[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(**kwargs)


class AudioEmbedder(nn.Module):
    """Base class: subclasses set the class attributes and implement ``forward``."""

    name: str = ""
    metric_name: str = ""
    sample_rate: int = 16000
    dim: int = 0
    min_samples: int = 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, frames, dim)
        raise NotImplementedError

    @torch.no_grad()
    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Embed one clip: ``(C, N)`` or ``(N,)`` at ``sr`` -> float32 ``(frames, dim)``."""
        x = np.asarray(audio, dtype=np.float32)
        x = convert_channels(x[None] if x.ndim == 1 else x, 1)
        x = resample(x, sr, self.sample_rate)  # (1, N')
        if x.shape[1] < self.min_samples:
            x = np.pad(x, ((0, 0), (0, self.min_samples - x.shape[1])))
        tensors = itertools.chain(self.parameters(), self.buffers())
        device = next((t.device for t in tensors), torch.device("cpu"))
        out = self(torch.from_numpy(x).to(device))  # (1, frames, dim)
        return out[0].float().cpu().numpy()


@lru_cache(maxsize=8)
def _filters(sr: int, n_fft: int, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
    """Mel ``(n_mels, bins)`` and chroma ``(12, bins)`` filterbanks (cached: librosa is slow)."""
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=30.0, fmax=8000.0)
    return mel, librosa.filters.chroma(sr=sr, n_fft=n_fft)


class MelStatsEmbedder(AudioEmbedder):
    """Weight-free embedding: mean and std of log-mel, MFCC and chroma over ~1 s windows.

    Frames: STFT (n_fft 2048, hop 10 ms, 16 kHz). Windows of 100 frames (1 s) with a 50 frame
    hop; per window the mean and std of each of ``n_mels`` log-mel bands, ``n_mfcc`` MFCCs and 12
    chroma bins, so ``dim = 2 * (n_mels + n_mfcc + 12)`` (192 by default).

    Args:
        n_mels: mel bands (30 Hz - 8 kHz).
        n_mfcc: MFCCs (DCT-II of the log-mel bands, orthonormal).
    """

    name = "mel"
    metric_name = "FD-mel"
    sample_rate = 16000
    n_fft = 2048
    hop = 160
    window_frames = 100
    window_hop = 50

    def __init__(self, n_mels: int = 64, n_mfcc: int = 20) -> None:
        super().__init__()
        self.dim = 2 * (n_mels + n_mfcc + 12)
        self.min_samples = self.n_fft + self.hop * (self.window_frames - 1)
        mel, chroma = _filters(self.sample_rate, self.n_fft, n_mels)
        k = np.arange(n_mels)
        dct = np.cos(np.pi / n_mels * (k[None, :] + 0.5) * np.arange(n_mfcc)[:, None])
        dct *= np.sqrt(2.0 / n_mels)
        dct[0] /= np.sqrt(2.0)  # orthonormal DCT-II rows, (n_mfcc, n_mels)
        self.register_buffer("mel_fb", torch.tensor(mel, dtype=torch.float32), persistent=False)
        self.register_buffer(
            "chroma_fb", torch.tensor(chroma, dtype=torch.float32), persistent=False
        )
        self.register_buffer("dct", torch.tensor(dct, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def frame_features(self, audio: torch.Tensor) -> torch.Tensor:
        """Per-STFT-frame features ``(B, T, n_mels + n_mfcc + 12)`` of ``(B, N)`` audio."""
        spec = torch.stft(
            audio.float(),
            self.n_fft,
            self.hop,
            window=self.window,
            center=False,
            return_complex=True,
        ).abs()  # (B, bins, T)
        power = spec**2
        logmel = torch.log(self.mel_fb @ power + 1e-6)  # (B, n_mels, T)
        mfcc = self.dct @ logmel  # (B, n_mfcc, T)
        chroma = self.chroma_fb @ power  # (B, 12, T)
        chroma = chroma / chroma.amax(dim=1, keepdim=True).clamp_min(1e-8)
        return torch.cat([logmel, mfcc, chroma], dim=1).transpose(1, 2)  # (B, T, F)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` at 16 kHz (N >= ~1.1 s, shorter input is zero-padded) -> ``(B, W, dim)``."""
        if audio.dim() != 2:
            raise ValueError(f"expected (batch, samples), got {tuple(audio.shape)}")
        if audio.shape[1] < self.min_samples:
            audio = nn.functional.pad(audio, (0, self.min_samples - audio.shape[1]))
        feats = self.frame_features(audio)  # (B, T, F)
        win = feats.unfold(1, self.window_frames, self.window_hop)  # (B, W, F, window_frames)
        mean, std = win.mean(dim=-1), win.std(dim=-1)  # (B, W, F) each
        return torch.cat([mean, std], dim=-1)  # (B, W, 2F)
