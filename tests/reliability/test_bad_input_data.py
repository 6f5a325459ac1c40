"""Bad input through data building (`samuel encode`, `samuel data check`) and evaluation
(`samuel evaluate`): unusable songs are skipped with a one-line reason naming the file (data) or
stop the run with one error line (evaluation); usable ones are encoded/scored; nothing partial
is left on disk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from samuel_pl.cli.main import main
from tests.conftest import DEBUG_YAML, REPO
from tests.reliability.bad_inputs import (
    BROKEN,
    SECONDS,
    USABLE,
    Case,
    error_line,
    no_partial_files,
    tone,
    write_song,
)

HOP, SR = 512, 22050  # the debug config's mel codec
SUITE = REPO / "evaluation" / "suites" / "debug.yaml"
PLAIN = USABLE[-1]  # a PCM_16 WAV


def _mismatched(root: Path) -> Path:
    """A song whose accompaniment is twice as long as its vocals (beyond the tolerance)."""
    import soundfile as sf

    folder = root / "bad-mismatch"
    folder.mkdir(parents=True)
    sf.write(str(folder / "vocals.wav"), tone(SR), SR)
    sf.write(str(folder / "accompaniment.wav"), tone(SR, seconds=2 * SECONDS), SR)
    return folder


def _dataset(root: Path) -> dict[str, tuple[Path, str]]:
    """One song per case; returns {song: (file named by the error, problem)} for the bad ones."""
    bad = {f"bad-{c.name}": (write_song(root, f"bad-{c.name}", c), c.problem) for c in BROKEN}
    bad["bad-mismatch"] = (_mismatched(root), "stem lengths differ by more than 0.05s")
    for c in USABLE:
        write_song(root, f"ok {c.name} ü", c)
    # Within the length tolerance: trimmed to the shorter stem, not skipped.
    write_song(root, "ok-near-equal", PLAIN, Case("long", "a.wav", _long_wav))
    return bad


def _long_wav(path: Path) -> None:
    import soundfile as sf

    sf.write(str(path), tone(SR, seconds=SECONDS + 0.02), SR)


def _encode(root: Path, cache: Path, *extra: str) -> int:
    return main(
        ["encode", "--config", str(DEBUG_YAML), "data.source=folder", f"data.root={root}"]
        + [f"data.cache_dir={cache}", *extra]
    )


def test_encode_and_check_skip_each_bad_song_with_its_reason(tmp_path: Path, capsys) -> None:
    root, cache = tmp_path / "stems dir ä", tmp_path / "cache"
    bad = _dataset(root)
    assert _encode(root, cache) == 0
    err = capsys.readouterr().err
    manifest = json.loads((cache / "manifest.json").read_text())
    reasons = {s["id"]: s["reason"] for s in manifest["skipped"]}
    assert sorted(reasons) == sorted(bad)
    for song, (path, problem) in bad.items():
        assert re.search(re.escape(f"{path}: ") + problem, reasons[song]), song
        assert len([ln for ln in err.splitlines() if ln.startswith(f"skipped {song}: ")]) == 1
    used = {s["id"]: s for s in manifest["songs"]}
    assert sorted(used) == sorted([f"ok {c.name} ü" for c in USABLE] + ["ok-near-equal"])
    for song, entry in used.items():
        for stem in ("vocals", "accompaniment"):
            z = np.load(cache / entry["files"][stem], allow_pickle=False)
            assert z.shape[0] == 16 and np.isfinite(z).all(), song
            # 0.6 s at 22050 Hz / hop 512 = 25.8 frames (mp3 adds encoder padding)
            assert abs(z.shape[1] - SECONDS * SR / HOP) <= 3, (song, z.shape)
    assert no_partial_files(tmp_path) == []

    report = tmp_path / "scan.jsonl"
    args = ["data", "check", "--config", str(DEBUG_YAML), "data.source=folder"]
    assert main([*args, f"data.root={root}", "--report", str(report)]) == 0
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(r["song_id"] for r in rows) == sorted(bad)


@pytest.mark.parametrize("fault", ["empty_folder", "unwritable_cache", "full_disk"])
def test_encode_fatal_faults_leave_no_cache(fault: str, tmp_path: Path, request, capsys) -> None:
    root, cache = tmp_path / "stems", tmp_path / "cache"
    root.mkdir()
    if fault != "empty_folder":
        write_song(root, "song", PLAIN)
    if fault == "unwritable_cache":
        cache = request.getfixturevalue("locked_dir") / "cache"
    if fault == "full_disk":
        request.getfixturevalue("full_disk")
    assert _encode(root, cache) == 2
    line = error_line(capsys.readouterr().err)
    expected = {
        "empty_folder": f"{root}: no songs found for source 'folder'",
        "unwritable_cache": f"{cache}: latent cache folder is not writable (Permission denied)",
        "full_disk": "cannot write (No space left on device)",
    }[fault]
    assert expected in line
    if fault == "full_disk":
        assert re.search(r"songs/song-\w+\.vocals\.npy: cannot write", line)
    assert not (cache / "manifest.json").exists()
    assert no_partial_files(tmp_path) == []


def _evaluate(root: Path, out: Path, *extra: str) -> int:
    overrides = [
        "data.source=folder",
        f"data.root={root}",
        "split=train",
        "data.val_fraction=0",
        "data.test_fraction=0",
        "generators=[{type: ground_truth}]",
        "metrics=[fd]",
        f"clip_seconds={SECONDS / 2}",
        "bootstrap=2",
    ]
    args = ["evaluate", "--suite", str(SUITE), "--out", str(out), "--no-mlflow"]
    return main([*args, *overrides, *extra])


def test_evaluate_scores_every_usable_format(tmp_path: Path) -> None:
    root = tmp_path / "songs ä"
    for c in USABLE:
        write_song(root, f"ok {c.name} ü", c)
    assert _evaluate(root, tmp_path / "eval") == 0
    result = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert result["songs"] == len(USABLE)
    assert result["metrics"]["ground_truth/fd_mel"] == pytest.approx(0.0, abs=1e-6)


EVAL_FAULTS = [*BROKEN, "mismatch", "empty_folder", "unwritable_out", "full_disk"]


@pytest.mark.parametrize(
    "fault", EVAL_FAULTS, ids=[f if isinstance(f, str) else f.name for f in EVAL_FAULTS]
)
def test_evaluate_bad_input_is_one_error_line_and_no_output(
    fault: Case | str, tmp_path: Path, request, capsys
) -> None:
    root, out = tmp_path / "songs", tmp_path / "eval"
    root.mkdir()
    if fault != "empty_folder":
        write_song(root, "good", PLAIN)
    if isinstance(fault, Case):
        path, problem = write_song(root, "bad", fault), fault.problem
    elif fault == "mismatch":
        path, problem = _mismatched(root), "stem lengths differ"
    elif fault == "empty_folder":
        path, problem = root, "no songs found for source 'folder'"
    elif fault == "unwritable_out":
        out = request.getfixturevalue("locked_dir") / "eval"
        path, problem = out, r"evaluation output folder is not writable \(Permission denied\)"
    else:
        request.getfixturevalue("full_disk")
        path, problem = None, None
    assert _evaluate(root, out) == 2
    line = error_line(capsys.readouterr().err)
    if path is not None:
        assert re.search(re.escape(f"{path}: ") + problem, line)
        assert not out.exists()
    else:  # the first generated clip cannot be written; no results are
        assert re.search(r"generated/ground_truth-\w+/\w+\.wav: cannot write \(No space", line)
        assert not (out / "metrics.json").exists()
    assert no_partial_files(tmp_path) == []


def test_fit_into_an_unwritable_run_folder(
    debug_overrides: list[str], locked_dir: Path, capsys
) -> None:
    run = locked_dir / "run"
    args = [o if not o.startswith("run.dir=") else f"run.dir={run}" for o in debug_overrides]
    assert main(["fit", "--config", str(DEBUG_YAML), *args, "tracking.enabled=false"]) == 2
    line = error_line(capsys.readouterr().err)
    assert f"{run}: run folder is not writable (Permission denied)" in line
    assert list(locked_dir.iterdir()) == []
