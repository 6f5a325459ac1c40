"""Latent codecs behind one protocol; ``build_codec(cfg.codec)`` picks one by ``cfg.codec.type``."""

from samuel_pl.codecs.base import LatentCodec, config_hash, resample
from samuel_pl.codecs.fields import LatentFields
from samuel_pl.codecs.registry import build_codec, codec_types, latent_fields, register_codec

__all__ = [
    "LatentCodec",
    "LatentFields",
    "build_codec",
    "codec_types",
    "config_hash",
    "latent_fields",
    "register_codec",
    "resample",
]
