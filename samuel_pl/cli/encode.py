"""Encode every song of the configured stem source into the versioned latent cache.

Reuses a complete cache made by the same codec from the same data; refuses a mismatching one
unless --force. Prints the cache path, songs per split, skipped songs and the time taken.
"""

from __future__ import annotations

import argparse
import sys
import time

from samuel_pl.cli.common import DEFAULT_CONFIG, add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE [--force] [key=value ...]``."""
    add_config_arguments(parser, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--force", action="store_true", help="rebuild the cache even if one exists (any codec)"
    )


def run(args: argparse.Namespace) -> int:
    """Build or reuse the cache; 0 on success (errors are raised as SamuelError)."""
    from samuel_pl.data.cache_build import ensure_cache

    cfg = config_from_args(args)
    if cfg is None:
        return 0
    t0 = time.perf_counter()
    cache = ensure_cache(cfg, force=bool(args.force))
    seconds = time.perf_counter() - t0
    splits = " ".join(f"{s}={len(cache.songs(s))}" for s in ("train", "val", "test"))
    skipped = cache.manifest.get("skipped", [])
    for skip in skipped:  # one line each: the song and the file + problem
        sys.stderr.write(f"skipped {skip['id']}: {str(skip['reason']).splitlines()[0]}\n")
    print(f"cache: {cache.path} ({'reused' if cache.reused else 'built'})")
    print(f"codec: {cache.codec_id} ({cache.latent_channels} channels)")
    print(f"songs: {splits}")
    print(
        f"skipped: {len(skipped)}"
        + (f" (reasons in {cache.path / 'manifest.json'})" if skipped else "")
    )
    print(f"seconds: {seconds:.1f}")
    return 0
