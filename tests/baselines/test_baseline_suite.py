"""evaluation/suites/baselines.yaml end to end on the debug checkpoint and the 3-song render."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from samuel_pl.cli.main import main
from tests.conftest import REPO

SUITE = REPO / "evaluation" / "suites" / "baselines.yaml"
ROWS = ["retrieval", "random_pairing", "ground_truth", "musicgen-melody",
        "musicgen-melody-tiny-random"]  # fmt: skip
# the suite's control rows (its own ground_truth and random_pairing rows serve as the others)
CONTROLS = ["control_pitch+1", "control_pitch+6", "control_vocal_copy", "control_tonic_triad",
            "control_lowpass", "control_griffin_lim"]  # fmt: skip


def test_baselines_suite_lists_every_generator_with_availability(
    debug_ckpt: Path, demo_root: Path, tiny_random_musicgen: Path, tmp_path: Path
) -> None:
    out, missing = tmp_path / "eval", tmp_path / "models" / "musicgen-melody"
    args = ["evaluate", "--suite", str(SUITE), "--ckpt", str(debug_ckpt), "--out", str(out)]
    overrides = [
        # the session's 3-song render (as in experiments/debug.yaml), not the 48-song demo set
        f"data.root={demo_root}",
        "data.demo_songs=3",
        "data.val_fraction=0.34",
        "data.test_fraction=0.0", "split=train", "clip_seconds=2.0", "bootstrap=10",
        "generators.0.sampler=ddim", "generators.0.steps=2",
        f"generators.4.path={missing}", f"generators.5.path={tiny_random_musicgen}",
    ]  # fmt: skip
    assert main([*args, "--no-mlflow", *overrides]) == 0
    result = json.loads((out / "metrics.json").read_text())
    m = result["metrics"]
    samuel = next(g for g in result["generators"] if g.startswith("samuel"))
    assert result["generators"] == [samuel, *ROWS, "codec_round_trip"]
    assert result["controls"] == CONTROLS
    assert str(missing) in result["unavailable"]["musicgen-melody"]
    for g in (samuel, "retrieval", "random_pairing", "ground_truth", "musicgen-melody-tiny-random",
              "codec_round_trip"):  # fmt: skip
        assert np.isfinite(m[f"{g}/fd_mel"]) and np.isfinite(m[f"{g}/align_chroma_cosine"]), g
        assert np.isfinite(m[f"{g}/band_error_db"]) and np.isfinite(m[f"{g}/harmonic_share"]), g
    # the round trip keeps the song: closer to the real band balance than another song is
    assert m["codec_round_trip/band_error_db"] < m["random_pairing/band_error_db"]
    assert m["ground_truth/band_error_db"] == 0.0
    assert m[f"{samuel}/params"] > 0 and m["musicgen-melody-tiny-random/params"] > 0
    assert m["musicgen-melody-tiny-random/rtf"] > 0

    table = (out / "table.md").read_text().splitlines()
    header = next(line for line in table if line.startswith("| generator"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[:4] == ["generator", "availability", "params", "rtf"]
    start = table.index(header)
    headline = table[start + 2 : table.index("", start)]  # the first table's rows
    rows = {r.split("|")[1].strip(): r for r in headline}
    assert list(rows) == [samuel, *ROWS, "codec_round_trip", *CONTROLS]
    for name, row in rows.items():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == len(cols), name
        if name == "musicgen-melody":
            assert cells[1].startswith("unavailable:") and str(missing) in cells[1]
            assert all(c == "" for c in cells[2:])
        else:
            assert cells[1] == "available" and cells[cols.index("fd_mel")], name
