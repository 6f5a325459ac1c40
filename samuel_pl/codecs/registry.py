"""The ``build_codec(cfg.codec)`` registry keyed on ``cfg.type``: lazy factory functions (a
backend's module is imported when its codec is first built, so heavy backends cost nothing
until used). Add a codec with one ``_REGISTRY`` line (or ``register_codec`` at import time)."""

from __future__ import annotations

from collections.abc import Callable

from samuel_pl.codecs.base import LatentCodec
from samuel_pl.codecs.fields import READERS, FieldsReader, LatentFields
from samuel_pl.config.schema import CodecConfig
from samuel_pl.errors import SamuelError

CodecFactory = Callable[[CodecConfig], LatentCodec]


def _mel(cfg: CodecConfig) -> LatentCodec:
    from samuel_pl.codecs.mel import MelCodec

    return MelCodec.from_config(cfg)


def _pitched(cfg: CodecConfig) -> LatentCodec:
    from samuel_pl.codecs.pitched import PitchedCodec

    return PitchedCodec.from_config(cfg)


def _stable_audio(cfg: CodecConfig) -> LatentCodec:
    from samuel_pl.codecs.stable_audio import StableAudioCodec

    return StableAudioCodec.from_config(cfg)


def _vae(cfg: CodecConfig) -> LatentCodec:
    from samuel_pl.codecs.vae import VAECodec

    return VAECodec.from_config(cfg)


_REGISTRY: dict[str, CodecFactory] = {
    "mel": _mel,
    "pitched": _pitched,
    "stable_audio": _stable_audio,
    "vae": _vae,
}

# Types the schema names but that are not in this build yet: the message says what brings them.
_PLANNED: dict[str, str] = {}


def register_codec(name: str, factory: CodecFactory, fields: FieldsReader | None = None) -> None:
    """Register ``factory`` for ``cfg.codec.type == name`` (configs with ``codec.type=name``
    then validate: the config asks :func:`codec_types`); ``fields`` reads its
    :class:`LatentFields` without building it."""
    _REGISTRY[name] = factory
    if fields is not None:
        READERS[name] = fields
    _PLANNED.pop(name, None)


def codec_types() -> list[str]:
    """Codec types that ``build_codec`` can build now."""
    return sorted(_REGISTRY)


def _factory(cfg: CodecConfig) -> CodecFactory:
    if cfg.type in _REGISTRY:
        return _REGISTRY[cfg.type]
    if cfg.type in _PLANNED:
        raise SamuelError(_PLANNED[cfg.type])
    valid = ", ".join(sorted({*_REGISTRY, *_PLANNED}))
    raise SamuelError(f"unknown codec.type '{cfg.type}'; valid types: {valid}")


def build_codec(cfg: CodecConfig) -> LatentCodec:
    """Build the codec named by ``cfg.type``.

    Raises:
        SamuelError: unknown type (lists the valid ones) or a type not in this build yet.
    """
    return _factory(cfg)(cfg)


def latent_fields(cfg: CodecConfig) -> LatentFields:
    """What the latents of codec ``cfg`` look like (channels, rate, hop) without building it
    (a type with no reader in :data:`~samuel_pl.codecs.fields.READERS` is built once)."""
    factory = _factory(cfg)  # unknown types: the same one-line error as build_codec
    reader = READERS.get(cfg.type)
    if reader is not None:
        return reader(cfg)
    codec = factory(cfg)
    return LatentFields(
        cfg.type,
        codec.latent_channels,
        codec.sample_rate,
        codec.hop_length,
        codec.audio_channels,
    )
