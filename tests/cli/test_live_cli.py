"""`samuel live` / `python -m samuel_pl.live`: a vocal file or stdin PCM through the live engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from samuel_pl.cli.main import main
from tests.conftest import REPO

LINE = re.compile(r"^latency p50 \d+\.\d{3} s p95 \d+\.\d{3} s max \d+\.\d{3} s underruns \d+$")


def _vocal(path: Path, sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    sf.write(path, x, sr)
    return x


def test_file_in_listener_out_log_and_summary_line(debug_ckpt: Path, tmp_path: Path, capsys):
    _vocal(tmp_path / "v.wav", 44100, 2.5)  # another rate: read at the codec's
    out, mix = tmp_path / "out.wav", tmp_path / "mix.wav"
    code = main(["live", "--ckpt", str(debug_ckpt), "--vocals", str(tmp_path / "v.wav"),
                 "--out", str(out), "--mix", str(mix), "--latency", "1.2"])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert LINE.match(lines[-1]), lines[-1]
    info = sf.info(out)
    assert info.samplerate == 22050 and info.frames == round(2.5 * 22050)
    assert sf.info(mix).frames == info.frames
    log = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["chunk"] for r in log] == list(range(len(log))) and len(log) >= 3
    assert log[-1]["end_s"] == round(info.frames / 22050, 4)
    assert all(r["latency_s"] > 0 and r["ready_s"] >= r["arrived_s"] for r in log)
    heard, _ = sf.read(out)
    assert np.abs(heard).max() > 0


def test_stdin_s16le_at_a_given_rate(debug_ckpt: Path, tmp_path: Path) -> None:
    x = _vocal(tmp_path / "v.wav", 16000, 1.5)
    pcm = (x * 32767).astype("<i2").tobytes()
    out = tmp_path / "o.wav"
    proc = subprocess.run(
        [sys.executable, "-m", "samuel_pl.live", "--ckpt", str(debug_ckpt), "--vocals", "-",
         "--sr", "16000", "--out", str(out), "--log", str(tmp_path / "t.jsonl")],
        input=pcm, capture_output=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert LINE.match(proc.stdout.decode().strip().splitlines()[-1])
    assert abs(sf.info(out).frames - round(1.5 * 22050)) <= 2  # resampled to the codec rate
    assert (tmp_path / "t.jsonl").read_text().count("\n") >= 2


def test_bad_input_is_a_one_line_error(debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    _vocal(tmp_path / "v.wav", 22050, 1.0)
    base = ["live", "--ckpt", str(debug_ckpt), "--vocals", str(tmp_path / "v.wav")]
    cases = [
        (["--out", str(tmp_path / "o.txt")], "unsupported output extension"),
        (["--out", str(tmp_path / "o.wav"), "--latency", "0.05"], "latency 0.05 s is too short"),
        (["--out", str(tmp_path / "o.wav"), "--lookahead", "nan"], "--lookahead must be"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    missing = ["live", "--ckpt", str(tmp_path / "none.ckpt"), "--vocals", "x.wav", "--out", "o.wav"]
    assert main(missing) == 2
    assert "checkpoint not found" in capsys.readouterr().err
