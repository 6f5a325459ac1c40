"""A debug sweep (2 real trials + 1 injected failing trial) run once for the sweep and report
tests, on the session's 3-song demo render."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DEBUG_SWEEP = REPO / "experiments" / "sweeps" / "debug.yaml"
# The injected failure: a mix schedule the network refuses when it is built, like any trial that
# fails at run time. It sits between the two real trials.
FAILING = "bogus"


@contextlib.contextmanager
def failing_schedule_accepted() -> Iterator[None]:
    """Let FAILING through the config validator (which refuses unknown schedules at load), so the
    trial fails later, when its network is built."""
    from samuel_pl.config import ModelConfig
    from samuel_pl.config.checks import one_of
    from samuel_pl.config.validate import RULES
    from samuel_pl.nn.attention_mixing import MIX_SCHEDULES

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(RULES[ModelConfig], "mix_schedule", one_of(*MIX_SCHEDULES, FAILING))
        yield


@dataclass
class SweepRun:
    path: Path
    uri: str
    experiment: str
    out: Path
    code: int
    stdout: str


def write_sweep(
    tmp: Path, demo_root: Path, schedules: list[str], name: str = "debug", extra: tuple = ()
) -> Path:
    """The shipped debug sweep pointed at the test's demo render, cache, runs and MLflow."""
    spec = yaml.safe_load(DEBUG_SWEEP.read_text())
    spec["name"] = name
    spec["params"] = {"model.mix_schedule": schedules}
    spec["overrides"] += [f"data.root={demo_root}", f"data.cache_dir={tmp / 'cache'}", *extra]
    spec["suite_overrides"] += [f"data.root={demo_root}"]
    spec["out"] = str(tmp / "runs")
    spec["tracking"] = {"uri": f"sqlite:///{tmp / 'mlruns.db'}", "experiment": f"sweep-{name}"}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from samuel_pl.cli.main import main

    code = main(args)
    return code, capsys.readouterr().out


@pytest.fixture(scope="session")
def debug_sweep(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> SweepRun:
    """First run (once per session) of the debug sweep: reference, bogus (fails), learned."""
    from samuel_pl.cli.main import main

    tmp = tmp_path_factory.mktemp("sweep")
    path = write_sweep(tmp, demo_root, ["reference", FAILING, "learned"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), failing_schedule_accepted():
        code = main(["sweep", "--threads", "1", "--no-progress", str(path)])
    return SweepRun(
        path, f"sqlite:///{tmp / 'mlruns.db'}", "sweep-debug", tmp / "runs", code, buf.getvalue()
    )
