"""evaluation/reference.yaml: figures reported in papers, each labelled and sourced."""

from __future__ import annotations

import yaml

from tests.conftest import REPO

LABEL = "reported, not measured here"


def test_reference_yaml_entries_have_a_source_and_the_reported_label() -> None:
    data = yaml.safe_load((REPO / "evaluation" / "reference.yaml").read_text())
    assert data["label"] == LABEL
    entries = data["entries"]
    assert len(entries) >= 5
    for e in entries:
        assert e["label"] == LABEL, e
        assert str(e["source"]).strip(), e
        assert {"system", "figure", "value"} <= set(e), e
    values = " ".join(f"{e['system']}: {e['value']}" for e in entries)
    for figure in ("220x", "52x", "Jukebox: 5B", "MusicGen-melody: 1.5B", "15M"):
        assert figure in values, figure
