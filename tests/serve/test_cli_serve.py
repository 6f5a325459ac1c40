"""`python -m samuel_pl.serve`: loopback by default, prints its URL, serves, stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_helpers import call_json  # noqa: E402

from samuel_pl.cli.main import build_parser, main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_defaults_bind_loopback_port_7860() -> None:
    args = build_parser().parse_args(["serve", "--ckpt", "x.ckpt"])
    assert (args.host, args.port, args.device) == ("127.0.0.1", 7860, "auto")
    assert (args.max_mb, args.max_seconds, args.max_queue) == (25.0, 60.0, 4)


def test_missing_checkpoint_and_taken_port_are_one_line_errors(tmp_path: Path, capsys) -> None:
    assert main(["serve", "--ckpt", str(tmp_path / "nope.ckpt"), "--port", "0"]) == 2
    assert "nope.ckpt: checkpoint not found" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--ckpt", str(tmp_path / "nope.ckpt"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err
    assert main(["serve", "--ckpt", "x", "--max-seconds", "0"]) == 2
    assert "invalid limits" in capsys.readouterr().err


@pytest.mark.slow  # a fresh interpreter imports torch and Lightning: ~8 s on 2 cores
def test_module_serves_then_stops_cleanly_on_sigterm(debug_ckpt: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "samuel_pl.serve", "--ckpt", str(debug_ckpt), "--port", "0"]
    proc = subprocess.Popen(
        [*cmd, "--device", "cpu"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"serving on (http://127\.0\.0\.1:(\d+)) \(model on cpu", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        status, info = call_json(f"{m.group(1)}/api/info")
        assert status == 200 and info["checkpoint"] == "last.ckpt"
        assert len(list(tmp.glob("samuel-serve-*"))) == 1
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert list(tmp.glob("samuel-serve-*")) == [], "the server left its job folder behind"


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--port", "70000", "--port must be in [0, 65535], got 70000"),
        ("--max-queue-mb", "0", "invalid limits: max_channels must be in [1, 32] and max_queue"),
        ("--read-timeout", "0", "invalid limits: read_timeout_s and upload_timeout_s must be"),
        ("--max-mb", "nan", "invalid limits: max_bytes must be >= 1024"),
        ("--max-seconds", "inf", "invalid limits: max_bytes must be >= 1024 and max_seconds a"),
    ],
)
def test_bad_flags_fail_before_binding_or_loading(
    flag: str, value: str, message: str, tmp_path: Path, capsys
) -> None:
    assert main(["serve", "--ckpt", str(tmp_path / "nope.ckpt"), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "nope.ckpt" not in err, err


def test_the_host_names_answered_follow_the_bound_address() -> None:
    from samuel_pl.cli.serve import allowed_hosts

    assert allowed_hosts("127.0.0.1", []) == ["127.0.0.1", "localhost", "::1"]
    assert allowed_hosts("localhost", ["demo.lan"]) == ["127.0.0.1", "localhost", "::1", "demo.lan"]
    assert allowed_hosts("192.168.1.5", []) == ["192.168.1.5"]
    assert allowed_hosts("0.0.0.0", []) is None  # every interface: any name (with a warning)
    assert allowed_hosts("0.0.0.0", ["Demo.LAN:7860"]) == ["demo.lan"]
