"""Bad input through `samuel generate`: one clear error line naming the file, nothing written;
unusual but valid audio is generated for at the right length."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samuel_pl.cli.main import main
from tests.reliability.bad_inputs import (
    ALL,
    BROKEN,
    USABLE,
    case_ids,
    error_line,
    no_partial_files,
    read_frames,
)

FAST = ["--sampler", "ddim", "--steps", "2", "--quiet", "--device", "cpu"]
SR_OUT = 22050  # the debug checkpoint's mel codec


def _generate(ckpt: Path, vocals: Path, out: Path, *extra: str) -> int:
    args = ["generate", "--ckpt", str(ckpt), "--vocals", str(vocals), "--out", str(out)]
    return main([*args, *FAST, *extra])


# Every broken case as a single file; the usable ones all go through the folder test below.
SINGLE = BROKEN + [c for c in USABLE if c.name == "spaces_non_ascii"]


@pytest.mark.parametrize("case", SINGLE, ids=case_ids(SINGLE))
def test_generate_file(case, debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    src = case.make(tmp_path / "vocal takes ä")
    out = tmp_path / "out ü" / "acc.wav"
    code = _generate(debug_ckpt, src, out, "--mix", str(tmp_path / "out ü" / "mix.flac"))
    err = capsys.readouterr().err
    if case.problem:
        assert code == 2
        assert re.search(re.escape(f"{src}: ") + case.problem, error_line(err))
        assert not (tmp_path / "out ü").exists()  # nothing at all was written
        return
    assert code == 0, err
    expected = round(read_frames(src) * SR_OUT / case.sample_rate)
    for path in (out, tmp_path / "out ü" / "mix.flac"):
        audio, sr = sf.read(str(path), always_2d=True)
        assert sr == SR_OUT and len(audio) == expected, path
        assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4


@pytest.mark.slow  # seven generations
def test_generate_folder_reports_each_bad_file_and_writes_the_rest(
    debug_ckpt: Path, tmp_path: Path, capsys
) -> None:
    src = tmp_path / "in"
    for case in ALL:
        case.make(src)
    out = tmp_path / "out"
    assert _generate(debug_ckpt, src, out) == 2
    err = capsys.readouterr().err
    for case in BROKEN:
        assert re.search(re.escape(f"{src / case.filename}: ") + case.problem, err), case.name
    assert f"{len(BROKEN)} of {len(ALL)} inputs failed" in err
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{Path(c.filename).stem}.wav" for c in USABLE)
    for case in USABLE:
        audio, sr = sf.read(str(out / f"{Path(case.filename).stem}.wav"), always_2d=True)
        expected = round(read_frames(src / case.filename) * SR_OUT / case.sample_rate)
        assert sr == SR_OUT and len(audio) == expected, case.name
        assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4, case.name
    assert no_partial_files(tmp_path) == []


def test_generate_empty_folder(debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert _generate(debug_ckpt, tmp_path / "empty", tmp_path / "out") == 2
    assert re.search(r"empty: no audio files", error_line(capsys.readouterr().err))
    assert not (tmp_path / "out").exists()


def test_generate_unwritable_output_folder(
    debug_ckpt: Path, tmp_path: Path, locked_dir: Path, capsys
) -> None:
    src = USABLE[0].make(tmp_path)
    out = locked_dir / "sub" / "acc.wav"
    assert _generate(debug_ckpt, src, out) == 2
    line = error_line(capsys.readouterr().err)
    assert f"{locked_dir / 'sub'}: output folder is not writable (Permission denied)" in line
    assert list(locked_dir.iterdir()) == []


def test_generate_full_disk(debug_ckpt: Path, tmp_path: Path, full_disk: None, capsys) -> None:
    src = USABLE[0].make(tmp_path / "in")
    out = tmp_path / "out" / "acc.wav"
    assert _generate(debug_ckpt, src, out) == 2
    line = error_line(capsys.readouterr().err)
    assert f"{out}: cannot write (No space left on device)" in line
    assert list(out.parent.iterdir()) == []  # neither the file nor its temporary
