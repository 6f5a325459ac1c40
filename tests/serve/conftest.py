"""Fixtures of the web demo tests: the debug model behind a real server on a loopback port."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_helpers import running_server  # noqa: E402

# Small limits so the rejections are cheap to provoke.
MAX_SECONDS = 4.0
MAX_BYTES = 1024 * 1024
MAX_STEPS = 50


@pytest.fixture(scope="session")
def renderer(debug_ckpt: Path) -> Any:
    from samuel_pl.generation import Accompanist
    from samuel_pl.web.render import Renderer

    return Renderer(Accompanist.from_checkpoint(debug_ckpt, device="cpu"), str(debug_ckpt))


@pytest.fixture(scope="session")
def served(renderer: Any) -> Iterator[tuple[str, Any]]:
    """(base URL, app) of the demo on 127.0.0.1:<free port>, shared by the session."""
    from samuel_pl.web.app import create_app
    from samuel_pl.web.limits import Limits

    app = create_app(renderer, Limits(MAX_BYTES, MAX_SECONDS, max_queue=2, max_steps=MAX_STEPS))
    with running_server(app) as base:
        yield base, app
        root = app.state.jobs.root
    assert not root.exists(), "the jobs' temporary folder was not removed at shutdown"
