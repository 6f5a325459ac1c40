"""The mel codec's vocoder from a ``task: vocoder`` checkpoint, without Lightning.

The checkpoint is read with ``weights_only=True``: the network's sizes come from its saved
config (``hyper_parameters.config.vocoder``), the weights from its ``vocoder.*`` tensors. It is
refused when the codec it was trained on differs from the one that would use it (another
sample rate, hop, bins or filter spacing would feed it features it never saw).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from samuel_pl.codecs.fields import READERS, codec_identity
from samuel_pl.config.schema import CodecConfig
from samuel_pl.config.vocoder import VocoderConfig
from samuel_pl.errors import SamuelError
from samuel_pl.nn.vocos import VocosVocoder
from samuel_pl.safeload import load_checkpoint

PREFIX = "vocoder."
VOCODER_CODECS = ("mel", "pitched")  # codec types a vocoder can decode
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
    saved = {k: v for k, v in config.get("codec", {}).items() if k in CODEC_KEYS}
    trained_cfg = CodecConfig(**saved)  # the codec it was trained on (mel or pitched)
    trained = {"type": trained_cfg.type, **codec_identity(trained_cfg)}
    codec_fields = {"type": codec_type, **codec_fields}
    for key in sorted(set(trained) | set(codec_fields)):
        if trained.get(key) != codec_fields.get(key):
            raise SamuelError(
                f"{p}: the vocoder was trained on codec {key}={trained.get(key)!r}, this codec has "
                f"{key}={codec_fields.get(key)!r}; train one on this codec with {TRAIN_CMD}"
            )
    fields = READERS[trained_cfg.type](trained_cfg)  # codec_identity refused other types
    net = build_vocoder(config.get("vocoder", {}), fields.channels, fields.hop_length)
    state = {k[len(PREFIX) :]: t for k, t in ckpt["state_dict"].items() if k.startswith(PREFIX)}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SamuelError(f"{p}: vocoder weights do not fit its saved sizes ({first})") from None
    return net.eval()


def vocoder_for(
    path: str | Path | None, fields: dict[str, Any], codec_type: str, device: torch.device
) -> VocosVocoder | None:
    """A codec's ``with_vocoder``: the checkpoint's vocoder on ``device`` (checked against the
    codec's ``latent_fields()``), or None (decode with Griffin-Lim) when ``path`` is empty."""
    if not path:
        return None
    return load_vocoder(path, fields, codec_type).to(device)


def vocode(
    vocoder: torch.nn.Module,
    latent: Tensor,
    refine: Callable[[Tensor, Tensor, int], Tensor],
    iters: int,
) -> Tensor:
    """A codec's vocoder decode: latent (B, C, T) -> (B, 1, N) by the vocoder, then ``iters``
    iterations of the codec's ``refine(latent, audio (B, N), iters)`` (none for 0 or T < 2)."""
    audio = vocoder(latent.float())  # (B, 1, N)
    if iters <= 0 or latent.shape[-1] < 2:
        return audio
    return refine(latent.float(), audio[:, 0], iters).unsqueeze(1)


def resolve_vocoder(cfg: CodecConfig, vocoder: str | Path | None) -> CodecConfig:
    """``cfg`` with the ``--vocoder`` override applied before anything is loaded: None keeps
    ``cfg.vocoder``; "" or "none" decodes with Griffin-Lim; a path replaces the saved one.
    A vocoder for a codec other than mel or pitched is a SamuelError."""
    if vocoder is None:
        return cfg
    path = "" if str(vocoder) in ("", "none") else str(vocoder)
    if path and cfg.type not in VOCODER_CODECS:
        raise SamuelError(f"a vocoder decodes the mel or pitched codec, not {cfg.type}")
    return dataclasses.replace(cfg, vocoder=path)
