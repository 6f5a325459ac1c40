"""The stable-audio-tools layout of an Oobleck VAE: its JSON config and state-dict key names.

stable-audio-tools stores an autoencoder as ``nn.Sequential`` stacks (``encoder.layers.N``),
diffusers as named blocks (``encoder.block.N.res_unit1``). Facts of that layout used here:

* encoder.layers: [0] Conv(k=7), [1..n] EncoderBlock, [n+1] SnakeBeta, [n+2] Conv(k=3);
  EncoderBlock.layers: [0..2] ResidualUnit (dilations 1, 3, 9), [3] SnakeBeta, [4] strided Conv.
* decoder.layers: [0] Conv(k=7), [1..n] DecoderBlock, [n+1] SnakeBeta, [n+2] Conv(k=7, no bias);
  DecoderBlock.layers: [0] SnakeBeta, [1] ConvTranspose, [2..4] ResidualUnit.
* ResidualUnit.layers: [0] SnakeBeta, [1] Conv(k=7, dilated), [2] SnakeBeta, [3] Conv(k=1).
* SnakeBeta parameters ``alpha``/``beta`` have shape (C,); diffusers' Snake1d has (1, C, 1).
* Weight norm is stored as ``weight_g``/``weight_v`` (``torch.nn.utils.weight_norm``) or, from
  newer torch, ``parametrizations.weight.original0``/``original1``.
* The autoencoder sits under a prefix: ``autoencoder.`` (training wrapper) or
  ``pretransform.model.`` (a full Stable Audio Open checkpoint), or none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import Tensor

from samuel_pl.errors import SamuelError

CONFIG_NAMES = ("vae_config.json", "model_config.json")
WEIGHT_NAMES = ("vae_model.safetensors", "vae_model.ckpt", "model.safetensors", "model.ckpt")
_RES = ("snake1", "conv1", "snake2", "conv2")  # diffusers names of ResidualUnit.layers[0..3]


def _autoencoder_section(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """The autoencoder's ``model`` dict of a standalone config or of a full model's pretransform."""
    model = doc.get("model", {})
    if isinstance(model, dict) and "encoder" in model and "decoder" in model:
        return model
    pre = model.get("pretransform", {}) if isinstance(model, dict) else {}
    if pre.get("type") == "autoencoder" and isinstance(pre.get("config"), dict):
        return pre["config"]
    raise SamuelError(
        f"{path}: not a stable-audio-tools autoencoder config (expected model.encoder/decoder "
        "or model.pretransform of type autoencoder)"
    )


def diffusers_config(path: str | Path) -> dict[str, Any]:
    """Read a stable-audio-tools JSON config and return ``AutoencoderOobleck`` keyword arguments.

    Raises:
        SamuelError: unreadable file, or an autoencoder diffusers' Oobleck cannot represent
            (not Oobleck, no Snake, final tanh, anti-aliased activations, non-VAE bottleneck).
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SamuelError(f"{p}: unreadable stable-audio-tools config ({exc})") from exc
    ae = _autoencoder_section(doc, p)
    enc, dec = ae["encoder"], ae["decoder"]
    problems = []
    if enc.get("type") != "oobleck" or dec.get("type") != "oobleck":
        problems.append(f"encoder/decoder types {enc.get('type')}/{dec.get('type')} (need oobleck)")
    ec, dc = enc.get("config", {}), dec.get("config", {})
    if not ec.get("use_snake", False) or not dc.get("use_snake", False):
        problems.append("use_snake is false (only Snake Oobleck is supported)")
    if dc.get("final_tanh", False):
        problems.append("decoder final_tanh is true")
    if ec.get("antialias_activation") or dc.get("antialias_activation"):
        problems.append("antialias_activation is true")
    if ae.get("bottleneck", {}).get("type", "vae") != "vae":
        problems.append(f"bottleneck {ae['bottleneck'].get('type')!r} (need vae)")
    latent = int(ae.get("latent_dim", dc.get("latent_dim", 64)))
    if int(ec.get("latent_dim", 2 * latent)) != 2 * latent:
        problems.append(f"encoder latent_dim {ec.get('latent_dim')} != 2 x {latent}")
    if problems:
        raise SamuelError(f"{p}: unsupported autoencoder: " + "; ".join(problems))
    strides = [int(s) for s in ec.get("strides", [2, 4, 4, 8, 8])]
    return {
        "encoder_hidden_size": int(ec.get("channels", 128)),
        "downsampling_ratios": strides,
        "channel_multiples": [int(m) for m in ec.get("c_mults", [1, 2, 4, 8, 16])],
        "decoder_channels": int(dc.get("channels", 128)),
        "decoder_input_channels": latent,
        "audio_channels": int(ec.get("in_channels", ae.get("io_channels", 2))),
        "sampling_rate": int(doc.get("sample_rate", 44100)),
    }


def key_map(num_blocks: int) -> dict[str, str]:
    """diffusers module path -> stable-audio-tools module path, for ``num_blocks`` blocks."""
    out: dict[str, str] = {"encoder.conv1": "encoder.layers.0", "decoder.conv1": "decoder.layers.0"}
    for side in ("encoder", "decoder"):
        out[f"{side}.snake1"] = f"{side}.layers.{num_blocks + 1}"
        out[f"{side}.conv2"] = f"{side}.layers.{num_blocks + 2}"
    for i in range(num_blocks):
        enc, dec = f"encoder.layers.{i + 1}.layers", f"decoder.layers.{i + 1}.layers"
        out[f"encoder.block.{i}.snake1"] = f"{enc}.3"
        out[f"encoder.block.{i}.conv1"] = f"{enc}.4"
        out[f"decoder.block.{i}.snake1"] = f"{dec}.0"
        out[f"decoder.block.{i}.conv_t1"] = f"{dec}.1"
        for k in range(3):
            for j, name in enumerate(_RES):
                out[f"encoder.block.{i}.res_unit{k + 1}.{name}"] = f"{enc}.{k}.layers.{j}"
                out[f"decoder.block.{i}.res_unit{k + 1}.{name}"] = f"{dec}.{k + 2}.layers.{j}"
    return out


def find_prefix(state: dict[str, Tensor], where: str) -> str:
    """The prefix under which the autoencoder's ``encoder.layers.0.*`` keys sit."""
    found = set()
    for key in state:
        head, sep, _ = key.partition("encoder.layers.0.")
        if sep and (head == "" or head.endswith(".")):
            found.add(head)
    candidates = [p for p in found if any(k.startswith(p + "decoder.layers.0.") for k in state)]
    if not candidates:
        sample = ", ".join(list(state)[:3])
        raise SamuelError(
            f"{where}: no stable-audio-tools autoencoder weights (no encoder.layers.0.* and "
            f"decoder.layers.0.* keys; first keys: {sample})"
        )
    return min(candidates, key=len)


def _normalise_param(name: str) -> str:
    return {
        "parametrizations.weight.original0": "weight_g",
        "parametrizations.weight.original1": "weight_v",
    }.get(name, name)


def to_diffusers_state(
    state: dict[str, Tensor], target: dict[str, Tensor], num_blocks: int, where: str
) -> dict[str, Tensor]:
    """Rename (and reshape) a stable-audio-tools autoencoder state dict to diffusers' keys.

    Args:
        state: the checkpoint's tensors (any prefix, other models' keys are ignored).
        target: the diffusers model's ``state_dict()`` (names and shapes to fill).
        num_blocks: down-sampling blocks of the model.
        where: the file, for messages.

    Raises:
        SamuelError: a tensor the model needs is missing or has an incompatible shape.
    """
    prefix = find_prefix(state, where)
    ours: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith(prefix) and key[len(prefix) :].startswith(("encoder.", "decoder.")):
            module, _, param = key[len(prefix) :].rpartition(".")
            if param.startswith("original"):  # parametrizations.weight.original0/1
                module, _, param = key[len(prefix) :].partition(".parametrizations.")
                param = "parametrizations." + param
            ours[f"{module}.{_normalise_param(param)}"] = value
    names = key_map(num_blocks)
    out: dict[str, Tensor] = {}
    missing = []
    for key, ref in target.items():
        module, _, param = key.rpartition(".")
        src = f"{names.get(module, module)}.{param}"
        if src not in ours:
            missing.append(src)
            continue
        value = ours[src]
        if value.numel() != ref.numel():
            raise SamuelError(
                f"{where}: {prefix}{src} has shape {tuple(value.shape)}, the model needs "
                f"{tuple(ref.shape)} (config and weights do not match)"
            )
        out[key] = value.reshape(ref.shape)
    if missing:
        raise SamuelError(
            f"{where}: {len(missing)} autoencoder tensors missing, e.g. {prefix}{missing[0]}"
        )
    return out


def find_files(folder: Path) -> tuple[Path, Path] | None:
    """(config, weights) of a stable-audio-tools layout in ``folder``, or None."""
    config = next((folder / n for n in CONFIG_NAMES if (folder / n).is_file()), None)
    weights = next((folder / n for n in WEIGHT_NAMES if (folder / n).is_file()), None)
    return (config, weights) if config and weights else None
