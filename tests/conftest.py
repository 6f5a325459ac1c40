"""Shared fixtures: the debug config and a 3-song demo render made once per test session."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DEBUG_YAML = REPO / "experiments" / "debug.yaml"

torch.set_num_threads(min(2, os.cpu_count() or 1))

# Caches whose place is not given (the latent cache default, $XDG_CACHE_HOME/samuel_pl, and
# other libraries' caches) go to a folder of this test session, never to the user's ~/.cache;
# CLI subprocesses inherit it.
TEST_CACHE_HOME = Path(tempfile.mkdtemp(prefix="samuel-tests-cache-"))
os.environ["XDG_CACHE_HOME"] = str(TEST_CACHE_HOME)
os.environ.pop("MPLCONFIGDIR", None)  # matplotlib's font cache too: built here, once, so no
import matplotlib.font_manager  # noqa: E402, F401 - CLI subprocess prints "building the font cache"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(TEST_CACHE_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three rendered Bach chorales (the debug config's demo set), shared by the session."""
    from samuel_pl.data.demo import ensure_demo

    root = tmp_path_factory.mktemp("demo3")
    ensure_demo(root, songs=3, seed=0, val_fraction=0.34, test_fraction=0.0, progress=False)
    return root


@pytest.fixture()
def debug_overrides(demo_root: Path, tmp_path: Path) -> list[str]:
    """Overrides that point the debug config at the shared demo set and a private run folder."""
    return [
        f"data.root={demo_root}",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"run.dir={tmp_path / 'run'}",
        f"tracking.uri=sqlite:///{tmp_path / 'mlruns.db'}",
    ]


@pytest.fixture(scope="session")
def debug_ckpt(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the debug config trained for 4 steps (made once per session)."""
    from samuel_pl.cli.main import main

    tmp = tmp_path_factory.mktemp("debug_ckpt")
    code = main(
        [
            "fit",
            "--config",
            str(DEBUG_YAML),
            f"data.root={demo_root}",
            f"data.cache_dir={tmp / 'cache'}",
            f"run.dir={tmp / 'run'}",
            "tracking.enabled=false",
            "callbacks.num_sample_songs=0",
        ]
    )
    assert code == 0
    return tmp / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture()
def locked_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A read-only folder (mode 0555). Root ignores permission bits, so as root the creation
    of files inside it is refused the way the kernel refuses it for everyone else."""
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o555)
    if os.geteuid() == 0:
        real = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own name
            if dir is not None and Path(dir).resolve().is_relative_to(d.resolve()):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    yield d
    d.chmod(0o755)


@pytest.fixture()
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fsync fails with ENOSPC (what a full disk reports for delayed writes)."""

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
