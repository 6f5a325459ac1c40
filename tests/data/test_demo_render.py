"""Demo set: soprano chosen by name, render of a few chorales, idempotence, interruption."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samuel_pl.data import demo
from samuel_pl.data.chorales import find_soprano, piece_from_score
from samuel_pl.data.demo import ensure_demo, render_demo

music21 = pytest.importorskip("music21")


def _part(name: str, pitches: list[str], tie_first: bool = False):
    from music21 import meter, note, stream, tie

    part = stream.Part(id=name)
    part.partName = name
    m = stream.Measure(number=1)
    m.append(meter.TimeSignature("4/4"))
    for i, p in enumerate(pitches):
        n = note.Note(p, quarterLength=1.0)
        if tie_first and i < 2:
            n.tie = tie.Tie("start" if i == 0 else "stop")
        m.append(n)
    part.append(m)
    return part


def _score(names: list[str]):
    from music21 import stream

    score = stream.Score()
    for i, name in enumerate(names):
        pitches = ["C4", "C4", "E4", "G4"] if i == 0 else ["C5", "D5", "E5", "F5"]
        score.insert(0, _part(name, pitches, tie_first=(i == 0)))
    return score


def test_soprano_found_by_name_not_position():
    score = _score(["Violin I", "Alto", "Soprano", "Tenor", "Bass"])
    assert find_soprano(list(score.parts)) == 2
    assert find_soprano(list(_score(["Horn", "S.", "A.", "T."]).parts)) == 1
    assert find_soprano(list(_score(["Cantus", "Altus"]).parts)) == 0
    assert find_soprano(list(_score(["Soprano 2", "Soprano 1", "Bass"]).parts)) == 1
    assert find_soprano(list(_score(["Violin", "Viola", "Sax"]).parts)) is None
    piece, reason = piece_from_score(score, "test")
    assert reason == "" and piece is not None
    assert piece.soprano.name == "Soprano"
    assert [(p.stem, p.role) for p in piece.others] == [
        ("violin_i", "other"),
        ("alto", "alto"),
        ("tenor", "tenor"),
        ("bass", "bass"),
    ]
    violin = piece.others[0].notes
    assert (violin[0].start, violin[0].length, violin[0].pitch) == (0.0, 2.0, 60)  # tie merged
    assert len(violin) == 3


def test_pieces_without_soprano_or_accompaniment_are_skipped():
    assert piece_from_score(_score(["Violin", "Viola", "Cello"]), "x") == (
        None,
        "no part named as the soprano",
    )
    piece, reason = piece_from_score(_score(["Soprano", "Bass"]), "x")
    assert piece is None and "accompanying part" in reason


def _wavs(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in sorted(root.rglob("*.wav"))}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    manifest = render_demo(out, limit=3, seed=0, workers=1, progress=False)
    return out, manifest


def test_render_stems(rendered):
    out, manifest = rendered
    assert json.loads((out / "manifest.json").read_text()) == manifest
    songs = manifest["songs"]
    assert len(songs) == 3
    fields = {"song_id", "source_piece", "duration_s", "key", "tempo_bpm", "programs", "split"}
    for rec in songs:
        assert fields <= set(rec)
        assert rec["programs"]["vocals"] in (52, 53, 54)
        folder = out / rec["song_id"]
        files = [folder / "vocals.wav", folder / "accompaniment.wav"]
        files += [folder / "parts" / f"{p}.wav" for p in rec["parts"]]
        assert len(rec["parts"]) >= 2
        lengths, peaks = set(), []
        for f in files:
            x, sr = sf.read(f, dtype="float32", always_2d=True)
            info = sf.info(f)
            assert sr == 44100 and x.shape[1] == 2 and info.subtype == "PCM_16"
            assert np.sqrt(np.mean(x**2)) > 1e-3, f"{f} is silent"
            peaks.append(float(np.abs(x).max()))
            lengths.add(x.shape[0])
        assert len(lengths) == 1 and abs(lengths.pop() / 44100 - rec["duration_s"]) < 1e-3
        assert max(peaks) < 0.95 and max(peaks) > 0.8  # one gain: loudest stem at -1 dBFS
        acc = sf.read(folder / "accompaniment.wav", dtype="float32")[0]
        parts = sum(sf.read(f, dtype="float32")[0] for f in files[2:])
        assert np.max(np.abs(acc - parts)) < 1e-3  # accompaniment = sum of the part stems
    by_split: dict[str, set[str]] = {}
    for rec in songs:
        by_split.setdefault(rec["split"], set()).add(rec["source_piece"])
    assert set(by_split) == {"train", "val", "test"}
    pieces = [p for s in by_split.values() for p in s]
    assert len(pieces) == len(set(pieces))
    assert not list(out.rglob("*.tmp"))


def test_rerun_skips_finished_songs(rendered):
    out, manifest = rendered
    before = _wavs(out)
    again = render_demo(out, limit=3, seed=0, workers=1, progress=False)
    assert again["songs"] == manifest["songs"]
    assert _wavs(out) == before
    assert ensure_demo(out, 3, 0) == out
    assert _wavs(out) == before
    with pytest.raises(demo.DataError, match="rendered with"):
        render_demo(out, limit=3, seed=1, workers=1, progress=False)


def test_interrupted_run_leaves_no_partial_song(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = demo.write_audio

    def flaky(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # first song: vocals + accompaniment; second song: vocals, then stop
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(demo, "write_audio", flaky)
    with pytest.raises(KeyboardInterrupt):
        render_demo(tmp_path, limit=2, seed=0, workers=1, progress=False, parts=False)
    monkeypatch.undo()
    assert not list(tmp_path.rglob("*.tmp"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["songs"]) == 1
    done = manifest["songs"][0]["song_id"]
    assert {p.parent.name for p in tmp_path.rglob("*.wav")} == {done}  # nothing half done
    first = _wavs(tmp_path)
    final = render_demo(tmp_path, limit=2, seed=0, workers=1, progress=False, parts=False)
    assert len(final["songs"]) == 2
    assert all(_wavs(tmp_path)[p] == m for p, m in first.items())


def test_demo_cli_help():
    root = Path(__file__).parents[2]
    for args in (["demo", "--help"], ["check", "--help"], ["--help"]):
        proc = subprocess.run(
            [sys.executable, "-m", "samuel_pl.data", *args],
            capture_output=True,
            text=True,
            cwd=root,
        )
        assert proc.returncode == 0, proc.stderr
        assert "usage" in proc.stdout


def test_ensure_demo_renders_only_missing_without_parts(tmp_path):
    assert ensure_demo(tmp_path, 1, 0, workers=1, progress=False) == tmp_path
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["songs"]) == 1 and manifest["songs"][0]["parts"] == []
    assert not list(tmp_path.rglob("parts"))


def test_fluidsynth_backend(monkeypatch):
    from samuel_pl.data import synth

    notes = [synth.TimedNote(0.1, 0.6, 69, 100)]
    if shutil.which("fluidsynth") is not None:
        audio = synth.Renderer("fluidsynth").render(notes, 0, 44100)
        assert audio.shape == (2, 44100) and np.abs(audio).max() > 1e-3
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(synth.DataError, match="fluidsynth is not installed"):
        synth.Renderer("fluidsynth")
    tsf = synth.Renderer("tinysoundfont").render(notes, 0, 44100)
    assert tsf.shape == (2, 44100) and np.abs(tsf[:, :4000]).max() == 0  # silent before 0.1 s
    assert np.abs(tsf[:, 4500:20000]).max() > 1e-3


@pytest.mark.slow
def test_parallel_render_matches_serial(rendered, tmp_path):
    _, serial = rendered
    parallel = render_demo(tmp_path, limit=3, seed=0, workers=2, progress=False)
    assert [r["song_id"] for r in parallel["songs"]] == [r["song_id"] for r in serial["songs"]]
    for a, b in zip(parallel["songs"], serial["songs"]):
        assert a == b  # the same draws whichever process renders a song
