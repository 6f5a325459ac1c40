"""data.pitch_shift: training crops transposed as a channel shift of a log-frequency latent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samuel_pl.config import FitConfig
from samuel_pl.data.datamodule import LatentCrops, SamuelDataModule
from samuel_pl.errors import DataError

C, N = 16, 64


class FakeCache:
    """Two songs whose channel c holds the value c (vocal) or 100 + c (accompaniment)."""

    path = Path("fake-cache")

    def frames(self, song: str) -> int:
        return N

    def load(self, song: str) -> tuple[np.ndarray, np.ndarray]:
        ramp = np.repeat(np.arange(C, dtype=np.float32)[:, None], N, axis=1)  # (C, N)
        return ramp, ramp + 100.0


def crops(**kw: object) -> LatentCrops:
    zeros, ones = np.zeros(C), np.ones(C)
    args: dict = dict(
        cache=FakeCache(), songs=["a", "b"], crop_frames=8, mean=zeros, std=ones, pad=zeros
    )
    args.update(kw)
    return LatentCrops(**args)


def test_random_crops_shift_vocal_and_accompaniment_together() -> None:
    ds = crops(random_crops=200, shift_bins=3, shift_step=2, shift_fill=-50.0)
    seen = set()
    for i in range(len(ds)):
        v, a = ds[i]["vocals"].numpy(), ds[i]["accompaniment"].numpy()
        inside = v[:, 0] != -50.0
        shift = int(np.round(v[inside, 0][0] - np.flatnonzero(inside)[0])) * -1  # channels moved
        assert shift % 2 == 0 and abs(shift) <= 6
        seen.add(shift // 2)
        expect = np.arange(C) - shift  # channel c now holds what channel c - shift held
        valid = (expect >= 0) & (expect < C)
        np.testing.assert_array_equal(v[valid, 3], expect[valid])
        np.testing.assert_array_equal(a[valid, 3], expect[valid] + 100.0)
        assert (v[~valid] == -50.0).all() and (a[~valid] == -50.0).all()
    assert seen == set(range(-3, 4))  # every transposition in the range is drawn


def test_deterministic_crops_are_never_transposed() -> None:
    ds = crops(crops_per_song=3, shift_bins=3)
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds[i]["vocals"].numpy()[:, 0], np.arange(C))


def test_pitch_shift_needs_a_log_codec() -> None:
    cfg = FitConfig()
    cfg.data.pitch_shift = 2
    with pytest.raises(DataError, match="pitch_shift=2; allowed: 0 unless codec.type=mel, codec.s"):
        SamuelDataModule(cfg)._shift_args()
    cfg.codec.scale = "log"
    assert SamuelDataModule(cfg)._shift_args()["shift_bins"] == 2


def test_shift_channels_moves_the_channel_axis_of_a_batch() -> None:
    """The probe (benchmarks/vocal_sensitivity.py) transposes (B, C, T) batches with the same
    function the crops use: channels move, batch and time do not."""
    from samuel_pl.data.datamodule import shift_channels

    z = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # (B, C, T)
    up = shift_channels(z, 1, -9.0)
    assert (up[:, 0] == -9.0).all()
    np.testing.assert_array_equal(up[:, 1:], z[:, :3])
    down = shift_channels(z, -2, -9.0)
    np.testing.assert_array_equal(down[:, :2], z[:, 2:])
    assert (down[:, 2:] == -9.0).all()
    assert shift_channels(z, 0, -9.0) is z
