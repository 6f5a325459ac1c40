"""The mel codec's vocoder from a ``task: vocoder`` checkpoint, without Lightning.

The checkpoint is read with ``weights_only=True``: the network's sizes come from its saved
config (``hyper_parameters.config.vocoder``), the weights from its ``vocoder.*`` tensors. It is
refused when the codec it was trained on differs from the one that would use it (another
sample rate, hop, bins or filter spacing would feed it features it never saw).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from samuel_pl.config.schema import CodecConfig
from samuel_pl.config.vocoder import VocoderConfig
from samuel_pl.errors import SamuelError
from samuel_pl.nn.vocos import VocosVocoder
from samuel_pl.safeload import load_checkpoint

PREFIX = "vocoder."
CODEC_KEYS = {f.name for f in dataclasses.fields(CodecConfig)} - {"vocoder"}  # no recursion
TRAIN_CMD = "`python -m samuel_pl.fit --config experiments/vocoder/demo.yaml`"


def build_vocoder(vocoder: dict[str, Any], n_mels: int, hop: int) -> VocosVocoder:
    """The network of a ``vocoder`` config section (as a dict) for a codec's bins and hop."""
    v = {**dataclasses.asdict(VocoderConfig()), **vocoder}
    return VocosVocoder(
        int(n_mels),
        int(hop),
        dim=int(v["dim"]),
        intermediate=int(v["intermediate"]),
        layers=int(v["layers"]),
        kernel=int(v["kernel"]),
        n_fft=int(v["n_fft_mult"]) * int(hop),
    )


def load_vocoder(
    path: str | Path, codec_fields: dict[str, Any], codec_type: str = "mel"
) -> VocosVocoder:
    """The vocoder of checkpoint ``path`` (eval mode) for a codec of type ``codec_type`` with
    ``latent_fields()`` equal to ``codec_fields``; SamuelError naming the file and the first
    field that differs."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise SamuelError(f"codec.vocoder: checkpoint {p} not found (train one with {TRAIN_CMD})")
    ckpt = load_checkpoint(p, "vocoder")
    config = ckpt["hyper_parameters"]["config"]
    from samuel_pl.codecs.base import build_codec  # the codec it was trained on (mel, pitched)

    saved = {k: v for k, v in config.get("codec", {}).items() if k in CODEC_KEYS}
    codec = build_codec(CodecConfig(**saved))
    trained = {"type": codec.type_name, **codec.latent_fields()}
    codec_fields = {"type": codec_type, **codec_fields}
    for key in sorted(set(trained) | set(codec_fields)):
        if trained.get(key) != codec_fields.get(key):
            raise SamuelError(
                f"{p}: the vocoder was trained on codec {key}={trained.get(key)!r}, this codec has "
                f"{key}={codec_fields.get(key)!r}; train one on this codec with {TRAIN_CMD}"
            )
    net = build_vocoder(config.get("vocoder", {}), codec.latent_channels, codec.hop_length)
    state = {k[len(PREFIX) :]: t for k, t in ckpt["state_dict"].items() if k.startswith(PREFIX)}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SamuelError(f"{p}: vocoder weights do not fit its saved sizes ({first})") from None
    return net.eval()
