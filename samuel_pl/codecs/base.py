"""The latent codec protocol and the ``build_codec(cfg.codec)`` registry keyed on ``cfg.type``.

A codec maps audio (B, C_audio, N) at its own sample rate to latents (B, latent_channels, T) and
back. Every codec has a stable ``codec_id`` (type + short hash of the config fields that change
the latents) that the latent cache uses to refuse latents made by a different codec.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from samuel_pl.config.schema import CodecConfig
from samuel_pl.config.validate import allow_codec_type
from samuel_pl.errors import SamuelError


def config_hash(fields: dict[str, Any], length: int = 8) -> str:
    """Short SHA-1 of a JSON-serialisable dict (key order independent, stable across processes)."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def resample(audio: Tensor, orig_sr: int, target_sr: int) -> Tensor:
    """Resample (B, C, N) audio with soxr via ``samuel_pl.audio``; (B, C, N') on the same device."""
    if orig_sr == target_sr:
        return audio
    from samuel_pl.audio import resample as resample_np

    x = audio.detach().to("cpu", torch.float32).numpy()  # (B, C, N)
    out = np.stack([resample_np(item, orig_sr, target_sr) for item in x])  # (B, C, N')
    return torch.from_numpy(out).to(audio.device, audio.dtype)


class LatentCodec(nn.Module, abc.ABC):
    """Audio <-> latent codec behind one interface (mel, Stable Audio Oobleck VAE, trained VAE).

    Subclasses implement ``_encode`` (audio already at ``sample_rate`` with ``audio_channels``
    channels) and ``decode``, and set the properties below.
    """

    #: ``cfg.type`` this codec is registered under.
    type_name: str = ""

    @property
    @abc.abstractmethod
    def sample_rate(self) -> int:
        """Audio sample rate the codec works at (Hz)."""

    @property
    @abc.abstractmethod
    def audio_channels(self) -> int:
        """Audio channels that ``decode`` returns (and ``encode`` converts to)."""

    @property
    @abc.abstractmethod
    def latent_channels(self) -> int:
        """Channels of a latent frame."""

    @property
    @abc.abstractmethod
    def hop_length(self) -> int:
        """Audio samples per latent frame."""

    @property
    def frame_rate(self) -> float:
        """Latent frames per second of audio."""
        return self.sample_rate / self.hop_length

    @abc.abstractmethod
    def latent_fields(self) -> dict[str, Any]:
        """The config values that change the latents (hashed into ``codec_id``)."""

    @property
    def codec_id(self) -> str:
        """Stable id, e.g. ``mel-1a2b3c4d``: type + short hash of :meth:`latent_fields`."""
        return f"{self.type_name}-{config_hash({'type': self.type_name, **self.latent_fields()})}"

    def num_frames(self, num_samples: int) -> int:
        """Latent frames T that ``encode`` gives for ``num_samples`` samples at ``sample_rate``."""
        return math.ceil(num_samples / self.hop_length)

    def num_samples(self, num_frames: int) -> int:
        """Audio samples N that ``decode`` gives for ``num_frames`` latent frames."""
        return num_frames * self.hop_length

    def to_channels(self, audio: Tensor) -> Tensor:
        """(B, C, N) -> (B, audio_channels, N): average to mono, duplicate mono, or downmix."""
        c = audio.shape[1]
        if c == self.audio_channels:
            return audio
        mono = audio.mean(dim=1, keepdim=True)  # (B, 1, N)
        return mono.expand(-1, self.audio_channels, -1).contiguous()

    def encode(self, audio: Tensor, sample_rate: int) -> Tensor:
        """Encode audio (B, C_audio, N) at ``sample_rate`` to latents (B, latent_channels, T).

        Audio is channel-converted and resampled to the codec's rate first.
        """
        if audio.dim() != 3:
            raise ValueError(f"encode expects audio of shape (B, C, N), got {tuple(audio.shape)}")
        audio = resample(self.to_channels(audio.float()), int(sample_rate), self.sample_rate)
        return self._encode(audio)

    @abc.abstractmethod
    def _encode(self, audio: Tensor) -> Tensor:
        """(B, audio_channels, N) at ``sample_rate`` -> (B, latent_channels, T)."""

    @abc.abstractmethod
    def decode(self, latent: Tensor) -> Tensor:
        """Decode latents (B, latent_channels, T) to audio (B, audio_channels, N)."""

    @torch.no_grad()
    def silence(self, frames: int = 32) -> Tensor:
        """Latent frame (latent_channels,) of digital silence: the middle frame of ``frames``
        encoded silent frames, i.e. what zero-padded audio encodes to away from its edges."""
        ref = next(iter([*self.parameters(), *self.buffers()]), None)
        device = ref.device if ref is not None else torch.device("cpu")
        audio = torch.zeros(1, self.audio_channels, self.num_samples(frames), device=device)
        z = self.encode(audio, self.sample_rate)  # (1, latent_channels, T)
        return z[0, :, z.shape[-1] // 2].float().cpu()

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary for manifests and logs."""
        return {
            "codec_id": self.codec_id,
            "type": self.type_name,
            "sample_rate": self.sample_rate,
            "audio_channels": self.audio_channels,
            "latent_channels": self.latent_channels,
            "hop_length": self.hop_length,
            "frame_rate": self.frame_rate,
            **self.latent_fields(),
        }


# ---------------------------------------------------------------------------------------------
# Registry: cfg.codec.type -> "module:factory" (imported lazily so heavy backends cost nothing
# until used). Add a codec by adding one line here (or calling register_codec at import time).
CodecFactory = Callable[[CodecConfig], LatentCodec]

_REGISTRY: dict[str, str | CodecFactory] = {
    "mel": "samuel_pl.codecs.mel:MelCodec.from_config",
    "pitched": "samuel_pl.codecs.pitched:PitchedCodec.from_config",
    "stable_audio": "samuel_pl.codecs.stable_audio:StableAudioCodec.from_config",
    "vae": "samuel_pl.codecs.vae:VAECodec.from_config",
}

# Types the schema names but that are not in this build yet: the message says what brings them.
_PLANNED: dict[str, str] = {}


def register_codec(name: str, factory: str | CodecFactory) -> None:
    """Register ``factory`` (callable or ``"module:attr.path"``) for ``cfg.codec.type == name``
    (configs with ``codec.type=name`` then validate)."""
    _REGISTRY[name] = factory
    allow_codec_type(name)
    _PLANNED.pop(name, None)


def codec_types() -> list[str]:
    """Codec types that ``build_codec`` can build now."""
    return sorted(_REGISTRY)


def _resolve(factory: str | CodecFactory) -> CodecFactory:
    if callable(factory):
        return factory
    module_name, _, attr = factory.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build_codec(cfg: CodecConfig) -> LatentCodec:
    """Build the codec named by ``cfg.type``.

    Raises:
        SamuelError: unknown type (lists the valid ones) or a type not in this build yet.
    """
    if cfg.type in _REGISTRY:
        return _resolve(_REGISTRY[cfg.type])(cfg)
    if cfg.type in _PLANNED:
        raise SamuelError(_PLANNED[cfg.type])
    valid = ", ".join(sorted({*_REGISTRY, *_PLANNED}))
    raise SamuelError(f"unknown codec.type '{cfg.type}'; valid types: {valid}")
