"""The report on the debug sweep: valid self-contained HTML, every linked file present, and a
Markdown table whose numbers are MLflow's."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.sweep.conftest import FAILING, SweepRun

VOID = {"meta", "img", "br", "hr", "link", "input", "source"}


class _Checker(HTMLParser):
    """Records every src/href and checks that elements nest and close properly."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.refs: list[tuple[str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, value))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def report(debug_sweep: SweepRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from samuel_pl.cli.main import main

    out = tmp_path_factory.mktemp("report")
    args = ["report", "--experiment", debug_sweep.experiment, "--uri", debug_sweep.uri]
    assert main([*args, "--out", str(out)]) == 0
    return out


def test_html_is_valid_and_self_contained(report: Path) -> None:
    checker = _Checker()
    checker.feed((report / "report.html").read_text(encoding="utf-8"))
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert {"html", "head", "body", "table", "img", "audio"} <= checker.tags
    media = [(t, v) for t, v in checker.refs if t in ("img", "audio", "source")]
    assert len([1 for t, _ in media if t == "img"]) >= 5  # loss, param, pareto, mixing, spectra
    assert any(t == "audio" for t, _ in media)
    for tag, src in checker.refs:
        assert src.startswith("data:"), f"<{tag}> refers outside the page: {src[:80]}"
        head, _, payload = src.partition(",")
        raw = base64.b64decode(payload, validate=True)
        assert raw, f"<{tag}> embeds an empty file"
        if tag == "img":
            assert head == "data:image/png;base64" and raw.startswith(b"\x89PNG")
        else:
            assert head == "data:audio/wav;base64" and raw[:4] == b"RIFF" and len(raw) > 1000


def test_markdown_links_exist_and_are_not_empty(report: Path) -> None:
    md = (report / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!?\[[^\]]*\]\(([^)]+)\)", md)
    assert any(link.endswith(".png") for link in links)
    assert any(link.endswith(".wav") for link in links)
    for link in links:
        path = report / link
        assert path.is_file() and path.stat().st_size > 0, link


def _table(md: str) -> tuple[list[str], list[list[str]]]:
    section = md.split("## Runs", 1)[1].split("\n#", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return header, rows


def _number(cell: str) -> float:
    return float(re.match(r"[-+0-9.eE]+", cell).group(0))  # type: ignore[union-attr]


def test_markdown_table_matches_mlflow(report: Path, debug_sweep: SweepRun) -> None:
    header, rows = _table((report / "report.md").read_text(encoding="utf-8"))
    client = MlflowClient(debug_sweep.uri)
    exp = client.get_experiment_by_name(debug_sweep.experiment)
    finished = [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("sweep.state") == "done"
    ]
    by_prefix = {r.info.run_id[:8]: r for r in finished}
    assert sorted(row[header.index("runs")] for row in rows) == sorted(by_prefix)
    metric_cols = [h for h in header if "/" in h]
    assert "eval/fd_mel" in metric_cols and "val/loss" in metric_cols
    checked = 0
    for row in rows:
        run = by_prefix[row[header.index("runs")]]
        assert row[header.index("model.mix_schedule")] == run.data.params["model.mix_schedule"]
        for col in metric_cols:
            expected = run.data.metrics[col]
            assert _number(row[header.index(col)]) == pytest.approx(expected, rel=1e-3), col
            checked += 1
    assert checked >= 2 * len(metric_cols)
    fd = [_number(row[header.index("eval/fd_mel")]) for row in rows]
    assert fd == sorted(fd)  # ranked best (lowest) first
    ranks = [int(row[0]) for row in rows]
    assert ranks == list(range(1, len(rows) + 1))


def test_failed_run_and_mlflow_artifact(report: Path, debug_sweep: SweepRun) -> None:
    md = (report / "report.md").read_text(encoding="utf-8")
    failed = md.split("### Failed or unfinished runs", 1)[1].split("##", 1)[0]
    assert FAILING in failed
    client = MlflowClient(debug_sweep.uri)
    exp = client.get_experiment_by_name(debug_sweep.experiment)
    parent = next(
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("samuel.kind") == "sweep"
    )
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html", "report/assets"} <= logged


def test_unknown_experiment_is_a_clear_error(
    debug_sweep: SweepRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from samuel_pl.cli.main import main

    args = ["report", "--experiment", "nope", "--uri", debug_sweep.uri, "--out", str(tmp_path)]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "'nope' not found" in err and debug_sweep.experiment in err
