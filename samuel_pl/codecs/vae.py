"""``vae`` codec: an Oobleck-style VAE trained with this framework (``task: vae``), from its
Lightning checkpoint (``codec.path=runs/<vae run>/checkpoints/last.ckpt``).

The checkpoint is read with ``weights_only=True``: the architecture comes from its saved config
(``hyper_parameters.config.vae`` and ``data.sample_rate`` / ``data.channels``), the weights from
the ``vae.*`` tensors of its state dict. No Lightning import is needed to use it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from samuel_pl.codecs.vae_base import PosteriorCodec
from samuel_pl.config.schema import CodecConfig
from samuel_pl.config.vae import VAEConfig
from samuel_pl.errors import SamuelError
from samuel_pl.nn.oobleck import OobleckConfig, OobleckVAE, remove_weight_norm
from samuel_pl.safeload import load_checkpoint

PREFIX = "vae."
TRAIN_HINT = "train one with `python -m samuel_pl.fit --config experiments/vae/demo.yaml`"


def architecture(vae: dict[str, Any], audio_channels: int) -> OobleckConfig:
    """The network sizes of a ``vae`` config section as saved in a checkpoint (keys it lacks,
    from before an option existed, take the schema's defaults)."""
    return OobleckConfig.from_sizes({**dataclasses.asdict(VAEConfig()), **vae}, audio_channels)


def tensors_digest(state: dict[str, Tensor]) -> str:
    """SHA-1 (16 hex digits) of tensor names, shapes and bytes (identifies trained weights)."""
    h = hashlib.sha1()
    for key in sorted(state):
        t = state[key].detach().to("cpu").contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(saved config dict, VAE tensors without the ``vae.`` prefix) of a VAE checkpoint."""
    p = Path(path).expanduser()
    if not str(path) or not p.is_file():
        raise SamuelError(
            f"codec.type=vae: checkpoint {p if str(path) else '(codec.path is empty)'} not "
            f"found; set codec.path to a VAE run's checkpoints/last.ckpt ({TRAIN_HINT})"
        )
    ckpt = load_checkpoint(p, "vae")  # weights-only; a diffusion checkpoint says where it goes
    config = ckpt["hyper_parameters"]["config"]
    state = {
        k[len(PREFIX) :]: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith(PREFIX)
    }
    if not state:
        raise SamuelError(f"{p}: the checkpoint has no vae.* weights")
    return config, state


def _identity(arch: OobleckConfig) -> dict[str, Any]:
    """The sizes as hashed into ``codec_id`` (under the key names latent caches were made with)."""
    out = dict(vars(arch))
    out["use_weight_norm"] = out.pop("weight_norm")  # the field's name before it matched the config
    return out


class VAECodec(PosteriorCodec):
    """A trained :class:`~samuel_pl.nn.oobleck.OobleckVAE` as a latent codec."""

    type_name = "vae"

    @classmethod
    def from_checkpoint(cls, path: str | Path, cfg: CodecConfig | None = None) -> VAECodec:
        """Load the VAE of a ``task: vae`` checkpoint with the codec options of ``cfg``."""
        cfg = cfg or CodecConfig(type="vae", path=str(path))
        config, state = read_checkpoint(path)
        arch = architecture(config["vae"], config["data"]["channels"])
        model = OobleckVAE(arch)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise SamuelError(f"{path}: VAE weights do not match its config ({first})") from None
        identity = {
            "architecture": _identity(arch) | {"sample_rate": int(config["data"]["sample_rate"])},
            "weights": tensors_digest(state),
        }
        return cls(
            remove_weight_norm(model),
            sample_rate=int(config["data"]["sample_rate"]),
            audio_channels=arch.audio_channels,
            latent_channels=arch.latent_dim,
            hop_length=arch.hop_length,
            precision=cfg.precision,
            sample_posterior=cfg.sample_posterior,
            chunk_frames=cfg.chunk_frames,
            chunk_overlap=cfg.chunk_overlap,
            identity=identity,
            path=str(Path(path).resolve()),
        )

    @classmethod
    def from_config(cls, cfg: CodecConfig) -> VAECodec:
        """Build from ``cfg.codec`` (``path`` = the VAE checkpoint)."""
        return cls.from_checkpoint(cfg.path, cfg)
