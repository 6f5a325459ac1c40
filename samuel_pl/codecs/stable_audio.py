"""``stable_audio`` codec: Stable Audio Open 1.0's Oobleck VAE through ``diffusers``, local weights.

44.1 kHz stereo, 64 latent channels, hop 2048 samples (21.53 frames/s; 1024 frames = 47.55 s).
``codec.path`` may be:

* a full Stable Audio Open checkout (diffusers layout: ``vae/config.json`` and
  ``vae/diffusion_pytorch_model.safetensors``; loaded with ``subfolder="vae"``),
* the ``vae`` folder itself (``config.json`` + ``diffusion_pytorch_model.safetensors``),
* a stable-audio-tools layout: ``vae_model.ckpt`` (or ``vae_model.safetensors``, ``model.ckpt``,
  ``model.safetensors``) with ``vae_config.json`` (or ``model_config.json``) beside it; the
  state dict is renamed to diffusers' keys (:mod:`samuel_pl.codecs.sat_layout`).

Nothing is downloaded: missing weights raise an error that names the files looked for, the
folder searched and where to get them. Latents are the posterior mean unless
``codec.sample_posterior``; ``codec.precision`` picks float32 / bf16 / fp16.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from samuel_pl.codecs import sat_layout
from samuel_pl.codecs.vae_base import PosteriorCodec, file_digest
from samuel_pl.config.schema import CodecConfig
from samuel_pl.errors import SamuelError
from samuel_pl.safeload import load_torch_file

MODEL_PAGE = "https://huggingface.co/stabilityai/stable-audio-open-1.0"
DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
ARCH_KEYS = (
    "encoder_hidden_size",
    "downsampling_ratios",
    "channel_multiples",
    "decoder_channels",
    "decoder_input_channels",
    "audio_channels",
    "sampling_rate",
)


def oobleck_class() -> Any:
    """``diffusers.AutoencoderOobleck`` (imported lazily; names the extra when missing)."""
    try:
        from diffusers import AutoencoderOobleck
    except ImportError as exc:
        raise SamuelError(
            f"codec.type=stable_audio needs diffusers ({exc}); install the extra: "
            "pip install -e '.[vae]'"
        ) from None
    return AutoencoderOobleck


def missing_weights(path: str | Path) -> SamuelError:
    """The error for a folder without usable Stable Audio Open VAE weights."""
    where = Path(path).resolve() if str(path) else "(codec.path is empty)"
    return SamuelError(
        f"codec.type=stable_audio: no Stable Audio Open VAE weights in {where}; looked for "
        "vae/config.json + vae/diffusion_pytorch_model.safetensors (a full checkout, diffusers "
        "layout), config.json + diffusion_pytorch_model.safetensors (its vae folder), or "
        "vae_model.ckpt + vae_config.json (stable-audio-tools layout). Get them from "
        f"{MODEL_PAGE} (accept the Stability AI Community License there, then e.g. "
        "`huggingface-cli download stabilityai/stable-audio-open-1.0 --local-dir DIR` on a "
        "machine with internet) and set codec.path=DIR"
    )


def locate(path: str | Path) -> dict[str, Any]:
    """Which layout ``path`` holds: ``{"format": "diffusers", "root", "subfolder", "weights"}``
    or ``{"format": "stable-audio-tools", "config", "weights"}``; raises the missing-weights
    error when none."""
    if not str(path):
        raise missing_weights(path)
    p = Path(path).expanduser()
    if p.is_file() and p.suffix in (".ckpt", ".safetensors"):
        config = next(
            (p.parent / n for n in sat_layout.CONFIG_NAMES if (p.parent / n).is_file()), None
        )
        if config is None:
            raise SamuelError(
                f"{p}: a stable-audio-tools checkpoint needs its config beside it "
                f"({' or '.join(sat_layout.CONFIG_NAMES)} in {p.parent})"
            )
        return {"format": "stable-audio-tools", "config": config, "weights": p}
    if p.is_dir():
        for sub in ("vae", ""):
            folder = p / sub if sub else p
            weights = next((folder / w for w in DIFFUSERS_WEIGHTS if (folder / w).is_file()), None)
            if (folder / "config.json").is_file() and weights is not None:
                return {
                    "format": "diffusers",
                    "root": p,
                    "subfolder": sub or None,
                    "weights": weights,
                }
        found = sat_layout.find_files(p)
        if found:
            return {"format": "stable-audio-tools", "config": found[0], "weights": found[1]}
    raise missing_weights(p)


def read_state(path: Path) -> dict[str, Tensor]:
    """Tensors of a ``.safetensors`` or ``.ckpt`` (``state_dict`` inside unwrapped); for
    safetensors only the autoencoder's ``encoder.``/``decoder.layers`` tensors are read."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            keys = [k for k in fh.keys() if "coder.layers." in k]  # noqa: SIM118
            return {k: fh.get_tensor(k) for k in keys}
    obj = load_torch_file(path, "Stable Audio VAE checkpoint", mmap=True)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise SamuelError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return {k: v for k, v in obj.items() if isinstance(v, Tensor)}


def _fold_weight_norm(model: nn.Module) -> nn.Module:
    """Fold diffusers' weight-norm hooks into plain weights (inference only, same outputs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in model.modules():
            if hasattr(m, "weight_g"):
                torch.nn.utils.remove_weight_norm(m)
    return model


def load_oobleck(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load an ``AutoencoderOobleck`` from a local folder/file; return (model, identity)."""
    found = locate(path)
    cls = oobleck_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # diffusers' old weight_norm API
        model = _load(cls, found)
    arch = {k: model.config[k] for k in ARCH_KEYS}
    weights = file_digest(found["weights"])
    return model, {"format": found["format"], "architecture": arch, "weights": weights}


def _load(cls: Any, found: dict[str, Any]) -> Any:
    if found["format"] == "diffusers":
        try:
            return cls.from_pretrained(
                str(found["root"]), subfolder=found["subfolder"], local_files_only=True
            )
        except (OSError, ValueError) as exc:
            where = found["root"] / (found["subfolder"] or "")
            raise SamuelError(f"{where}: cannot load the diffusers Oobleck VAE ({exc})") from None
    kwargs = sat_layout.diffusers_config(found["config"])
    model = cls(**kwargs)
    state = read_state(found["weights"])
    mapped = sat_layout.to_diffusers_state(
        state, model.state_dict(), len(kwargs["downsampling_ratios"]), str(found["weights"])
    )
    model.load_state_dict(mapped, strict=True)
    return model


class StableAudioCodec(PosteriorCodec):
    """Stable Audio Open's Oobleck VAE as a codec (see the module docstring)."""

    type_name = "stable_audio"

    @classmethod
    def from_model(
        cls,
        model: Any,
        identity: dict[str, Any],
        cfg: CodecConfig | None = None,
        path: str = "",
    ) -> StableAudioCodec:
        """Wrap a loaded ``AutoencoderOobleck`` with the codec options of ``cfg``."""
        cfg = cfg or CodecConfig(type="stable_audio")
        c = model.config
        return cls(
            _fold_weight_norm(model),
            sample_rate=int(c["sampling_rate"]),
            audio_channels=int(c["audio_channels"]),
            latent_channels=int(c["decoder_input_channels"]),
            hop_length=int(
                getattr(model, "hop_length", 0) or torch.tensor(c["downsampling_ratios"]).prod()
            ),
            precision=cfg.precision,
            sample_posterior=cfg.sample_posterior,
            chunk_frames=cfg.chunk_frames,
            chunk_overlap=cfg.chunk_overlap,
            identity=identity,
            path=path,
        )

    @classmethod
    def from_config(cls, cfg: CodecConfig) -> StableAudioCodec:
        """Build from ``cfg.codec``: loads the weights in ``cfg.path`` (never downloads)."""
        model, identity = load_oobleck(cfg.path)
        return cls.from_model(model, identity, cfg, path=str(Path(cfg.path).resolve()))

    @classmethod
    def from_architecture(
        cls, cfg: CodecConfig | None = None, device: str | torch.device = "cpu", **arch: Any
    ) -> StableAudioCodec:
        """The Stable Audio Open 1.0 architecture (or ``arch`` overrides) with RANDOM weights:
        for shapes, tests and speed benchmarks only (``device="meta"`` allocates nothing)."""
        cls_ = oobleck_class()
        with torch.device(device), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # diffusers' old weight_norm API
            model = cls_(**arch)
        identity = {"architecture": {k: model.config[k] for k in ARCH_KEYS}, "weights": "random"}
        return cls.from_model(model, identity, cfg)
