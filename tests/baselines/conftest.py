"""A tiny MusicGen-melody with RANDOM weights, saved once per session in Hugging Face format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models spend their time syncing threads (80x slower with 2 on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_random_musicgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a randomly initialised tiny MusicGen-melody (noise-like audio, real plumbing)."""
    pytest.importorskip("transformers", reason="needs the baselines extra")
    from samuel_pl.baselines.musicgen import make_tiny_random

    return make_tiny_random(tmp_path_factory.mktemp("musicgen-melody-tiny-random"), seed=0)
