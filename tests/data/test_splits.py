"""samuel_pl.data.splits: the one split algorithm (demo piece order and seeded song-id splits)."""

from __future__ import annotations

from samuel_pl.data.chorales import piece_id
from samuel_pl.data.demo import piece_order
from samuel_pl.data.splits import assign_splits, split_songs

# The first 40 songs of the demo set as rendered before the split algorithms were merged
# (data/demo/manifest.json of `python -m samuel_pl.data demo`, seed 0, val/test 0.1/0.1).
DEMO_SEED0 = {
    "bwv396": "val", "bwv151.5": "test", "bwv248.64-s": "train", "bwv388": "train",
    "bwv363": "train", "bwv145-a": "train", "bwv45.7": "train", "bwv297": "train",
    "bwv195.6": "train", "bwv99.6": "train", "bwv66.6": "val", "bwv244.17": "test",
    "bwv166.6": "train", "bwv140.7": "train", "bwv419": "train", "bwv301": "train",
    "bwv164.6": "train", "bwv291": "train", "bwv285": "train", "bwv310": "train",
    "bwv327": "val", "bwv16.6": "test", "bwv5.7": "train", "bwv339": "train",
    "bwv148.6": "train", "bwv408": "train", "bwv337": "train", "bwv409": "train",
    "bwv334": "train", "bwv244.3": "train", "bwv414": "val", "bwv295": "test",
    "bwv330": "train", "bwv139.6": "train", "bwv248.17": "train", "bwv67.7": "train",
    "bwv324": "train", "bwv248.28": "train", "bwv8.6": "train", "bwv270": "train",
}  # fmt: skip


def test_demo_split_unchanged():
    order = piece_order(0)
    splits = assign_splits(len(order), 0.1, 0.1)  # what render_demo gives each position
    first: dict[str, str] = {}
    for path, split in zip(order, splits):
        first.setdefault(piece_id(path), split)  # a repeated id renders at its first position
    assert {sid: first[sid] for sid in DEMO_SEED0} == DEMO_SEED0


def test_assign_splits_prefix_has_each_split():
    splits = assign_splits(24, 0.1, 0.1)
    assert splits[:3].count("train") == 1 and set(splits[:3]) == {"train", "val", "test"}
    assert (splits.count("val"), splits.count("test")) == (3, 3)


def test_assign_splits_honours_zero_fractions():
    assert "test" not in assign_splits(10, 0.34, 0.0)
    assert set(assign_splits(10, 0.0, 0.0)) == {"train"}
    assert assign_splits(3, 0.34, 0.0).count("train") == 2


def test_split_songs_independent_of_order():
    ids = [f"s{i}" for i in range(30)]
    assert split_songs(ids, 0.1, 0.1, 3) == split_songs(ids[::-1], 0.1, 0.1, 3)
    small = split_songs(["a", "b", "c"], 0.1, 0.1, 0)
    assert sorted(small.values()) == ["test", "train", "val"]


def test_split_songs_keeps_songs_to_train_on():
    assert split_songs(["a", "b"], 0.1, 0.1, 0) == {"a": "train", "b": "train"}
    drawn = split_songs([f"s{i}" for i in range(4)], 0.5, 0.45, 0)
    assert "train" in drawn.values() and len(drawn) == 4
