"""Latent cache: manifest, train-only statistics, memmaps, refusal, resume after a crash, skips."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from samuel_pl.codecs import build_codec
from samuel_pl.config import FitConfig
from samuel_pl.data import cache as cache_mod
from samuel_pl.data import sources
from samuel_pl.data.cache import LatentCache
from samuel_pl.data.cache_build import build_cache
from samuel_pl.data.sources import Song
from samuel_pl.errors import DataError

SR = 22050


class FakeSource:
    """The StemSource shape: ``songs(split)`` and ``fingerprint()``."""

    def __init__(self, songs: list[Song], fingerprint: str = "fp-1") -> None:
        self._songs, self._fp = songs, fingerprint

    def songs(self, split: str | None = None) -> list[Song]:
        return [s for s in self._songs if split is None or s.split == split]

    def fingerprint(self) -> str:
        return self._fp


def write_song(root: Path, song_id: str, split: str, level: float, seconds: float = 2.0) -> Song:
    """A vocal (gliding sine) and an accompaniment (two sines) at ``level``, as WAV files."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(sum(map(ord, song_id)))
    vocals = level * np.sin(2 * math.pi * (300 + 50 * t) * t) + 0.001 * rng.standard_normal(t.size)
    accomp = level * 0.5 * (np.sin(2 * math.pi * 110 * t) + np.sin(2 * math.pi * 165 * t))
    folder = root / song_id
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / "vocals.wav", vocals.astype(np.float32), SR)
    sf.write(folder / "accompaniment.wav", accomp.astype(np.float32), SR)
    return Song(song_id, split, folder / "vocals.wav", (folder / "accompaniment.wav",))


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[FitConfig, object, FakeSource]:
    songs = [
        write_song(tmp_path / "data", "song a", "train", 0.05, 2.0),
        write_song(tmp_path / "data", "song-b", "train", 0.1, 2.5),
        write_song(tmp_path / "data", "song/c", "val", 0.9, 2.0),
        write_song(tmp_path / "data", "song_d", "test", 0.9, 3.0),
    ]
    cfg = FitConfig()
    cfg.data.root = str(tmp_path / "data")
    cfg.data.cache_dir = str(tmp_path / "cache")
    return cfg, build_codec(cfg.codec), FakeSource(songs)


def leftovers(path: Path) -> list[str]:
    return [p.name for p in path.rglob("*") if p.name.endswith(".tmp")]


def test_build_manifest_stats_and_memmaps(setup) -> None:
    cfg, codec, source = setup
    cache = build_cache(cfg, codec, source)
    m = json.loads((Path(cfg.data.cache_dir) / "manifest.json").read_text())
    assert m["format_version"] == cache_mod.FORMAT_VERSION and m["complete"] is True
    assert m["codec_id"] == codec.codec_id == cache.codec_id
    assert m["codec_config"]["n_mels"] == 64 and m["fingerprint"] == "fp-1"
    assert m["created"] and m["skipped"] == []
    assert cache.songs("train") == ["song a", "song-b"]
    assert cache.songs("val") == ["song/c"] and cache.songs("test") == ["song_d"]
    for song in source.songs():
        n = sf.info(str(song.vocals)).frames
        voc, acc = cache.load(song.song_id)
        assert isinstance(voc, np.memmap) and isinstance(acc, np.memmap)
        assert voc.shape == acc.shape == (64, n // 512 + 1) == (64, cache.frames(song.song_id))
        assert voc.dtype == np.float32
    # the stored latents are the codec's encoding of the loaded stems
    v, a = sources.load_pair(source.songs()[0], SR, 1)
    ref = codec.encode(torch.from_numpy(np.stack([v, a])), SR).numpy()
    np.testing.assert_allclose(np.asarray(cache.load("song a")[1]), ref[1], atol=1e-5)
    # statistics: both stems of the train split only, per channel
    train = np.concatenate([x for s in ("song a", "song-b") for x in cache.load(s)], axis=1)
    np.testing.assert_allclose(cache.mean, train.mean(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cache.std, train.std(axis=1), rtol=1e-4, atol=1e-5)
    everything = np.concatenate([x for s in cache.songs() for x in cache.load(s)], axis=1)
    assert np.abs(everything.mean(axis=1) - cache.mean).max() > 0.1  # val/test would shift it
    assert cache.mean.shape == cache.std.shape == (64,)
    assert set(m["stats"]["per_stem"]) == {"vocals", "accompaniment"}
    assert leftovers(Path(cfg.data.cache_dir)) == []


def test_mismatch_refused_with_rebuild_instructions(setup) -> None:
    cfg, codec, source = setup
    cache = build_cache(cfg, codec, source)
    with pytest.raises(DataError, match=r"codec .*samuel_pl\.encode .*--force.*or delete"):
        LatentCache.open(cache.path, "mel-00000000", "fp-1")
    with pytest.raises(DataError, match=r"fingerprint .*samuel_pl\.encode"):
        LatentCache.open(cache.path, codec.codec_id, "fp-2")
    with pytest.raises(DataError, match="no latent cache"):
        LatentCache.open(cache.path.parent / "nowhere", codec.codec_id, "fp-1")
    changed = FakeSource(source.songs()[:3], fingerprint="fp-2")
    with pytest.raises(DataError, match="fingerprint"):
        build_cache(cfg, codec, changed)
    rebuilt = build_cache(cfg, codec, changed, force=True)
    assert rebuilt.manifest["fingerprint"] == "fp-2" and "song_d" not in rebuilt.songs()
    assert len(list((rebuilt.path / "songs").glob("*.npy"))) == 6  # stale files removed
    assert LatentCache.open(rebuilt.path, codec.codec_id, "fp-2").songs("test") == []


def test_valid_cache_is_reused_without_encoding(setup, monkeypatch) -> None:
    cfg, codec, source = setup
    first = build_cache(cfg, codec, source)
    monkeypatch.setattr(sources, "load_pair", lambda *a, **k: pytest.fail("re-encoded"))
    again = build_cache(cfg, codec, source)
    assert again.reused and again.manifest == first.manifest


@pytest.mark.parametrize("where", ["encode", "fsync"])
def test_crash_mid_build_leaves_no_complete_manifest_and_resumes(setup, monkeypatch, where) -> None:
    cfg, codec, source = setup
    path = Path(cfg.data.cache_dir)
    real_encode, real_load, real_fsync = codec.encode, sources.load_pair, os.fsync
    calls = {"encode": 0, "load": 0, "fsync": 0}

    def failing_encode(*args, **kwargs):
        calls["encode"] += 1
        if where == "encode" and calls["encode"] == 2:
            raise RuntimeError("simulated crash while encoding the second song")
        return real_encode(*args, **kwargs)

    def counting_load(*args, **kwargs):
        calls["load"] += 1
        return real_load(*args, **kwargs)

    def failing_fsync(fd: int) -> None:
        if ".npy" in os.readlink(f"/proc/self/fd/{fd}"):
            calls["fsync"] += 1  # .npy files: song 1 vocals, accompaniment; song 2 vocals
            if where == "fsync" and calls["fsync"] == 3:
                raise RuntimeError("simulated crash while writing the second song")
        real_fsync(fd)

    if where == "fsync" and not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the file being fsynced")

    monkeypatch.setattr(codec, "encode", failing_encode)
    monkeypatch.setattr(sources, "load_pair", counting_load)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_cache(cfg, codec, source)
    assert not (path / "manifest.json").exists()
    assert leftovers(path) == []
    npys = sorted(p.name for p in (path / "songs").glob("*.npy"))
    assert len(npys) == 2 and all(n.startswith("song_a-") for n in npys)
    for f in (path / "songs").glob("*.npy"):
        assert np.load(f, mmap_mode="r").shape[0] == 64  # complete files only
    with pytest.raises(DataError, match="interrupted build"):
        LatentCache.open(path, codec.codec_id, "fp-1")
    # the next build completes and reuses the first song
    monkeypatch.setattr(os, "fsync", real_fsync)
    monkeypatch.setattr(codec, "encode", real_encode)
    calls["load"] = -100
    cache = build_cache(cfg, codec, source)
    assert calls["load"] == -100 + 3
    assert len(cache.songs()) == 4 and not (path / "manifest.partial.json").exists()


def test_bad_songs_are_skipped_with_reasons(setup, tmp_path) -> None:
    cfg, codec, source = setup
    broken = write_song(tmp_path / "data", "broken", "train", 0.1)
    broken.vocals.write_bytes(b"RIFF not really a wave file")
    short = write_song(tmp_path / "data", "mismatch", "train", 0.1, 2.0)
    sf.write(short.vocals, np.zeros(SR, dtype=np.float32), SR)  # 1 s vocal vs 2 s accompaniment
    cache = build_cache(cfg, codec, FakeSource([*source.songs(), broken, short]))
    skipped = {s["id"]: s["reason"] for s in cache.manifest["skipped"]}
    assert set(skipped) == {"broken", "mismatch"}
    assert "vocals.wav" in skipped["broken"]
    assert all(skipped.values())
    assert "broken" not in cache.songs() and len(cache.songs("train")) == 2


def test_crash_during_forced_rebuild_drops_the_old_manifest(setup, monkeypatch) -> None:
    cfg, codec, source = setup
    cache = build_cache(cfg, codec, source)
    real_encode, calls = codec.encode, []

    def failing_encode(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(codec, "encode", failing_encode)
    with pytest.raises(RuntimeError):
        build_cache(cfg, codec, source, force=True)
    assert not (cache.path / "manifest.json").exists()  # old one no longer vouches for the files
    with pytest.raises(DataError, match="interrupted build"):
        LatentCache.open(cache.path, codec.codec_id, "fp-1")


def test_default_cache_folders_are_in_the_user_cache(tmp_path: Path, monkeypatch) -> None:
    from samuel_pl.data.audio_crops import audio_cache_path
    from samuel_pl.data.cache import cache_path, user_cache_root

    cfg = FitConfig()
    codec = build_codec(cfg.codec)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_root() == tmp_path / "xdg" / "samuel_pl"
    assert (
        cache_path(cfg, codec, "f" * 16) == tmp_path / "xdg/samuel_pl" / ("f" * 16) / codec.codec_id
    )
    assert audio_cache_path(cfg, "abc") == tmp_path / "xdg/samuel_pl/abc/audio-22050hz-1ch"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_root() == tmp_path / "home" / ".cache" / "samuel_pl"
    cfg.data.cache_dir = str(tmp_path / "mine")  # an explicit folder always wins
    assert cache_path(cfg, codec, "f" * 16) == tmp_path / "mine"
    assert audio_cache_path(cfg, "abc") == tmp_path / "mine"
