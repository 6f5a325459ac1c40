"""Print the SAMUeL denoiser's parameter table (per top-level module) and its total."""

from __future__ import annotations

import argparse
import sys

from samuel_pl.cli.common import add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, default="experiments/paper.yaml")


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if cfg is None:
        return 0
    from samuel_pl.lit.samuel import build_unet
    from samuel_pl.nn import parameter_table

    model = build_unet(cfg)
    rows = parameter_table(model)
    total = sum(p.numel() for p in model.parameters())
    width = max(len(name) for name, _ in rows)
    out = sys.stdout
    out.write(
        f"SamuelUNet  channels={list(cfg.model.channels)}  heads={cfg.model.heads}  "
        f"window={cfg.model.window}  mix={cfg.model.mix_schedule}\n"
    )
    out.write(f"{'module':<{width}}  {'params':>12}  {'share':>6}\n")
    for name, n in rows:
        out.write(f"{name:<{width}}  {n:>12,}  {100.0 * n / max(total, 1):>5.1f}%\n")
    out.write(f"total_params {total}\n")
    return 0
