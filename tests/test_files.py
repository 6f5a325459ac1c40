"""samuel_pl.files: atomic writes leave the old file or the whole new one, never a temporary."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from samuel_pl.errors import OutputError
from samuel_pl.files import (
    atomic_writer,
    ensure_writable_dir,
    write_bytes,
    write_figure,
    write_json,
    write_npy,
    write_text,
)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    write_bytes(target, b"old content")
    with pytest.raises(RuntimeError, match="boom"), atomic_writer(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old content"
    assert _leftovers(tmp_path) == []


def test_os_error_while_writing_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "table.md"
    write_text(target, "old")
    message = r"table\.md: cannot write checkpoint \(disk full\)"
    with pytest.raises(OutputError, match=message), atomic_writer(target, "checkpoint") as fh:
        fh.write(b"new")
        raise OSError(28, "disk full")
    assert target.read_text() == "old"
    assert _leftovers(target.parent) == []


def test_temp_file_beside_target_until_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    write_bytes(target, b"old")
    with atomic_writer(target, tag="123") as fh:
        fh.write(b"new")
        fh.flush()
        assert (tmp_path / ".last.ckpt.123.tmp").read_bytes() == b"new"
        assert target.read_bytes() == b"old"  # readers still see the old file
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_written_files_get_umask_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_text(tmp_path / "a" / "b.txt", "x")  # folders are created
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_json_round_trip_and_format(tmp_path: Path) -> None:
    data = {"songs": [{"id": "bwv1.6", "split": "val"}], "stats": None, "n": 1.5}
    path = write_json(tmp_path / "m.json", data)
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert path.read_text().startswith('{\n "songs": [\n  {\n')  # indent=1 by default
    summary = write_json(tmp_path / "s.json", {"p": Path("x")}, indent=2, default=str, newline=True)
    assert summary.read_text() == '{\n  "p": "x"\n}\n'
    with pytest.raises(TypeError):
        write_json(tmp_path / "m.json", {"bad": object()})
    assert json.loads((tmp_path / "m.json").read_text()) == data  # untouched by the failure
    assert _leftovers(tmp_path) == []


def test_figure_written_in_the_format_of_its_extension(tmp_path: Path) -> None:
    fig = Figure(figsize=(2, 1))
    FigureCanvasAgg(fig)
    fig.subplots().plot([0, 1], [1, 0])
    png = write_figure(fig, tmp_path / "plots" / "loss.png", dpi=50)
    svg = write_figure(fig, tmp_path / "plots" / "loss.svg")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.read_bytes()[:2000]
    assert _leftovers(tmp_path / "plots") == []


def test_ensure_writable_dir_refuses_a_file_parent(tmp_path: Path) -> None:
    blocker = write_text(tmp_path / "file", "x")
    with pytest.raises(OutputError, match=r"run folder cannot be created .*is not a folder"):
        ensure_writable_dir(blocker / "run", "run folder")
    assert ensure_writable_dir(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # leaves nothing behind


def test_npy_is_float32_and_memory_mappable(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float64).reshape(3, 4)  # (C, T)
    path = write_npy(tmp_path / "songs" / "a.vocals.npy", x)
    back = np.load(path, mmap_mode="r", allow_pickle=False)
    assert back.dtype == np.float32 and isinstance(back, np.memmap)
    np.testing.assert_array_equal(back, x)
    assert _leftovers(tmp_path / "songs") == []


def test_json_is_strict_nonfinite_numbers_become_null(tmp_path: Path) -> None:
    data = {"d": {"vocal_copy": float("-inf")}, "ci": (float("nan"), 1.0), "x": [float("inf")]}
    path = write_json(tmp_path / "m.json", data)
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text) == {"d": {"vocal_copy": None}, "ci": [None, 1.0], "x": [None]}
