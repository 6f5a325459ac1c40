"""Train/val/test splits by song: the split names and the one split algorithm.

One algorithm serves every source: walk an ordered list of songs and give each position a split
with two running accumulators (:func:`assign_splits`), so any prefix holds about the right shares
and the first positions go to val and test (a handful of songs has each split). The demo walks
its seeded piece order by chorale tune (:func:`split_groups`: every piece of a tune takes the
split of the tune's first piece, so no melody is in two splits; rendering more songs never
moves an earlier one); other sources walk a seeded shuffle of their sorted song ids
(:func:`split_songs`, independent of listing order).
"""

from __future__ import annotations

import random

from samuel_pl.errors import DataError

SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"valid": "val", "validation": "val", "dev": "val", "training": "train"}


def assign_splits(n: int, val_fraction: float, test_fraction: float) -> list[str]:
    """Split of each of ``n`` ordered positions; any prefix holds about the right shares.

    The first positions go to val and test so even a handful (3 or more) of songs has each
    split; fewer than 3 songs are all train, and when the fractions leave no train position the
    last position is train.
    """
    if n < 3:
        return ["train"] * n
    acc_v, acc_t, out = 1.0 - val_fraction, 1.0 - 1.5 * test_fraction, []
    for _ in range(n):
        acc_v, acc_t = acc_v + val_fraction, acc_t + test_fraction
        if val_fraction > 0 and acc_v >= 1.0 - 1e-9:
            out.append("val")
            acc_v -= 1.0
        elif test_fraction > 0 and acc_t >= 1.0 - 1e-9:
            out.append("test")
            acc_t -= 1.0
        else:
            out.append("train")
    if out and "train" not in out:
        out[-1] = "train"
    return out


def split_groups(groups: list[str], val_fraction: float, test_fraction: float) -> list[str]:
    """Split of each of ``n`` ordered positions labelled by group: every position takes the split
    :func:`assign_splits` gives the first position of its group (no group in two splits; a
    position that starts its group keeps the split a per-position walk gives it)."""
    by_position = assign_splits(len(groups), val_fraction, test_fraction)
    first: dict[str, str] = {}
    return [first.setdefault(g, split) for g, split in zip(groups, by_position)]


def split_songs(
    ids: list[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Seeded split by song id: {id: split}. Depends on the set of ids only, not their order:
    :func:`assign_splits` over a shuffle (seeded by ``seed``) of the sorted ids."""
    order = sorted(set(ids))
    random.Random(f"samuel-split-{seed}").shuffle(order)
    return dict(zip(order, assign_splits(len(order), val_fraction, test_fraction)))


def norm_split(value: str, where: str) -> str:
    """``value`` as one of :data:`SPLITS` (aliases such as ``validation`` accepted); DataError
    naming ``where`` otherwise."""
    split = _SPLIT_ALIASES.get(value.strip().lower(), value.strip().lower())
    if split not in SPLITS:
        raise DataError(f"{where}: unknown split {value!r} (use train, val or test)")
    return split
