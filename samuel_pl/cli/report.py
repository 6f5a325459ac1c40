"""Report on an MLflow experiment (a sweep or any runs): a ranked table of the configuration
differences with confidence intervals, loss curves, metric-vs-parameter and quality-vs-speed
plots, mixing weights over diffusion time, spectrograms and audio. Writes DIR/report.md (+
DIR/assets/) and a self-contained DIR/report.html, and logs them to MLflow."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiment", required=True, help="MLflow experiment name")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--uri", default="sqlite:///mlruns.db", help="MLflow tracking URI (default: %(default)s)"
    )
    parser.add_argument("--runs", nargs="+", default=None, help="only these run ids or names")
    parser.add_argument("--metric", default="", help="rank by this metric (default: the sweep's)")
    parser.add_argument("--mode", choices=["min", "max"], default="", help="metric direction")
    parser.add_argument("--columns", nargs="+", default=None, help="extra metric columns")
    parser.add_argument("--examples", type=int, default=8, help="runs with audio examples")
    parser.add_argument("--audio-seconds", type=float, default=10.0, help="audio excerpt length")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report")


def run(args: argparse.Namespace) -> int:
    from samuel_pl.reports import ReportOptions, build_report

    opts = ReportOptions(
        experiment=args.experiment,
        uri=args.uri,
        runs=args.runs,
        metric=args.metric,
        mode=args.mode,
        columns=args.columns,
        examples=args.examples,
        audio_seconds=args.audio_seconds,
        log_to_mlflow=not args.no_mlflow,
    )
    summary = build_report(opts, Path(args.out))
    print(f"wrote {summary['report_md']} and {summary['report_html']} ({summary['runs']} runs)")
    if summary.get("mlflow_run_id"):
        print(f"logged to MLflow run {summary['mlflow_run_id']} (artifacts report/)")
    return 0
