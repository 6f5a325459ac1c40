"""Chorale tunes: which corpus pieces harmonise the same melody, so a split can keep them together.

Bach harmonised one chorale tune many times and the music21 corpus holds several of these under
different ids (bwv151.5 and bwv375 ...): splitting by file would put a tune in train and test.
A piece's melody signature is its soprano's first :data:`SIGNATURE` intervals between successive
*distinct* pitches (transposition-invariant; repeated notes dropped, since harmonisations split a
held note differently for the text). Two pieces are one tune (:func:`same_tune`) when their first
:data:`PREFIX` intervals agree or their interval :data:`NGRAM`-grams overlap by Jaccard >=
:data:`JACCARD` (variants that differ by a passing note or an upbeat); tunes are the connected
groups of that relation (:func:`tune_labels`). The rule errs towards merging: a false merge only
moves a tune into its neighbour's split. Parsing 400 scores takes minutes, so the signatures live
in a committed table, ``tunes.tsv`` beside this module (``id<TAB>signature``; an empty signature:
no usable soprano). Regenerate it after a music21 corpus change with ``python -m
samuel_pl.data tunes``, which also lists the tunes shared by several pieces.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

from samuel_pl.errors import DataError

SIGNATURE, PREFIX, NGRAM, JACCARD = 32, 8, 5, 0.35
VERSION = f"melody signature v1 intervals={SIGNATURE}"  # the table's first line
TABLE = Path(__file__).with_name("tunes.tsv")
REGENERATE = "python -m samuel_pl.data tunes"


def signature(pitches: Sequence[int], intervals: int = SIGNATURE) -> str:
    """Melody signature (MIDI pitches in time order): its first ``intervals`` intervals between
    successive distinct pitches, as '+2,-2,-1,...'. Equal for transposed copies; '' if < 2 pitches.
    """
    distinct = [p for i, p in enumerate(pitches) if i == 0 or p != pitches[i - 1]]
    steps = [b - a for a, b in zip(distinct, distinct[1:])][:intervals]
    return ",".join(f"{s:+d}" for s in steps)


def _grams(sig: str) -> tuple[tuple[str, ...], frozenset]:
    steps = tuple(sig.split(",")) if sig else ()
    return steps, frozenset(steps[i : i + NGRAM] for i in range(len(steps) - NGRAM + 1))


def same_tune(a: str, b: str) -> bool:
    """Signatures linked: same first PREFIX intervals or NGRAM Jaccard >= JACCARD."""
    return _linked(_grams(a), _grams(b))


def _linked(a: tuple[tuple[str, ...], frozenset], b: tuple[tuple[str, ...], frozenset]) -> bool:
    (sa, ga), (sb, gb) = a, b
    if not sa or not sb:
        return False
    if len(sa) >= PREFIX and sa[:PREFIX] == sb[:PREFIX]:
        return True
    return bool(ga | gb) and len(ga & gb) / len(ga | gb) >= JACCARD


def tune_labels(table: dict[str, str]) -> dict[str, str]:
    """{id: tune label}: the smallest id of its connected group under :func:`same_tune` (an id
    without a signature is its own tune)."""
    return dict(_labels(tuple(sorted(table.items()))))


@functools.lru_cache(maxsize=4)
def _labels(items: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    parent = {pid: pid for pid, _ in items}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    grams = {pid: _grams(sig) for pid, sig in items if sig}
    for a, b in combinations(sorted(grams), 2):
        if _linked(grams[a], grams[b]):
            ra, rb = root(a), root(b)
            parent[max(ra, rb)] = min(ra, rb)
    return tuple((pid, root(pid)) for pid, _ in items)


def tune_of_path(path: str | Path) -> str:
    """Melody signature of a corpus file ('' without a usable soprano; parses it with music21)."""
    from samuel_pl.data.chorales import load_piece

    piece, _ = load_piece(path)
    return signature([n.pitch for n in piece.soprano.notes]) if piece is not None else ""


def load_tunes(path: str | Path = TABLE) -> dict[str, str]:
    """The committed table: {piece id: signature}. DataError when missing or of another version."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the tune table ({exc}); run `{REGENERATE}`") from exc
    if not lines or lines[0] != f"# {VERSION}":
        raise DataError(f"{path}: stale tune table (not '{VERSION}'); run `{REGENERATE}`")
    table = {}
    for n, line in enumerate(lines[1:], start=2):
        pid, sep, key = line.partition("\t")
        if not sep or not pid:
            raise DataError(f"{path}:{n}: expected 'id<TAB>key', got {line!r}")
        table[pid] = key
    return table


def tune_groups(ids: Sequence[str], table: dict[str, str]) -> list[str]:
    """Tune label of each id (:func:`tune_labels`). DataError naming the ids the table lacks (a
    corpus newer than the table)."""
    missing = [i for i in ids if i not in table]
    if missing:
        raise DataError(
            f"{TABLE}: stale tune table, no entry for {missing[:3]}; run `{REGENERATE}`"
        )
    labels = tune_labels(table)
    return [labels[i] for i in ids]


def write_tunes(path: str | Path = TABLE, workers: int = 1) -> dict[str, str]:
    """Parse every corpus piece (one file per id, :func:`unique_pieces`) and write the table
    atomically. Returns the table."""
    from samuel_pl.data.chorales import corpus_paths, piece_id, unique_pieces
    from samuel_pl.data.workers import parallel_map
    from samuel_pl.files import write_text

    paths = unique_pieces(corpus_paths())
    table = {piece_id(p): sig for p, sig in zip(paths, parallel_map(tune_of_path, paths, workers))}
    body = "".join(f"{pid}\t{key}\n" for pid, key in sorted(table.items()))
    write_text(Path(path), f"# {VERSION}\n{body}")
    return table


def print_shared(table: dict[str, str]) -> None:
    """Print the tunes shared by several pieces (one line of ids each) and the counts."""
    groups: dict[str, list[str]] = {}
    for pid, label in tune_labels(table).items():
        groups.setdefault(label, []).append(pid)
    shared = sorted((sorted(v) for v in groups.values() if len(v) > 1), key=len, reverse=True)
    for ids in shared:
        print(" ".join(ids))
    print(f"pieces {len(table)} tunes {len(groups)} shared by several pieces {len(shared)}")
