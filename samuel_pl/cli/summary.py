"""Print the parameter table (per top-level module) and total of the network a config trains:
the SAMUeL denoiser (``task: diffusion``), the audio VAE (``task: vae``) or the mel codec's vocoder
(``task: vocoder``). A sweep file prints one table per trial of its grid.

Nothing is encoded or trained: ``model.in_channels=0`` resolves to the codec's latent channels
from the codec config alone (:func:`~samuel_pl.codecs.latent_fields`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from samuel_pl.cli.common import add_config_arguments, config_from_args, resolve_config_path
from samuel_pl.config import FitConfig, load_config

SWEEP_KEYS = ("base", "params")
"""Top-level keys that make a YAML file a sweep spec rather than a fit config."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, default="experiments/paper.yaml")


def network(cfg: FitConfig) -> tuple[nn.Module, str]:
    """(the network ``cfg`` trains, randomly initialised; its one-line heading)."""
    if cfg.task == "vae":
        from samuel_pl.nn.oobleck import OobleckConfig, OobleckVAE

        arch = OobleckConfig.from_sizes(dataclasses.asdict(cfg.vae), cfg.data.channels)
        v = cfg.vae
        return OobleckVAE(arch), (
            f"OobleckVAE  channels={v.channels}  c_mults={list(v.c_mults)}  "
            f"strides={list(v.strides)}  latent_dim={v.latent_dim}"
        )
    if cfg.task == "vocoder":
        from samuel_pl.codecs import latent_fields
        from samuel_pl.codecs.vocoder import build_vocoder

        bins = latent_fields(cfg.codec).channels
        net = build_vocoder(dataclasses.asdict(cfg.vocoder), bins, cfg.codec.hop_length)
        return net, (
            f"VocosVocoder  bins={bins}  hop={cfg.codec.hop_length}  dim={cfg.vocoder.dim}  "
            f"layers={cfg.vocoder.layers}"
        )
    from samuel_pl.lit.samuel import build_unet
    from samuel_pl.training import resolve_in_channels

    cfg = resolve_in_channels(cfg)
    m = cfg.model
    return build_unet(cfg), (
        f"SamuelUNet  in_channels={m.in_channels}  channels={list(m.channels)}  "
        f"heads={m.heads}  window={m.window}  mix={m.mix_schedule}"
    )


def write_table(cfg: FitConfig, out: Any) -> int:
    """Write the parameter table of ``cfg``'s network to ``out``; return its total."""
    from samuel_pl.nn import parameter_table

    model, heading = network(cfg)
    rows = parameter_table(model)
    total = sum(p.numel() for p in model.parameters())
    width = max([len("module"), *(len(name) for name, _ in rows)])
    out.write(heading + "\n")
    out.write(f"{'module':<{width}}  {'params':>12}  {'share':>6}\n")
    for name, n in rows:
        out.write(f"{name:<{width}}  {n:>12,}  {100.0 * n / max(total, 1):>5.1f}%\n")
    out.write(f"total_params {total}\n")
    return total


def _is_sweep(path: Path | None) -> bool:
    if path is None or not path.is_file():
        return False
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # load_config reports it
    return isinstance(doc, dict) and all(k in doc for k in SWEEP_KEYS)


def run(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.config)
    if _is_sweep(path):
        from samuel_pl.sweeps.spec import expand, load_sweep

        spec = load_sweep(path, list(args.overrides or []))  # type: ignore[arg-type]
        groups = list(dict.fromkeys(t.group() for t in expand(spec)))  # seeds share a network
        for group in groups or [()]:  # optuna proposes as it goes: the base + sweep overrides
            point = [f"{k}={json.dumps(v)}" for k, v in group]
            sys.stdout.write(f"# {spec.name}: {' '.join(point) or 'base'}\n")
            write_table(load_config(Path(spec.base), [*spec.overrides, *point]), sys.stdout)
        return 0
    cfg = config_from_args(args)
    if cfg is None:
        return 0
    write_table(cfg, sys.stdout)
    return 0
