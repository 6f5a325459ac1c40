"""benchmarks/sampling.py's quality table: which test crops it samples (every test song, not
only those longer than the model's window) and its statistics (pooled per-song statistics,
song-jackknife intervals of the ratio to the noise floor)."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

from samuel_pl.metrics.frechet import frechet_distance, gaussian_stats
from tests.conftest import REPO

HOP, SR = 512, 22050
# The 17 demo_long test chorales (seconds): only 5 are longer than its 2048-frame window.
TEST_SONG_S = [59.6, 33.6, 34.7, 33.6, 47.5, 30.8, 33.0, 39.7, 40.5, 27.3, 52.4, 61.3, 36.5,
               45.1, 51.1, 29.9, 67.4]  # fmt: skip


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    for name in ("sampling_quality", "sampling_stats"):
        sys.modules.pop(name, None)
    import sampling_quality

    return sampling_quality


class _Codec:
    """The mel codec's frame arithmetic (hop 512)."""

    def num_frames(self, n: int) -> int:
        return n // HOP + 1

    def num_samples(self, w: int) -> int:
        return max(w - 1, 0) * HOP


def _fake_acc(window: int = 2048) -> SimpleNamespace:
    return SimpleNamespace(
        cfg=SimpleNamespace(data=SimpleNamespace(source="demo")),
        sample_rate=SR,
        codec=_Codec(),
        window=window,
        module=SimpleNamespace(model=SimpleNamespace(time_multiple=8)),
    )


def _songs(seconds: list[float]) -> dict[str, np.ndarray]:
    return {f"s{i:02d}": np.zeros((1, int(s * SR)), np.float32) for i, s in enumerate(seconds)}


def test_default_crops_cover_every_test_song(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crop defaults to the window shortened to the shortest song: all 17 songs count (a
    crop of the whole 2048-frame window kept 5), each crop centred and whole."""
    import samuel_pl.data.clips as clips

    songs = _songs(TEST_SONG_S)
    monkeypatch.setattr(clips, "load_clips", lambda suite: (songs, songs))
    crops = bench.select_crops(_fake_acc(), 0, 1)
    assert len(crops.songs) == 17 and len(crops.vocals) == 17
    assert crops.frames == 1176  # 27.3 s = 1176.6 frames, floored to the U-Net stride 8
    n = _Codec().num_samples(1176)
    assert all(v.shape == (1, n) for v in crops.vocals)
    assert "from 17 of 17 test songs" in crops.note and "skipped" in crops.note
    # an explicit crop as long as the window leaves out the 12 shorter songs, and says so
    long = bench.select_crops(_fake_acc(), 2048, 1)
    assert len(long.songs) == 5 and "from 5 of 17 test songs" in long.note
    assert "s09" in long.note.split("skipped")[1]  # the 27.3 s song


def test_plan_crops_centres_and_counts(bench: ModuleType) -> None:
    plan, short = bench.plan_crops({"a": 1000, "b": 250, "c": 90}, 100, 3)
    assert plan == [("a", 350), ("a", 450), ("a", 550), ("b", 25), ("b", 125)]
    assert set(short) == {"b", "c"} and "0 of 3" in short["c"]


def test_pooled_song_stats_are_the_pooled_frames(bench: ModuleType) -> None:
    import sampling_stats as st

    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 4, 50))  # 6 clips (2 seeds x 3 clips) of 3 songs
    song_of = np.array([0, 1, 2, 0, 1, 2])
    stats = st.SongStats.of(z, song_of, 3)
    frames = z.transpose(0, 2, 1)
    mu, cov = gaussian_stats(frames.reshape(-1, 4))
    got = stats.pooled(np.ones(3))
    assert np.allclose(got[0], mu) and np.allclose(got[1], cov)
    w = np.array([2.0, 0.0, 1.0])  # song 0 twice, song 2 once
    pick = np.concatenate([frames[song_of == s].reshape(-1, 4) for s in (0, 0, 2)])
    mu2, cov2 = gaussian_stats(pick)
    assert np.allclose(stats.pooled(w)[0], mu2) and np.allclose(stats.pooled(w)[1], cov2)


def test_exact_sampler_sits_at_the_floor_and_a_biased_one_above_the_bar(bench: ModuleType) -> None:
    """Independent draws of the reference distribution: ratio about 1 with an interval that
    holds 1 (verdict yes or unclear, never no); a shifted sampler: clearly above 1.5x."""
    import sampling_stats as st

    rng = np.random.default_rng(1)
    songs = np.arange(17).repeat(1)
    centres = rng.normal(size=(17, 8, 1))  # each song its own mean

    def draw(shift: float = 0.0) -> st.SongStats:
        z = centres + rng.normal(size=(17, 8, 64)) + shift
        return st.SongStats.of(z, songs, 17)

    ref, floor_draw, exact, biased = draw(), draw(), draw(), draw(0.5)
    w = st.jackknife_weights(17)
    assert w.shape == (18, 17) and (w[0] == 1).all() and (w[1:].sum(1) == 16).all()
    floor = st.fd_replicates(floor_draw, ref, w)
    assert floor[0] == pytest.approx(frechet_distance(*floor_draw.pooled(w[0]), *ref.pooled(w[0])))
    ok = st.summarize(st.fd_replicates(exact, ref, w), floor)
    lo, hi = ok["ratio_ci"]
    assert lo < 1 < hi and ok["within_1.5x"] != "no"
    assert ok["excess_ci"][0] < 0 < ok["excess_ci"][1]
    bad = st.summarize(st.fd_replicates(biased, ref, w), floor)
    assert bad["ratio_ci"][0] > 1.5 and bad["within_1.5x"] == "no"
    assert bad["excess_ci"][0] > 0
    assert st.summarize(floor, floor)["ratio_to_floor"] == 1.0


def test_verdict_needs_the_whole_interval_under_the_bar(bench: ModuleType) -> None:
    """A point under 1.5x whose interval reaches above it is 'unclear', not 'yes'."""
    import sampling_stats as st

    floor = np.ones(41)
    straddles = np.concatenate([[1.3], np.linspace(1.2, 1.4, 40)])  # jackknife SE 0.37
    assert st.summarize(straddles, floor)["within_1.5x"] == "unclear"
    assert st.summarize(np.full(41, 1.2), floor)["within_1.5x"] == "yes"
    assert st.summarize(np.full(41, 1.6), floor)["within_1.5x"] == "no"
