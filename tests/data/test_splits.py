"""samuel_pl.data.splits: the one split algorithm (demo order and splits, seeded song-id splits)."""

from __future__ import annotations

from samuel_pl.data.demo_plan import demo_plan
from samuel_pl.data.splits import assign_splits, split_songs

# The first 40 songs of the demo set in render order (data/demo/manifest.json of `python -m
# samuel_pl.data demo`, seed 0): splitting by tune must not move a song in the order.
DEMO_SEED0 = [
    "bwv396", "bwv151.5", "bwv248.64-s", "bwv388", "bwv363", "bwv145-a", "bwv45.7", "bwv297",
    "bwv195.6", "bwv99.6", "bwv66.6", "bwv244.17", "bwv166.6", "bwv140.7", "bwv419", "bwv301",
    "bwv164.6", "bwv291", "bwv285", "bwv310", "bwv327", "bwv16.6", "bwv5.7", "bwv339",
    "bwv148.6", "bwv408", "bwv337", "bwv409", "bwv334", "bwv244.3", "bwv414", "bwv295",
    "bwv330", "bwv139.6", "bwv248.17", "bwv67.7", "bwv324", "bwv248.28", "bwv8.6", "bwv270",
]  # fmt: skip


def test_demo_order_unchanged():
    plan = demo_plan(0, len(DEMO_SEED0))
    assert [sid for sid, _ in plan] == DEMO_SEED0
    assert {sid for sid, split in plan if split == "test"} >= {"bwv151.5", "bwv195.6"}  # one tune


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
