"""Split by tune: the committed tune table, copies of a piece merged, no melody in two splits."""

from __future__ import annotations

import json
import os
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from samuel_pl.data import demo_plan as plan_mod
from samuel_pl.data import tunes
from samuel_pl.data.chorales import corpus_paths, piece_id, unique_pieces
from samuel_pl.data.demo import ensure_demo
from samuel_pl.data.demo_plan import demo_plan, piece_order
from samuel_pl.data.splits import split_groups
from samuel_pl.errors import DataError

pytest.importorskip("music21")

# Harmonisations of one chorale tune under different ids (checked by eye on the soprano lines):
# the first of each pair was a test song of the 160-song render whose melody was also trained on.
SAME_TUNE = [
    ("bwv151.5", "bwv375"),  # Lobt Gott, ihr Christen allzugleich (openings differ)
    ("bwv94.8", "bwv45.7"),  # O Gott, du frommer Gott
    ("bwv95.7", "bwv430"),  # Valet will ich dir geben
]
OTHER_TUNES = ["bwv1.6", "bwv10.7", "bwv135.6", "bwv244.3", "bwv80.8"]  # five distinct tunes


def test_signature_is_transposition_invariant_and_ignores_repeats():
    assert tunes.signature([60, 62, 62, 64, 60]) == "+2,+2,-4"
    assert tunes.signature([65, 67, 69, 69, 65]) == "+2,+2,-4"  # a fourth up, a note repeated
    assert tunes.signature([60, 62, 64, 59]) != tunes.signature([60, 62, 64, 60])
    assert tunes.signature(list(range(40)), intervals=16) == ",".join(["+1"] * 16)
    assert tunes.signature([60]) == ""


def test_same_tune_catches_variants_not_other_tunes():
    table = tunes.load_tunes()
    labels = tunes.tune_labels(table)
    for a, b in SAME_TUNE:
        assert labels[a] == labels[b], (a, b)
    assert len({labels[i] for i in OTHER_TUNES}) == len(OTHER_TUNES)
    for a, b in combinations(OTHER_TUNES, 2):
        assert not tunes.same_tune(table[a], table[b]), (a, b)
    sizes = Counter(labels.values())
    assert max(sizes.values()) <= 20  # no chain merges unrelated tunes into a giant group
    assert 150 < len(sizes) < len(table)


def test_split_groups_keeps_a_group_in_one_split():
    groups = ["a", "b", "a", "c", "b", "d", "a"]
    # assign_splits(7, 0.25, 0.25) is val, test, train, train, val, test, train by position;
    # each position takes the split of its group's first position
    expected = ["val", "test", "val", "train", "test", "test", "val"]
    assert split_groups(groups, 0.25, 0.25) == expected


def test_table_matches_the_scores_for_a_sample():
    table = tunes.load_tunes()
    paths = {piece_id(p): p for p in unique_pieces(corpus_paths())}
    for pid in [a for pair in SAME_TUNE for a in pair] + ["bwv277", "bwv10.7"]:
        assert table[pid] == tunes.tune_of_path(paths[pid]), pid
    assert table["bwv277"] and paths["bwv277"].suffix == ".mxl"  # not its .krn copy


def test_table_covers_the_corpus_and_a_stale_one_is_refused(tmp_path: Path):
    table = tunes.load_tunes()
    assert set(table) == {piece_id(p) for p in corpus_paths()}
    old = tmp_path / "tunes.tsv"
    old.write_text(tunes.TABLE.read_text().replace("intervals=32", "intervals=16", 1))
    with pytest.raises(DataError, match="stale tune table"):
        tunes.load_tunes(old)
    with pytest.raises(DataError, match="no entry for"):
        tunes.tune_groups(["bwv10.7", "bwv9999.1"], table)


def test_copies_of_a_piece_are_one_song():
    ids = [piece_id(p) for p in corpus_paths()]
    assert max(Counter(ids).values()) > 1  # the corpus holds .krn and .mxl copies of a piece
    order = [piece_id(p) for p in piece_order(0)]
    assert len(order) == len(set(order)) == len(set(ids))
    plan = demo_plan(0, 320)
    assert len({sid for sid, _ in plan}) == 320


@pytest.mark.parametrize("songs", [24, 160, 320])
def test_no_tune_in_two_splits(songs: int):
    table = tunes.load_tunes()
    plan = demo_plan(0, songs, 0.1, 0.1)
    split = dict(plan)
    for a, b in SAME_TUNE:
        if a in split and b in split:
            assert split[a] == split[b], (a, b)
    by_opening: dict[str, set[str]] = {}  # the first 16 intervals, as the issue compared them
    for sid, s in plan:
        by_opening.setdefault(",".join(table[sid].split(",")[:16]), set()).add(s)
    assert all(len(v) == 1 for v in by_opening.values())
    labels = tunes.tune_labels(table)
    by_tune: dict[str, set[str]] = {}
    for sid, s in plan:
        by_tune.setdefault(labels[sid], set()).add(s)
    assert all(len(v) == 1 for v in by_tune.values())
    counts = Counter(s for _, s in plan)
    assert counts["val"] >= 0.05 * songs and counts["test"] >= 0.05 * songs  # both splits fed


def test_an_old_render_gets_the_tune_split(tmp_path: Path):
    ensure_demo(tmp_path, 2, 0, workers=1, progress=False, val_fraction=0.5, test_fraction=0.0)
    manifest = tmp_path / "manifest.json"
    doc = json.loads(manifest.read_text())
    expected = {r["song_id"]: r["split"] for r in doc["songs"]}
    mtimes = {p: os.stat(p).st_mtime_ns for p in tmp_path.rglob("*.wav")}
    for rec in doc["songs"]:  # as an older split rule wrote it
        rec["split"] = "test"
        song = tmp_path / rec["song_id"] / "song.json"
        song.write_text(json.dumps({**json.loads(song.read_text()), "split": "test"}))
    del doc["split_by"]
    manifest.write_text(json.dumps(doc))
    ensure_demo(tmp_path, 2, 0, workers=1, progress=False, val_fraction=0.5, test_fraction=0.0)
    again = json.loads(manifest.read_text())
    assert again["split_by"] == plan_mod.SPLIT_BY
    assert {r["song_id"]: r["split"] for r in again["songs"]} == expected
    assert "test" not in expected.values()
    for sid in expected:
        assert json.loads((tmp_path / sid / "song.json").read_text())["split"] == expected[sid]
    assert {p: os.stat(p).st_mtime_ns for p in tmp_path.rglob("*.wav")} == mtimes  # no re-render
