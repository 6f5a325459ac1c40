"""``python -m samuel_pl`` is the ``samuel`` command."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def test_python_m_samuel_pl_help_lists_the_commands() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "samuel_pl", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("data", "encode", "fit", "generate", "evaluate", "serve"):
        assert f"    {command} " in proc.stdout, command
    bad = subprocess.run(
        [sys.executable, "-m", "samuel_pl", "generate", "--ckpt", "x.ckpt", "--vocals", "none.wav",
         "--out", "o.wav"],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr == "error: none.wav: vocals not found\n"
