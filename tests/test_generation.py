"""Accompanist on the debug checkpoint: any length, any format, seeds, joins, silent vocals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "generation"))
from gen_helpers import HOP, SR_CODEC, WINDOW, join_steps, vocal, write_vocal  # noqa: E402

from samuel_pl.errors import AudioError, SamuelError  # noqa: E402
from samuel_pl.generation import (  # noqa: E402
    Accompanist,
    SilentVocalsWarning,
    known_weight,
    plan_windows,
    resolve_device,
)

FAST = {"sampler": "ddim", "steps": 2}


@pytest.fixture(scope="module")
def acc(debug_ckpt: Path) -> Accompanist:
    return Accompanist.from_checkpoint(debug_ckpt, device="cpu")


def test_plan_windows_cover_and_overlap() -> None:
    assert plan_windows(10, 32, 8).starts == (0,)
    for frames in (33, 45, 106, 144):
        p = plan_windows(frames, 32, 8)
        assert p.starts[0] == 0 and p.starts[-1] + 32 == frames
        assert all(p.known(k) >= 8 for k in range(1, len(p.starts)))
    with pytest.raises(ValueError):
        plan_windows(40, 32, 32)
    m = known_weight(8, 32, 4)
    assert m[:4].eq(1).all() and m[8:].eq(0).all() and (m[4:8].diff() < 0).all()


@pytest.mark.parametrize(
    "n",
    [int(0.3 * SR_CODEC), SR_CODEC, (WINDOW - 1) * HOP, int(3.3 * (WINDOW - 1) * HOP)],
    ids=["short", "1s", "context", "3.3x"],
)
def test_duration_matches_input(acc: Accompanist, n: int) -> None:
    g = acc.generate(vocal(n, SR_CODEC), SR_CODEC, **FAST, return_latent=True)
    assert g.audio.shape == (1, n) and g.audio.dtype == np.float32
    assert np.isfinite(g.audio).all()
    assert (len(g.plan.starts) > 1) == (n > (WINDOW - 1) * HOP)
    assert g.latent.shape[-1] == g.plan.frames


@pytest.mark.parametrize(("sr", "channels"), [(22050, 2), (22050, 6), (8000, 1), (48000, 2)])
def test_files_of_any_rate_and_channels(acc: Accompanist, tmp_path: Path, sr: int, channels: int):
    n = int(1.3 * sr) + 7
    src = write_vocal(tmp_path / "v.flac", n, sr, channels)
    res = acc.generate_file(src, tmp_path / "out" / "a.wav", tmp_path / "mix.wav", **FAST)
    out, sr_out = sf.read(str(tmp_path / "out" / "a.wav"), always_2d=True)
    mix, _ = sf.read(str(tmp_path / "mix.wav"), always_2d=True)
    assert sr_out == SR_CODEC and out.shape == mix.shape == (round(n * SR_CODEC / sr), 1)
    assert np.abs(mix).max() < 1.0 and res.rtf > 0


def test_tensor_input_and_seeds(acc: Accompanist) -> None:
    x = vocal(2 * SR_CODEC, SR_CODEC)
    a = acc.generate(torch.from_numpy(x[0]), SR_CODEC, **FAST, seed=3)
    b = acc.generate(x, SR_CODEC, **FAST, seed=3)
    c = acc.generate(x, SR_CODEC, **FAST, seed=4)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_silent_vocals_warn_but_generate(acc: Accompanist, tmp_path: Path) -> None:
    src = write_vocal(tmp_path / "silent.wav", SR_CODEC, SR_CODEC, amp=0.0)
    with pytest.warns(SilentVocalsWarning, match="silent"):
        acc.generate_file(src, tmp_path / "out.wav", **FAST)
    assert sf.info(str(tmp_path / "out.wav")).frames == SR_CODEC


@pytest.mark.parametrize("content", [b"", b"this is not audio at all " * 40], ids=["empty", "text"])
def test_unreadable_input_names_file_writes_nothing(
    acc: Accompanist, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "song.wav"
    bad.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AudioError, match="song.wav"):
        acc.generate_file(bad, out / "a.wav", out / "m.wav", **FAST)
    assert list(out.iterdir()) == []


def test_window_join_is_continuous(acc: Accompanist) -> None:
    """The frame-to-frame latent step at every join stays within the in-window variation."""
    x = vocal(int(3.3 * (WINDOW - 1) * HOP), SR_CODEC)
    for seed, (sampler, steps) in enumerate([("dpmpp", 4), ("ddim", 3)]):
        g = acc.generate(x, SR_CODEC, sampler=sampler, steps=steps, seed=seed, return_latent=True)
        assert len(g.plan.starts) >= 3
        join, inside = join_steps(g.latent, g.plan.starts, g.plan.window)
        assert join <= 1.25 * np.percentile(inside, 95), (sampler, join, np.median(inside))


def test_join_statistic_detects_a_restart() -> None:
    """The statistic above fails on a latent that jumps where a window starts."""
    rng = np.random.default_rng(0)
    z = np.cumsum(rng.normal(size=(16, 100)) * 0.1, axis=1)
    plan = plan_windows(100, 32, 8)
    join, inside = join_steps(z, plan.starts, 32)
    assert join <= 1.25 * np.percentile(inside, 95)
    z[:, plan.starts[1] + 5 :] += 1.0
    join, inside = join_steps(z, plan.starts, 32)
    assert join > 1.25 * np.percentile(inside, 95)


def test_bad_arguments(acc: Accompanist) -> None:
    with pytest.raises(SamuelError, match="transpose"):
        acc.generate(np.zeros((1000, 2), np.float32), SR_CODEC)
    with pytest.raises(ValueError, match="unknown sampler"):
        acc.generate(vocal(1000, SR_CODEC), SR_CODEC, sampler="euler")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(SamuelError, match="cuda"):
            resolve_device("cuda")
