"""metrics.json is strict JSON: every number finite or null, with the reason beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samuel_pl.config.suite import SuiteConfig
from samuel_pl.evaluation import validation
from samuel_pl.evaluation.suite_runner import _result
from samuel_pl.evaluation.table import write_result

ROLES = {
    "ground_truth": "gt", "shuffled": "sh", "pitch+1": "p1", "pitch+6": "p6",
    "vocal_copy": "vc", "tonic_triad": "tt",
}  # fmt: skip


def _reject(token: str) -> Any:
    raise ValueError(f"not strict JSON: {token}")


def strict_load(path: Path) -> Any:
    """json.loads that refuses NaN, Infinity and -Infinity (as browsers and jq do)."""
    return json.loads(path.read_text(), parse_constant=_reject)


def _per_song() -> dict[str, dict[str, list[float]]]:
    rows = {r: {"consonance_share": [0.6, 0.7, 0.8]} for r in ROLES.values()}
    rows["sh"]["consonance_share"] = [0.5, 0.6, 0.7]
    rows["vc"]["consonance_share"] = [0.9, 0.9, 0.9]  # a control without variance ...
    rows["gt"]["consonance_share"] = [0.7, 0.7, 0.7]  # ... and a truth without: d = -inf
    rows["tt"]["consonance_share"] = [0.1, float("nan"), float("nan")]  # one defined score
    return rows


def test_infinite_and_undefined_d_are_null_with_the_reason() -> None:
    check = validation(_per_song(), ROLES)["consonance_share"]
    assert check["d"]["vocal_copy"] is None and check["d"]["tonic_triad"] is None
    assert "zero variance" in check["d_notes"]["vocal_copy"]
    assert "-infinite (control better)" in check["d_notes"]["vocal_copy"]
    assert "fewer than 2 defined scores" in check["d_notes"]["tonic_triad"]
    assert check["d"]["shuffled"] == pytest.approx(0.1 / 0.005**0.5)  # pooled var 0.02 / 4
    assert {"vocal_copy", "tonic_triad"} <= set(check["fails"])  # -inf separates nothing


def test_metrics_json_parses_with_a_strict_parser(tmp_path: Path) -> None:
    per_song = _per_song()
    nan = float("nan")
    rows = {"gt": {"consonance_share": (0.7, 0.7, 0.7), "fd_mel": (nan, nan, nan),
                   "silent_outputs": (1.0, 1.0, 1.0)}}  # fmt: skip
    result = _result(SuiteConfig(), None, rows, {}, {}, 3, 1.0)
    assert result["notes"]["gt"] == ["fd_mel: null (no clip gave a defined score)"]
    result |= {"generators": ["gt"], "controls": [], "per_song": per_song}
    result["validation"] = validation(per_song, ROLES)
    write_result(tmp_path, result)
    doc = strict_load(tmp_path / "metrics.json")
    assert doc["metrics"]["gt/fd_mel"] is None
    assert doc["validation"]["consonance_share"]["d"]["vocal_copy"] is None
    assert doc["per_song"]["tt"]["consonance_share"] == [0.1, None, None]
    table = (tmp_path / "table.md").read_text()
    # the count of silent outputs is a headline column beside the harmony means
    assert "| generator | availability | fd_mel | consonance_share | silent_outputs |" in table
    assert "| gt | available | n/a | 0.7 | 1 |" in table
    assert "- n/a: consonance_share against vocal_copy: both rows have zero variance" in table
