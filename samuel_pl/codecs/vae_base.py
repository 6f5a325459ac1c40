"""Shared machinery of the VAE codecs (``stable_audio`` and ``vae``).

A VAE codec wraps a model with an ``encoder`` (audio (B, C, N) -> posterior parameters
(B, 2 * latent, N / hop), mean and softplus scale) and a ``decoder`` (latents (B, latent, T) ->
audio (B, C, T * hop)). Latents are the posterior mean (or a seeded draw), audio is zero-padded
to a multiple of the hop, and long signals go through overlapping windows with a crossfade
(:mod:`samuel_pl.codecs.chunking`), so memory stays bounded by ``chunk_frames``.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from samuel_pl.codecs.base import LatentCodec
from samuel_pl.codecs.chunking import overlap_add, pad_to_multiple
from samuel_pl.errors import SamuelError

PRECISIONS = {"float32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
VAE_CODEC_VERSION = 1  # bump when encode's maths changes (invalidates latent caches)

_HASHES: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-1 (16 hex digits) of a file's bytes, remembered per (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha1()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()[:16]
    return _HASHES[key]


def dtype_of(precision: str, what: str = "codec.precision") -> torch.dtype:
    """torch dtype of a precision name (float32 | bf16 | fp16)."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise SamuelError(f"{what}={precision!r}: use one of {', '.join(PRECISIONS)}") from None


class PosteriorCodec(LatentCodec):
    """A VAE with a diagonal-Gaussian posterior as a latent codec.

    Args:
        model: has ``encoder`` and ``decoder`` submodules (see the module docstring).
        sample_rate, audio_channels, latent_channels, hop_length: the model's geometry.
        precision: float32 | bf16 | fp16: the weights are rounded to it, and it is the compute
            dtype on GPUs; on CPU the rounded weights compute in float32 (oneDNN's bf16
            convolutions give wrong results on some CPUs, e.g. AMX BRGEMM kernels on Intel Xeons,
            pytorch#169688: a latent 74% of its peak off; PyTorch's own bf16 kernels are 30x
            slower). Latents/audio come out float32.
        sample_posterior: latents are seeded draws instead of the posterior mean.
        chunk_frames, chunk_overlap: window and shared frames of chunked encode/decode
            (``chunk_frames <= 0``: whole signals).
        identity: what identifies the weights and architecture (hashed into ``codec_id``).
        path: where the weights came from (described, not hashed: a copy keeps the id).
        seed: seed of posterior draws.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        sample_rate: int,
        audio_channels: int,
        latent_channels: int,
        hop_length: int,
        precision: str = "float32",
        sample_posterior: bool = False,
        chunk_frames: int = 256,
        chunk_overlap: int = 64,
        identity: dict[str, Any] | None = None,
        path: str | Path = "",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if chunk_frames > 0 and not 0 <= 2 * chunk_overlap <= chunk_frames:
            raise SamuelError(
                f"codec.chunk_overlap={chunk_overlap} must be between 0 and half of "
                f"codec.chunk_frames={chunk_frames}"
            )
        self.dtype = dtype_of(precision)
        self.precision = precision
        # nn.Module.to: diffusers' own .to() warns about dtype casts it does not need here.
        self.model: Any = nn.Module.to(model, dtype=self.dtype).eval().requires_grad_(False)
        self.__dict__["_cpu_float"] = None  # the float32 copy CPU compute uses (not a submodule)
        self._sr, self._channels = int(sample_rate), int(audio_channels)
        self._latent, self._hop = int(latent_channels), int(hop_length)
        self.sample_posterior = bool(sample_posterior)
        self.chunk_frames, self.chunk_overlap = int(chunk_frames), int(chunk_overlap)
        self.identity = dict(identity or {})
        self.path = os.fspath(path)
        self.seed = int(seed)

    # -- protocol properties -------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self._sr

    @property
    def audio_channels(self) -> int:
        return self._channels

    @property
    def latent_channels(self) -> int:
        return self._latent

    @property
    def hop_length(self) -> int:
        return self._hop

    def latent_fields(self) -> dict[str, Any]:
        return {
            "version": VAE_CODEC_VERSION,
            **self.identity,
            "precision": self.precision,
            "sample_posterior": self.sample_posterior,
            "chunk_frames": self.chunk_frames,
            "chunk_overlap": self.chunk_overlap,
            # half precisions compute in float32 on CPU since then: older caches are refused
            **({"cpu_compute": "float32"} if self.dtype != torch.float32 else {}),
        }

    # -- encode / decode -----------------------------------------------------------------------
    def _device(self) -> torch.device:
        for p in self.model.parameters():
            return p.device
        return torch.device("cpu")

    def _compute(self) -> tuple[Any, torch.dtype]:
        """(model, dtype) of the forward: on CPU, a float32 copy of the (rounded) weights."""
        device = self._device()
        if device.type != "cpu" or self.dtype == torch.float32:
            return self.model, self.dtype
        if self.__dict__["_cpu_float"] is None:  # weights are frozen: one copy stays valid
            self.__dict__["_cpu_float"] = copy.deepcopy(self.model).float()
        return self.__dict__["_cpu_float"], torch.float32

    def posterior_params(self, audio: Tensor) -> Tensor:
        """(B, audio_channels, N) -> posterior parameters (B, 2 * latent, ceil(N / hop))."""
        model, dtype = self._compute()

        def run(chunk: Tensor) -> Tensor:
            return model.encoder(chunk.to(self._device(), dtype)).float()

        x = pad_to_multiple(audio.float(), self._hop)  # (B, C, T * hop)
        return overlap_add(run, x, self.chunk_frames, self.chunk_overlap, self._hop, 1)

    @torch.no_grad()
    def _encode(self, audio: Tensor) -> Tensor:
        """(B, audio_channels, N) -> latents (B, latent_channels, ceil(N / hop))."""
        mean, scale = self.posterior_params(audio).chunk(2, dim=1)  # (B, L, T) each
        if not self.sample_posterior:
            return mean
        gen = torch.Generator().manual_seed(self.seed)
        noise = torch.randn(mean.shape, generator=gen).to(mean.device)
        return mean + (F.softplus(scale) + 1e-4) * noise

    @torch.no_grad()
    def decode(self, latent: Tensor) -> Tensor:
        """Latents (B, latent_channels, T) -> audio (B, audio_channels, T * hop)."""
        if latent.dim() != 3 or latent.shape[1] != self._latent:
            raise ValueError(f"decode expects (B, {self._latent}, T), got {tuple(latent.shape)}")

        model, dtype = self._compute()

        def run(chunk: Tensor) -> Tensor:
            return model.decoder(chunk.to(self._device(), dtype)).float()

        return overlap_add(run, latent.float(), self.chunk_frames, self.chunk_overlap, 1, self._hop)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": self.path}
