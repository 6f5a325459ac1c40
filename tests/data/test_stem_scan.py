"""scan_songs: every kind of bad input is skipped, reported with its path and reason, counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from samuel_pl.config.schema import DataConfig
from samuel_pl.data.sources import build_source, scan_songs

SR = 8000


def tone(seconds: float = 0.5, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def song(root: Path, name: str, vocals=None, accompaniment=None) -> Path:
    d = root / name
    d.mkdir(parents=True)
    for stem, x in (("vocals", vocals), ("accompaniment", accompaniment)):
        if x is None:
            sf.write(d / f"{stem}.wav", tone(), SR, subtype="FLOAT")
        elif isinstance(x, bytes):
            (d / f"{stem}.wav").write_bytes(x)
        elif isinstance(x, str) and x == "absent":
            continue
        else:
            sf.write(d / f"{stem}.wav", x, SR, subtype="FLOAT")
    return d


def make_bad_dataset(root: Path) -> dict[str, str]:
    """Songs named after their problem -> expected reason fragment."""
    song(root, "good1")
    song(root, "good2")
    song(root, "text", vocals=b"definitely not a RIFF file\n" * 10)
    full = root / "_full.wav"
    sf.write(full, tone(1.0), SR, subtype="PCM_16")
    data = full.read_bytes()
    full.unlink()
    song(root, "truncated", accompaniment=data[: len(data) // 2])
    song(root, "headeronly", vocals=data[:44])
    song(root, "zerolength", accompaniment=np.zeros(0, np.float32))
    nan = tone()
    nan[10] = np.inf
    song(root, "nonfinite", vocals=nan)
    song(root, "mismatch", accompaniment=tone(0.9))
    song(root, "silent", vocals=np.zeros(SR // 2, np.float32))
    song(root, "missing", accompaniment="absent")
    return {
        "text": "not a readable audio file",
        "truncated": "truncated",
        "headeronly": "zero-length",
        "zerolength": "zero-length",
        "nonfinite": "NaN or infinite",
        "mismatch": "stem lengths differ",
        "silent": "all-silent vocals",
        "missing": "missing stem",
    }


def test_each_bad_kind_is_skipped_and_reported(tmp_path, caplog):
    expected = make_bad_dataset(tmp_path / "songs")
    src = build_source(DataConfig(source="folder", root=str(tmp_path / "songs")))
    assert len(src.songs()) == 10  # songs with a missing stem are listed, then skipped by scan
    report = tmp_path / "report.jsonl"
    with caplog.at_level("INFO"):
        good, bad = scan_songs(src.songs(), SR, 1, report, max_mismatch_s=0.05)
    assert sorted(s.song_id for s in good) == ["good1", "good2"]
    reasons = {s.song_id: r for s, r in bad}
    assert set(reasons) == set(expected)
    for sid, fragment in expected.items():
        assert fragment in reasons[sid], (sid, reasons[sid])
        assert f"/{sid}" in reasons[sid]  # the message names the file (or song folder)
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(rows) == len(expected)
    assert {r["song_id"] for r in rows} == set(expected)
    assert all(r["path"].startswith(str(tmp_path)) and r["reason"] for r in rows)
    assert "10 songs: 2 usable, 8 skipped" in caplog.text


def test_check_command_prints_counts(tmp_path):
    make_bad_dataset(tmp_path / "songs")
    report = tmp_path / "check.jsonl"
    cmd = [sys.executable, "-m", "samuel_pl.data", "check", "--config", "none.yaml"]
    cmd[-2:] = ["--report", str(report)]
    cmd += [f"data.root={tmp_path / 'songs'}", "data.source=folder", "data.sample_rate=8000"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    assert "skip report" in proc.stdout and str(report) in proc.stdout
    total = sum(int(line.split()[1]) for line in proc.stdout.splitlines() if " usable," in line)
    assert total == 2
    assert len(report.read_text().splitlines()) == 8
    missing = subprocess.run(
        [*cmd[:-3], f"data.root={tmp_path / 'nope'}", "data.source=folder"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope'}: folder root does not exist"
