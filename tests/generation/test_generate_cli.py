"""`samuel generate` / `python -m samuel_pl.generate`: files, folders, exit codes, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_helpers import SR_CODEC, write_vocal  # noqa: E402

from samuel_pl.cli.main import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FAST = ["--sampler", "ddim", "--steps", "2", "--quiet", "--device", "cpu"]


def _gen(ckpt: Path, vocals: Path, out: Path, *extra: str) -> int:
    return main(
        ["generate", "--ckpt", str(ckpt), "--vocals", str(vocals), "--out", str(out)]
        + [*FAST, *extra]
    )


def test_cli_file_with_mix_prints_rtf(debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    src = write_vocal(tmp_path / "take.wav", 30000, 44100, channels=2)
    code = _gen(debug_ckpt, src, tmp_path / "acc.wav", "--mix", str(tmp_path / "mix.flac"))
    assert code == 0
    out = capsys.readouterr().out
    assert "real-time factor" in out
    n = round(30000 * SR_CODEC / 44100)
    assert sf.info(str(tmp_path / "acc.wav")).frames == n
    assert sf.info(str(tmp_path / "mix.flac")).frames == n


def test_cli_batch_skips_finished(debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_vocal(src / "a.wav", 20000, 22050)
    write_vocal(src / "b.flac", 12000, 16000, channels=2)
    (src / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    assert _gen(debug_ckpt, src, out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "b.wav"]
    assert sf.info(str(out / "b.wav")).frames == round(12000 * SR_CODEC / 16000)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert _gen(debug_ckpt, src, out) == 0
    assert "skipping 2 of 2" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    (out / "a.wav").unlink()
    assert _gen(debug_ckpt, src, out) == 0
    assert (out / "a.wav").is_file()
    assert (out / "b.wav").stat().st_mtime_ns == mtimes["b.wav"]


def test_cli_batch_reports_bad_file_and_continues(debug_ckpt: Path, tmp_path: Path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_vocal(src / "good.wav", 15000, 22050)
    (src / "broken.wav").write_bytes(b"RIFF garbage" * 10)
    assert _gen(debug_ckpt, src, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "broken.wav" in err and "1 of 2 inputs failed" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.wav"]


def test_cli_errors_are_one_line(debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_text("definitely not an mp3")
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (debug_ckpt, bad, out / "x.wav", "bad.mp3"),
        (debug_ckpt, tmp_path / "missing.wav", out / "x.wav", "missing.wav: vocals not found"),
        (
            tmp_path / "nope.ckpt",
            write_vocal(tmp_path / "v.wav", 5000, 22050),
            out / "x.wav",
            "nope.ckpt",
        ),
    ]
    for ckpt, vocals, dest, needle in cases:
        assert _gen(ckpt, vocals, dest) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err
    assert list(out.iterdir()) == []
    assert _gen(debug_ckpt, tmp_path / "v.wav", out / "x.wav", "--steps", "0") == 2


def test_module_entry_point_and_light_import(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "samuel_pl.generate", "--ckpt", "c.ckpt", "--vocals"]
    proc = subprocess.run(
        [*cmd, str(tmp_path / "none.wav"), "--out", str(tmp_path / "o.wav")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "none.wav" in proc.stderr
    code = "import sys, samuel_pl; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr
    import samuel_pl
    from samuel_pl.generation import Accompanist

    assert samuel_pl.Accompanist is Accompanist
    with pytest.raises(AttributeError):
        _ = samuel_pl.NotAThing  # type: ignore[attr-defined]
