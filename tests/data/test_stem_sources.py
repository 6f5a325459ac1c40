"""Stem sources: demo manifest, MUSDB18-HQ, folder and CSV layouts; splits; load_pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samuel_pl.config.schema import DataConfig
from samuel_pl.data.sources import Song, build_source, load_pair
from samuel_pl.errors import AudioError, DataError

SR = 8000


def tone(freq: float, seconds: float = 0.5, sr: int = SR, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.T if x.ndim == 2 else x, sr, subtype="FLOAT")
    return path


def make_musdb(root: Path, train: list[str], test: list[str]) -> None:
    for sub, names in (("train", train), ("test", test)):
        for i, name in enumerate(names):
            d = root / sub / name
            for j, stem in enumerate(("vocals", "drums", "bass", "other")):
                write(d / f"{stem}.wav", np.stack([tone(200 + 50 * i + 20 * j)] * 2))
            write(d / "mixture.wav", np.zeros((2, SR // 2), np.float32))


def make_folder(root: Path, n: int, ext: str = "wav") -> list[str]:
    ids = [f"song{i:02d}" for i in range(n)]
    fmt = "FLAC" if ext == "flac" else "WAV"
    for i, sid in enumerate(ids):
        (root / sid).mkdir(parents=True, exist_ok=True)
        sf.write(root / sid / f"vocals.{ext}", tone(300 + i), SR, format=fmt)
        sf.write(root / sid / f"accompaniment.{ext}", tone(100 + i), SR, format=fmt)
    return ids


def test_musdb_accompaniment_is_sum_and_validation_songs(tmp_path):
    make_musdb(tmp_path, ["A", "B", "C", "D"], ["T1", "T2"])
    cfg = DataConfig(source="musdb", root=str(tmp_path), validation_songs=["B"])
    src = build_source(cfg)
    assert [s.song_id for s in src.songs("train")] == ["A", "C", "D"]
    assert [s.song_id for s in src.songs("val")] == ["B"]
    assert [s.song_id for s in src.songs("test")] == ["T1", "T2"]
    song = src.songs("train")[0]
    assert [p.name for p in song.accompaniment] == ["drums.wav", "bass.wav", "other.wav"]
    vocals, acc = load_pair(song, SR, 2)
    expected = sum(sf.read(p, dtype="float32")[0].T for p in song.accompaniment)
    np.testing.assert_allclose(acc, expected, atol=1e-6)
    np.testing.assert_allclose(vocals, sf.read(song.vocals, dtype="float32")[0].T, atol=1e-6)
    with pytest.raises(DataError, match="validation_songs not found"):
        build_source(DataConfig(source="musdb", root=str(tmp_path), validation_songs=["Nope"]))
    # without the official list a seeded val share of train is held out
    drawn = build_source(DataConfig(source="musdb", root=str(tmp_path), val_fraction=0.25))
    assert len(drawn.songs("val")) == 1 and len(drawn.songs("test")) == 2


def test_folder_layout_split_deterministic_disjoint(tmp_path):
    ids = make_folder(tmp_path, 20, ext="flac")
    cfg = DataConfig(source="folder", root=str(tmp_path), val_fraction=0.1, test_fraction=0.2)
    a, b = build_source(cfg), build_source(cfg)
    assert a.songs() == b.songs()
    splits = {s: {x.song_id for x in a.songs(s)} for s in ("train", "val", "test")}
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (14, 2, 4)
    assert not (splits["train"] & splits["val"] or splits["train"] & splits["test"])
    assert set().union(*splits.values()) == set(ids)
    other = build_source(DataConfig(source="folder", root=str(tmp_path), split_seed=1))
    assert {x.song_id for x in other.songs("test")} != splits["test"]
    assert a.songs()[0].vocals.suffix == ".flac"
    assert a.fingerprint() == b.fingerprint()
    v, acc = a.load_pair(a.songs()[0], 16000, 1)
    assert v.shape == acc.shape == (1, 8000)


def test_csv_manifest_relative_paths_and_splits(tmp_path):
    write(tmp_path / "audio" / "v1.wav", tone(300))
    write(tmp_path / "audio" / "a1.wav", tone(100))
    write(tmp_path / "audio" / "a2.wav", tone(150))
    write(tmp_path / "audio" / "v2.wav", tone(310))
    write(tmp_path / "audio" / "acc2.wav", tone(110))
    csv_path = tmp_path / "list.csv"
    csv_path.write_text(
        "song_id,vocals,accompaniment,split\n"
        "one,audio/v1.wav,audio/a1.wav;audio/a2.wav,test\n"
        f"two,{tmp_path / 'audio' / 'v2.wav'},audio/acc2.wav,\n"
    )
    src = build_source(DataConfig(source="manifest", root=str(csv_path)))
    one = src.songs("test")[0]
    assert one.song_id == "one" and one.vocals == tmp_path / "audio" / "v1.wav"
    assert len(one.accompaniment) == 2
    _, acc = load_pair(one, SR, 1)
    np.testing.assert_allclose(acc[0], tone(100) + tone(150), atol=1e-6)
    two = [s for s in src.songs() if s.song_id == "two"][0]
    assert two.split in ("train", "val", "test")
    csv_path.write_text("id,voc\nx,y\n")
    with pytest.raises(DataError, match="list.csv: header"):
        build_source(DataConfig(source="manifest", root=str(csv_path)))


def test_demo_manifest_source(tmp_path):
    records = []
    for i, split in enumerate(["train", "train", "val", "test"]):
        sid = f"bwv{i}"
        write(tmp_path / sid / "vocals.wav", np.stack([tone(400)] * 2), 44100)
        write(tmp_path / sid / "accompaniment.wav", np.stack([tone(200)] * 2), 44100)
        records.append({"song_id": sid, "split": split, "source_piece": sid})
    (tmp_path / "manifest.json").write_text(json.dumps({"songs": records}))
    src = build_source(DataConfig(source="demo", root=str(tmp_path)))
    assert [s.song_id for s in src.songs("train")] == ["bwv0", "bwv1"]
    assert src.songs("val")[0].accompaniment == (tmp_path / "bwv2" / "accompaniment.wav",)
    fp = src.fingerprint()
    write(tmp_path / "bwv0" / "vocals.wav", np.stack([tone(400, 0.6)] * 2), 44100)
    assert build_source(DataConfig(source="demo", root=str(tmp_path))).fingerprint() != fp


def test_missing_or_empty_root(tmp_path):
    for source in ("demo", "musdb", "folder", "manifest"):
        with pytest.raises(DataError, match="does not exist"):
            build_source(DataConfig(source=source, root=str(tmp_path / "nowhere")))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty.*no songs found"):
        build_source(DataConfig(source="folder", root=str(empty)))
    with pytest.raises(DataError, match=r"empty.*not a MUSDB18-HQ root"):
        build_source(DataConfig(source="musdb", root=str(empty)))
    with pytest.raises(DataError, match=r"manifest.json: demo manifest not found"):
        build_source(DataConfig(source="demo", root=str(empty)))
    with pytest.raises(DataError, match="unknown data.source"):
        build_source(DataConfig(source="nope", root=str(empty)))


def test_load_pair_length_tolerance(tmp_path):
    v = write(tmp_path / "v.wav", tone(300, 1.0))
    a = write(tmp_path / "a.wav", tone(100, 1.0 + 0.02))
    song = Song("x", "train", v, (a,))
    vocals, acc = load_pair(song, SR, 1, max_mismatch_s=0.05)
    assert vocals.shape == acc.shape == (1, SR)
    long = write(tmp_path / "long.wav", tone(100, 1.5))
    with pytest.raises(AudioError, match="stem lengths differ"):
        load_pair(Song("x", "train", v, (long,)), SR, 1, max_mismatch_s=0.05)


def test_stem_names_match_in_any_case(tmp_path: Path) -> None:
    root = tmp_path / "songs"
    write(root / "upper" / "Vocals.WAV", tone(300))
    write(root / "upper" / "ACCOMPANIMENT.Wav", tone(150))
    write(root / "musdb" / "train" / "s1" / "VOCALS.wav", tone(300))
    for stem in ("Drums", "BASS", "other"):
        write(root / "musdb" / "train" / "s1" / f"{stem}.WAV", tone(100))
    source = build_source(DataConfig(source="folder", root=str(root), val_fraction=0.0,
                                     test_fraction=0.0))  # fmt: skip
    assert [s.song_id for s in source.songs()] == ["upper"]
    song = source.songs()[0]
    assert (song.vocals.name, song.accompaniment[0].name) == ("Vocals.WAV", "ACCOMPANIMENT.Wav")
    vocals, accompaniment = source.load_pair(song, SR, 1)
    assert vocals.shape == accompaniment.shape == (1, SR // 2)
    musdb = build_source(DataConfig(source="musdb", root=str(root / "musdb"), val_fraction=0.0))
    names = sorted(p.name for p in musdb.songs()[0].accompaniment)
    assert names == ["BASS.WAV", "Drums.WAV", "other.WAV"]


def test_song_folders_whose_names_are_not_utf8(tmp_path: Path) -> None:
    import os

    from samuel_pl.data.sources import scan_songs, song_file_stem

    root = tmp_path / "songs"
    odd = os.fsdecode(b"caf\xe9 take")  # Latin-1 bytes: not valid UTF-8
    write(root / "plain" / "vocals.wav", tone(300))
    write(root / "plain" / "accompaniment.wav", tone(150))
    (root / "plain").rename(root / odd)  # (soundfile cannot write to such a name itself)
    source = build_source(DataConfig(source="folder", root=str(root), val_fraction=0.0,
                                     test_fraction=0.0))  # fmt: skip
    assert [s.song_id for s in source.songs()] == [odd]
    assert len(source.fingerprint()) == 16
    good, bad = scan_songs(source.songs(), SR, 1, tmp_path / "report.jsonl")
    assert [s.song_id for s in good] == [odd] and bad == []
    assert song_file_stem(odd).startswith("caf_take-")


def test_data_max_seconds_refuses_long_stems_on_the_header(tmp_path: Path) -> None:
    from samuel_pl.data.sources import scan_songs

    root = tmp_path / "songs"
    write(root / "long" / "vocals.wav", tone(300, seconds=2.0))
    write(root / "long" / "accompaniment.wav", tone(150, seconds=2.0))
    cfg = DataConfig(source="folder", root=str(root), val_fraction=0.0, test_fraction=0.0,
                     max_seconds=1.5)  # fmt: skip
    source = build_source(cfg)
    with pytest.raises(AudioError, match=r"vocals\.wav: 2\.0 s long; at most 1\.5 s .*max_seconds"):
        source.load_pair(source.songs()[0], SR, 1)
    _, bad = scan_songs(source.songs(), SR, 1, None, limits=source.limits)
    assert "at most 1.5 s are accepted here (data.max_seconds=1.5)" in bad[0][1]
