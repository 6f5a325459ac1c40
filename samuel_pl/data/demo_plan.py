"""The demo set's plan: the seeded piece order, the split of each piece (by chorale tune), and
re-splitting a set rendered under an older split rule. Needs no score parse: which pieces are
renderable and which share a tune comes from the committed tune table (:mod:`.tunes`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.data.chorales import corpus_paths, piece_id, unique_pieces
from samuel_pl.data.splits import split_groups
from samuel_pl.data.tunes import VERSION as TUNE_VERSION
from samuel_pl.data.tunes import load_tunes, tune_groups
from samuel_pl.errors import DataError
from samuel_pl.files import write_json

SPLIT_BY = f"tune ({TUNE_VERSION})"  # the split rule; a manifest naming another is re-split


def piece_order(seed: int) -> list[Path]:
    """All corpus pieces in a seeded order, one file per piece id (:func:`unique_pieces`: a
    .krn copy of a MusicXML piece is dropped); a render of N songs takes the first N renderable."""
    paths = corpus_paths()
    rng = np.random.default_rng([int(seed), 7919])
    return unique_pieces([paths[i] for i in rng.permutation(len(paths))])


def demo_splits(order: list[Path], val_fraction: float, test_fraction: float) -> dict[str, str]:
    """{piece id: split} for a piece order: by tune (:func:`split_groups` over the committed tune
    table), so no chorale melody is in two splits and a longer render moves no earlier split."""
    ids = [piece_id(p) for p in order]
    return dict(zip(ids, split_groups(tune_groups(ids, load_tunes()), val_fraction, test_fraction)))


def demo_plan(
    seed: int, limit: int, val_fraction: float = 0.1, test_fraction: float = 0.1
) -> list[tuple[str, str]]:
    """The (song id, split) a ``limit``-song render will hold, without parsing a score: the
    first ``limit`` pieces of the order that the tune table marks renderable (a soprano found)."""
    order, table = piece_order(seed), load_tunes()
    splits = demo_splits(order, val_fraction, test_fraction)
    ids = [piece_id(p) for p in order if table.get(piece_id(p))]
    return [(sid, splits[sid]) for sid in ids[:limit]]


def set_split(root: Path, rec: dict[str, Any], split: str) -> dict[str, Any]:
    """``rec`` with ``split``; its song.json rewritten when it held another (an older rule's)."""
    if rec.get("split") != split:
        rec = {**rec, "split": split}
        write_json(root / rec["song_id"] / "song.json", rec)
    return rec


def resplit_demo(root: str | Path, val_fraction: float, test_fraction: float) -> dict[str, Any]:
    """Give a rendered demo set the splits of the current rule (:data:`SPLIT_BY`) without
    rendering: manifest and song.json files rewritten, no audio touched. Returns the manifest."""
    manifest = Path(root) / "manifest.json"
    try:
        doc = json.loads(manifest.read_text())
        order = piece_order(int(doc["settings"]["seed"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{manifest}: unreadable demo manifest ({exc})") from exc
    splits = demo_splits(order, val_fraction, test_fraction)
    position = {piece_id(p): i for i, p in enumerate(order)}
    songs = [set_split(Path(root), r, splits[r["song_id"]]) for r in doc.get("songs", [])]
    doc["songs"] = sorted(songs, key=lambda r: position[r["song_id"]])
    doc.update(split_by=SPLIT_BY, val_fraction=val_fraction, test_fraction=test_fraction)
    write_json(manifest, doc)
    return doc
