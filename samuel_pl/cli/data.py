"""Render the demo set (Bach chorales as vocal/accompaniment stems: `demo --out DIR`, `demo
--list` to count the renderable chorales, `demo --resplit` to give a rendered set the current
split rule), regenerate the chorale tune table (`tunes`) or scan a stem source for unusable songs
(`check`)."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from samuel_pl.cli.common import DEFAULT_CONFIG, add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands ``demo``, ``tunes`` and ``check``."""
    sub = parser.add_subparsers(dest="data_command", metavar="{demo,tunes,check}")
    demo = sub.add_parser("demo", help="render Bach chorales into paired stems")
    demo.add_argument("--out", default="data/demo", help="output folder (default: data/demo)")
    demo.add_argument("--limit", type=int, default=24, help="songs to have rendered (default 24)")
    demo.add_argument("--seed", type=int, default=0, help="seed of order, splits and draws")
    demo.add_argument(
        "--set",
        choices=("bach", "varied", "varied_heldout"),
        default="bach",
        help="bach chorales (default), the varied set, or its held-out style (docs/data.md)",
    )
    demo.add_argument("--backend", choices=("tinysoundfont", "fluidsynth"), default="tinysoundfont")
    demo.add_argument("--soundfont", default=None, help=".sf2 file (default: pretty_midi's GM)")
    demo.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    demo.add_argument("--val-fraction", type=float, default=0.1)
    demo.add_argument("--test-fraction", type=float, default=0.1)
    demo.add_argument("--no-parts", action="store_true", help="skip the per-part stem files")
    demo.add_argument("--list", action="store_true", help="count renderable chorales and exit")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument(
        "--resplit", action="store_true", help="rewrite the splits of --out by tune, render nothing"
    )
    demo.set_defaults(_data_run=_run_demo)
    tunes = sub.add_parser("tunes", help="regenerate the chorale tune table (parses the corpus)")
    tunes.add_argument("--out", default=None, help="table path (default: the packaged tunes.tsv)")
    tunes.add_argument("--workers", type=int, default=1)
    tunes.set_defaults(_data_run=_run_tunes)
    check = sub.add_parser("check", help="scan a stem source and report unusable songs")
    add_config_arguments(check, default=DEFAULT_CONFIG)
    check.add_argument("--report", default=None, help="skip report (JSON lines) path")
    check.set_defaults(_data_run=_run_check)
    parser.set_defaults(_data_parser=parser)


def run(args: argparse.Namespace) -> int:
    """Dispatch to ``demo`` or ``check``; 2 without a subcommand."""
    if not getattr(args, "_data_run", None):
        args._data_parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return int(args._data_run(args))


def _run_demo(args: argparse.Namespace) -> int:
    from samuel_pl.data.demo import list_renderable, render_demo

    t0 = time.perf_counter()
    if args.resplit:
        from samuel_pl.data.demo_plan import resplit_demo

        songs = resplit_demo(args.out, args.val_fraction, args.test_fraction)["songs"]
        counts = {s: sum(r["split"] == s for r in songs) for s in ("train", "val", "test")}
        print("songs: " + " ".join(f"{k}={v}" for k, v in counts.items()))
        return 0
    common = {  # what both renderers take
        "limit": args.limit,
        "seed": args.seed,
        "workers": args.workers,
        "val_fraction": args.val_fraction,
        "test_fraction": args.test_fraction,
        "progress": not args.quiet,
        "parts": not args.no_parts,
    }
    if args.set != "bach":
        from samuel_pl.data.varied import render_varied

        return _print_summary(args.out, render_varied(args.out, args.set, **common), t0)
    if args.list:
        ok, bad = list_renderable(workers=args.workers, progress=not args.quiet)
        for pid, reason in bad:
            print(f"skip {pid}: {reason}")
        print(f"renderable chorales: {len(ok)} of {len(ok) + len(bad)}")
        print(f"seconds: {time.perf_counter() - t0:.1f}")
        return 0
    manifest = render_demo(args.out, backend=args.backend, soundfont=args.soundfont, **common)
    return _print_summary(args.out, manifest, t0)


def _print_summary(out: str, manifest: dict, t0: float) -> int:
    songs = manifest["songs"]
    counts = {s: sum(r["split"] == s for r in songs) for s in ("train", "val", "test")}
    print(f"demo set: {Path(out) / 'manifest.json'}")
    print("songs: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"skipped pieces: {len(manifest.get('skipped', {}))}")
    print(f"seconds: {time.perf_counter() - t0:.1f}")
    return 0


def _run_tunes(args: argparse.Namespace) -> int:
    from samuel_pl.data.tunes import TABLE, print_shared, write_tunes

    print_shared(write_tunes(args.out or TABLE, args.workers))
    return 0


def _default_report(root: Path) -> Path:
    folder = root if root.is_dir() else root.parent
    if not os.access(folder, os.W_OK):
        folder = Path.cwd()
    return folder / "scan_report.jsonl"


def _run_check(args: argparse.Namespace) -> int:
    from samuel_pl.data.sources import build_source, scan_songs
    from samuel_pl.data.splits import SPLITS

    cfg = config_from_args(args)
    if cfg is None:
        return 0
    d = cfg.data
    source = build_source(d)
    report = Path(args.report) if args.report else _default_report(Path(d.root))
    good, bad = scan_songs(
        source.songs(),
        d.sample_rate,
        d.channels,
        report,
        d.max_length_mismatch_s,
        progress=True,
        limits=source.limits,
    )
    print(f"source: {d.source} {d.root} (fingerprint {source.fingerprint()})")
    for split in SPLITS:
        n_good = sum(s.split == split for s in good)
        n_bad = sum(s.split == split for s, _ in bad)
        print(f"{split}: {n_good} usable, {n_bad} skipped")
    print(f"skip report: {report} ({len(bad)} entries)")
    return 0
