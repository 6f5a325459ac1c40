"""Shared CLI pieces: config arguments, one-line errors, the module entry shim."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from samuel_pl.config import FitConfig, load_config, to_yaml

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = "experiments/demo.yaml"


def add_config_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--config FILE``, ``--print-config`` and free ``key=value`` overrides."""
    parser.add_argument(
        "--config",
        default=default,
        help=f"YAML config (default: {default or 'the schema defaults'})",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. model.window=32")


def resolve_config_path(path: str | None) -> Path | None:
    """A config path as given, else relative to the repository checkout (for the defaults)."""
    if path is None:
        return None
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    alt = PACKAGE_ROOT / p
    return alt if alt.exists() else p


def config_from_args(args: argparse.Namespace) -> FitConfig | None:
    """Load the config; print and return None when --print-config was given."""
    cfg: FitConfig = load_config(resolve_config_path(args.config), list(args.overrides or []))
    if getattr(args, "print_config", False):
        sys.stdout.write(to_yaml(cfg))
        return None
    return cfg


def fail(message: str, code: int = 2) -> int:
    """Print ``error: message`` as one line on stderr and return ``code``."""
    sys.stderr.write(f"error: {message.splitlines()[0] if message else 'failed'}\n")
    return code


def kv(d: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in d.items())
