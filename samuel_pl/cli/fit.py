"""Train SAMUeL. With no arguments: experiments/demo.yaml (render, encode, a few CPU minutes)."""

from __future__ import annotations

import argparse
import json

from samuel_pl.cli.common import DEFAULT_CONFIG, add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, default=DEFAULT_CONFIG)
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if cfg is None:
        return 0
    from samuel_pl.training import fit  # heavy imports only when training

    summary = fit(cfg)
    if not summary:
        return 0
    keys = [
        "global_step",
        "first_train_loss",
        "last_train_loss",
        "first_val_loss",
        "last_val_loss",
        "wall_time_s",
        "train_samples_per_s",
        "checkpoint",
        "mlflow_run_id",
    ]
    print("\n== fit summary ==")
    for k in keys:
        v = summary.get(k)
        print(f"{k:>20}: {round(v, 5) if isinstance(v, float) else v}")
    if summary.get("samples"):
        print(f"{'samples':>20}: {summary['samples'][0].rsplit('/', 1)[0]}/")
        if summary.get("decoder"):
            print(f"{'decoded by':>20}: {summary['decoder']}")
    for k, v in (summary.get("val_metrics") or {}).items():
        print(f"{k:>20}: {round(v, 4)}")
    if summary.get("codec_overrides"):
        print(f"{'use as codec':>20}: {summary['codec_overrides']}")
    print(f"{'summary':>20}: {summary['run_dir']}/summary.json")
    if summary.get("nonfinite_skipped"):
        print(f"{'nonfinite_skipped':>20}: {summary['nonfinite_skipped']} (trainer.nonfinite=skip)")
    if summary.get("mlflow_url"):
        print(f"\nopen the results: {summary['mlflow_url']}")
        if summary.get("mlflow_ui"):
            print(f"  (start the MLflow UI first: {summary['mlflow_ui']})")
    if getattr(args, "json", False):
        print(json.dumps(summary, default=str))
    return 0
