"""Latent codecs behind one protocol; ``build_codec(cfg.codec)`` picks one by ``cfg.codec.type``."""

from samuel_pl.codecs.base import (
    LatentCodec,
    build_codec,
    codec_latent_channels,
    codec_types,
    config_hash,
    register_codec,
    resample,
)

__all__ = [
    "LatentCodec",
    "build_codec",
    "codec_latent_channels",
    "codec_types",
    "config_hash",
    "register_codec",
    "resample",
]
