"""The mel codec's vocoder: loading, the codec-identity check, the shipped decoder, export.

A vocoder comes from a ``task: vocoder`` checkpoint or from its compact export (fp16 weights,
the codec section it was trained on, its network sizes and provenance; :func:`export_vocoder`).
Both are read with ``weights_only=True``: the network's sizes come from the saved ``vocoder``
section, the weights from its tensors. It is refused when the codec it was trained on differs
from the one that would use it (another sample rate, hop, bins or filter spacing would feed it
features it never saw).

``codec.vocoder`` chooses the decoder: ``auto`` (the default) takes the vocoder shipped in the
package (:data:`SHIPPED`, trained for the demo recipes' log-frequency codec) when the codec's
identity equals the one it was trained on, else Griffin-Lim; ``""`` / ``none`` / ``griffin_lim``
decode with Griffin-Lim (``""`` is what configs saved before ``auto`` existed hold, so their
checkpoints keep decoding as they did); anything else is a vocoder file.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from samuel_pl.codecs.fields import READERS, codec_identity
from samuel_pl.config.schema import CodecConfig
from samuel_pl.config.vocoder import VocoderConfig
from samuel_pl.errors import SamuelError
from samuel_pl.files import atomic_writer
from samuel_pl.nn.vocos import VocosVocoder
from samuel_pl.safeload import checked_checkpoint, load_torch_file

log = logging.getLogger(__name__)

PREFIX = "vocoder."
VOCODER_CODECS = ("mel", "pitched")  # codec types a vocoder can decode
CODEC_KEYS = {f.name for f in dataclasses.fields(CodecConfig)} - {"vocoder"}  # no recursion
TRAIN_CMD = "`python -m samuel_pl.fit --config experiments/vocoder/demo.yaml`"
AUTO = "auto"
GRIFFIN_LIM = frozenset({"", "none", "griffin_lim", "griffin-lim"})
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "vocoder_demo.pt"
"""The decoder shipped with the package (docs/codecs.md, "The shipped decoder")."""
EXPORT_FORMAT = "samuel_pl.vocoder/1"


@dataclasses.dataclass(frozen=True)
class SavedVocoder:
    """What a vocoder file holds: its codec section, network sizes, weights, provenance."""

    codec: dict[str, Any]
    sizes: dict[str, Any]
    state: dict[str, Tensor]
    provenance: dict[str, Any]


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


def read_vocoder(path: str | Path) -> SavedVocoder:
    """A ``task: vocoder`` checkpoint or an :func:`export_vocoder` file, weights-only;
    SamuelError naming the file when it is neither."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise SamuelError(f"codec.vocoder: checkpoint {p} not found (train one with {TRAIN_CMD})")
    return _parse(load_torch_file(p, "vocoder"), p)


def _parse(obj: Any, p: Path) -> SavedVocoder:
    if isinstance(obj, dict) and obj.get("format") == EXPORT_FORMAT:
        keys = ("codec", "vocoder", "state_dict", "provenance")
        if not all(isinstance(obj.get(k), dict) for k in keys):
            raise SamuelError(f"{p}: damaged vocoder export (needs {', '.join(keys)})")
        return SavedVocoder(obj["codec"], obj["vocoder"], obj["state_dict"], obj["provenance"])
    ckpt = checked_checkpoint(obj, p, "vocoder")
    config = ckpt["hyper_parameters"]["config"]
    state = {k[len(PREFIX) :]: t for k, t in ckpt["state_dict"].items() if k.startswith(PREFIX)}
    codec = {k: v for k, v in config.get("codec", {}).items() if k in CODEC_KEYS}
    return SavedVocoder(codec, dict(config.get("vocoder", {})), state, {})


def trained_identity(codec: dict[str, Any]) -> dict[str, Any]:
    """Type and identity (:func:`~samuel_pl.codecs.fields.codec_identity`) of a saved codec
    section: what a codec must equal to decode with the vocoder trained on it."""
    cfg = CodecConfig(**{k: v for k, v in codec.items() if k in CODEC_KEYS})
    return {"type": cfg.type, **codec_identity(cfg)}


def identity_mismatch(trained: dict[str, Any], fields: dict[str, Any], codec_type: str) -> str:
    """The first field where a codec (``codec_type``, its ``latent_fields()``) differs from the
    vocoder's ``trained`` identity, as ``codec K=V, this codec has K=W``; "" when equal."""
    fields = {"type": codec_type, **fields}
    for key in sorted(set(trained) | set(fields)):
        if trained.get(key) != fields.get(key):
            return f"codec {key}={trained.get(key)!r}, this codec has {key}={fields.get(key)!r}"
    return ""


def load_vocoder(
    path: str | Path, codec_fields: dict[str, Any], codec_type: str = "mel"
) -> VocosVocoder:
    """The vocoder of ``path`` (checkpoint or export; eval mode, float32) for a codec of type
    ``codec_type`` with ``latent_fields()`` equal to ``codec_fields``; SamuelError naming the
    file and the first field that differs."""
    p = Path(path).expanduser()
    saved = read_vocoder(p)
    trained = trained_identity(saved.codec)
    differs = identity_mismatch(trained, codec_fields, codec_type)
    if differs:
        raise SamuelError(
            f"{p}: the vocoder was trained on {differs}; train one on this codec with {TRAIN_CMD}"
        )
    trained_cfg = CodecConfig(**{k: v for k, v in saved.codec.items() if k in CODEC_KEYS})
    fields = READERS[trained_cfg.type](trained_cfg)  # codec_identity refused other types
    net = build_vocoder(saved.sizes, fields.channels, fields.hop_length)
    state = {k: t.float() if t.is_floating_point() else t for k, t in saved.state.items()}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SamuelError(f"{p}: vocoder weights do not fit its saved sizes ({first})") from None
    return net.eval()


@functools.lru_cache(maxsize=4)
def _identity_of(path: str, mtime_ns: int) -> dict[str, Any]:
    return trained_identity(read_vocoder(path).codec)


def shipped_identity(path: Path) -> dict[str, Any] | None:
    """The codec identity the shipped vocoder was trained on (read once); None if missing."""
    return _identity_of(str(path), path.stat().st_mtime_ns) if path.is_file() else None


def weights_key(path: str | Path) -> str:
    """``path:size:mtime`` of a weights file (what cache keys record of a decoder)."""
    p = Path(path).expanduser()
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


@dataclasses.dataclass(frozen=True)
class Decoder:
    """A codec's decoder choice: the vocoder (None: Griffin-Lim), a line saying which decoder
    and why, and its weights' :func:`weights_key` ("" for Griffin-Lim)."""

    vocoder: VocosVocoder | None
    note: str
    weights: str = ""


def vocoder_for(
    path: str | Path | None,
    fields: dict[str, Any],
    codec_type: str,
    device: torch.device,
    shipped: Path | None = None,
    refine: int = 0,
) -> Decoder:
    """A codec's ``with_vocoder``: the decoder ``codec.vocoder`` = ``path`` names (module
    doc) for a codec with ``latent_fields()`` = ``fields``, its vocoder on ``device``
    (``shipped``: the file ``auto`` considers, default :data:`SHIPPED`; ``refine``: the
    codec's ``vocoder_refine``, named in the note)."""
    choice = "" if path is None else str(path)
    shipped = SHIPPED if shipped is None else shipped
    then = f" + {refine} Griffin-Lim refinement iterations" if refine > 0 else ""
    if choice in GRIFFIN_LIM:
        return Decoder(None, "Griffin-Lim (codec.vocoder is off)")
    if choice == AUTO:
        trained = shipped_identity(shipped)
        if trained is None:
            note = f"Griffin-Lim (the shipped vocoder {shipped} is missing)"
            log.warning("decoder: %s", note)
            return Decoder(None, note)
        differs = identity_mismatch(trained, fields, codec_type)
        if differs:
            note = f"Griffin-Lim (the shipped vocoder was trained on {differs})"
            log.info("decoder: %s", note)
            return Decoder(None, note)
        net = load_vocoder(shipped, fields, codec_type).to(device)
        note = f"the shipped vocoder {shipped.name}{then} (trained on this codec; "
        note += "codec.vocoder=none: Griffin-Lim)"
        log.info("decoder: %s", note)
        return Decoder(net, note, weights_key(shipped))
    net = load_vocoder(choice, fields, codec_type).to(device)
    return Decoder(net, f"the vocoder {choice}{then}", weights_key(choice))


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
    ``cfg.vocoder``; "", "none" or "griffin_lim" decodes with Griffin-Lim; "auto" the shipped
    vocoder where it fits; a path replaces the saved one. A vocoder file for a codec other
    than mel or pitched is a SamuelError."""
    if vocoder is None:
        return cfg
    path = "" if str(vocoder) in GRIFFIN_LIM else str(vocoder)
    if path and path != AUTO and cfg.type not in VOCODER_CODECS:
        raise SamuelError(f"a vocoder decodes the mel or pitched codec, not {cfg.type}")
    return dataclasses.replace(cfg, vocoder=path)


def export_vocoder(ckpt: str | Path, out: str | Path, recipe: str) -> dict[str, Any]:
    """Write the compact form of a ``task: vocoder`` checkpoint to ``out``: fp16 weights, the
    codec section it was trained on, its network sizes and provenance (``recipe``: the commands
    that made it; the run's summary.json beside ``checkpoints/`` when present). Returns the
    provenance."""
    p = Path(ckpt).expanduser()
    raw = load_torch_file(p, "vocoder")
    if isinstance(raw, dict) and raw.get("format") == EXPORT_FORMAT:
        raise SamuelError(f"{p}: already an export; export the training checkpoint")
    saved = _parse(raw, p)
    trained_identity(saved.codec)  # a codec no vocoder decodes is refused here
    summary_path = p.parent.parent / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    config = raw["hyper_parameters"]["config"]
    data = config.get("data", {})
    provenance = {
        "recipe": recipe,
        "exported": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "global_step": int(raw.get("global_step", 0)),
        "wall_time_s": summary.get("wall_time_s"),
        "val_metrics": summary.get("val_metrics"),
        "data": {k: data.get(k) for k in ("source", "demo_songs", "sample_rate", "crop_frames")},
        "stems": config.get("vocoder", {}).get("stems"),
        "parameters": int(sum(t.numel() for t in saved.state.values())),
        "torch": str(torch.__version__),
    }
    state = {k: t.half() if t.is_floating_point() else t for k, t in saved.state.items()}
    obj = {
        "format": EXPORT_FORMAT,
        "codec": saved.codec,
        "vocoder": saved.sizes,
        "state_dict": state,
        "provenance": provenance,
    }
    with atomic_writer(out, "vocoder export") as fh:
        torch.save(obj, fh)
    return provenance


def main(argv: list[str] | None = None) -> int:
    """``python -m samuel_pl.codecs.vocoder CKPT OUT --recipe TEXT``: :func:`export_vocoder`."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=export_vocoder.__doc__)
    parser.add_argument("ckpt", help="a task: vocoder checkpoint (runs/.../checkpoints/last.ckpt)")
    parser.add_argument("out", help=f"the export (the shipped one: {SHIPPED})")
    parser.add_argument("--recipe", required=True, help="the commands that made it")
    args = parser.parse_args(argv)
    try:
        provenance = export_vocoder(args.ckpt, args.out, args.recipe)
    except SamuelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(provenance, indent=1, default=str))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
