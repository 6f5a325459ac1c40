"""MLflow gets finite numbers only; a NaN / inf metric is named in a tag with the reason."""

from __future__ import annotations

from typing import Any

from samuel_pl.tracking.run_io import log_metrics


class _Client:
    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.tags: dict[str, str] = {}

    def log_batch(self, run_id: str, metrics: list[Any]) -> None:
        self.metrics.update({m.key: m.value for m in metrics})

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.tags[key] = value


def test_nonfinite_metrics_are_tagged_not_logged() -> None:
    client = _Client()
    metrics = {"a/d": float("-inf"), "a/fd": float("nan"), "a/share": 0.5}
    log_metrics(client, "rid", metrics, step=3)
    assert client.metrics == {"a/share": 0.5}
    assert client.tags == {
        "nonfinite.a/d": "-inf at step 3: not logged (not a finite number)",
        "nonfinite.a/fd": "nan at step 3: not logged (not a finite number)",
    }
