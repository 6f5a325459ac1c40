"""Evaluate generators on a suite's split: Frechet distances (FD-mel, FAD-VGGish/CLAP with local
weights), vocal/accompaniment alignment and harmonic fit, efficiency, aesthetics, with control
rows that validate each metric; writes metrics.json + table.md and logs an MLflow run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samuel_pl.cli.common import resolve_config_path
from samuel_pl.config import load_config, to_yaml
from samuel_pl.config.suite import SuiteConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default="evaluation/suites/demo.yaml", help="suite YAML")
    parser.add_argument("--ckpt", default=None, help="SAMUeL checkpoint for samuel generators")
    parser.add_argument("--out", default=None, help="output folder (default: eval/<suite>)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="score the control rows (controls=true) and print, per metric, Cohen's d of the "
        "ground truth against each control, flagging metrics that do not separate",
    )
    parser.add_argument("--print-config", action="store_true", help="print the suite and exit")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the suite")


def check_suite(suite: SuiteConfig, ckpt: str | None) -> None:
    """SamuelError for a checkpoint that cannot work, before any audio is read or written (the
    suite's settings were checked when it was loaded: ``samuel_pl.config.validate``)."""
    if ckpt is not None:  # a bad checkpoint fails now, not after the clips are read
        from samuel_pl.safeload import load_checkpoint

        load_checkpoint(ckpt, "diffusion")


def run(args: argparse.Namespace) -> int:
    suite = load_config(resolve_config_path(args.suite), list(args.overrides), SuiteConfig)
    if args.validate:
        suite.controls = True
    if args.print_config:
        print(to_yaml(suite), end="")
        return 0
    from samuel_pl.evaluation import evaluate, table_markdown

    check_suite(suite, args.ckpt)
    out = Path(args.out or Path("eval") / suite.name)
    track = not args.no_mlflow and suite.tracking.enabled
    if track:  # before any work: an unreachable server fails (or falls back) now
        from samuel_pl.tracking.mlflow_logger import resolve_tracking_uri

        t = suite.tracking
        t.uri = resolve_tracking_uri(t.uri, t.fallback, out)
    result = evaluate(suite, args.ckpt, out)
    from samuel_pl.reports.examples_page import write_examples_page

    page = write_examples_page(out, result)
    print(table_markdown(result))
    if page is not None:
        print(f"spectrograms and audio players: {page}")
    if args.validate:  # the table ends with the validate section; name the failures once more
        checks = result.get("validation") or {}
        failed = [f"{m} ({', '.join(c['fails'])})" for m, c in checks.items() if c["fails"]]
        print(f"validate: {len(checks) - len(failed)} of {len(checks)} metrics meet their "
              "expectation" + (f"; not: {'; '.join(failed)}" if failed else ""))  # fmt: skip
    if track:
        from samuel_pl.tracking.evaluation_run import log_evaluation

        t = suite.tracking
        try:
            rid, url, command = log_evaluation(t.uri, t.experiment, suite.name, out, result)
        except Exception as exc:  # noqa: BLE001 - the results are on disk already
            msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            print(f"warning: MLflow logging failed ({msg}); results are in {out}", file=sys.stderr)
        else:
            print(f"MLflow run {rid} ({t.uri}, experiment {t.experiment})")
            print(f"open the results: {url}")
            if command:
                print(f"  (start the MLflow UI first: {command})")
    print(f"wrote {out / 'metrics.json'} and {out / 'table.md'} in {result['wall_time_s']} s")
    return 0
