"""Shared fixtures: the debug config and a 3-song demo render made once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DEBUG_YAML = REPO / "experiments" / "debug.yaml"

torch.set_num_threads(min(2, os.cpu_count() or 1))


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
