"""Run a sweep file: fit + evaluate per trial as MLflow child runs of one parent run; completed
trials are skipped on re-run, failed ones are recorded and the sweep goes on; ends with a
ranked table. Exit code 1 when a trial failed."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="sweep file, e.g. experiments/sweeps/debug.yaml")
    parser.add_argument("--workers", type=int, default=1, help="trials run in parallel processes")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads per trial (default: cores/workers)"
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and list the trials")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the sweep file")


def run(args: argparse.Namespace) -> int:
    from samuel_pl.cli.common import resolve_config_path
    from samuel_pl.sweeps import expand, load_sweep, run_sweep

    path = resolve_config_path(args.sweep) or args.sweep
    if args.dry_run:
        spec = load_sweep(path, list(args.overrides))
        trials = expand(spec, str(path))
        for t in trials:
            print(f"{t.key}  {t.slug}  {' '.join(t.overrides())}")
        print(f"{len(trials)} trials ({spec.method}); metric {spec.metric} ({spec.mode})")
        return 0
    result = run_sweep(
        path, list(args.overrides), args.workers, args.threads, progress=not args.no_progress
    )
    print(f"\n== sweep ranked by {result.metric} ==\n")
    print(result.table)
    print(f"parent run {result.parent_id} ({result.uri}, experiment {result.experiment})")
    print(
        f"report: python -m samuel_pl.report --experiment {result.experiment} "
        f"--uri {result.uri} --out DIR"
    )
    if result.failed:
        print(f"{len(result.failed)} of {len(result.ran)} trials run now failed (see above)")
        return 1
    return 0
