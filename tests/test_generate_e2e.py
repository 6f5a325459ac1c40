"""benchmarks/generate_e2e.py on the debug architecture: every stage timed through the real
generate_file path, rates that add up, and the vocal's length taken from the codec."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import DEBUG_YAML, REPO

BENCH = REPO / "benchmarks"


def test_end_to_end_benchmark_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import common

    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path)
    spec = importlib.util.spec_from_file_location("generate_e2e", BENCH / "generate_e2e.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "generate_e2e", bench)
    spec.loader.exec_module(bench)
    argv = ["--ckpt", "random", "--config", str(DEBUG_YAML), "--frames", "80",
            "--settings", "ddim:2", "dpmpp3m:3:w80:voc", "--repeats", "1", "--warmup", "0",
            "--threads", "1"]  # fmt: skip
    assert bench.main(argv) == 0
    payload = json.loads((tmp_path / "generate_e2e.json").read_text())
    meta, rows = payload["meta"], payload["rows"]
    audio_s = 79 * 512 / 22050  # the debug mel codec: (T - 1) * hop samples at 22.05 kHz
    assert meta["audio"].startswith(f"80 frames = {audio_s:.2f} s")
    assert "random (untrained) model of debug.yaml" in meta["model"]
    assert [(r["sampler"], r["steps"], r["spacing"], r["decoder"]) for r in rows] == [
        ("ddim", 2, "uniform", "gl"),
        ("dpmpp3m", 3, "uniform", "voc"),
    ]
    assert "random (untrained) vocoder" in meta["vocoder"]
    assert rows[0]["windows"] >= 2 and rows[1]["windows"] == 1  # w80: the whole clip at once
    assert rows[1]["gflop_per_call"] > rows[0]["gflop_per_call"]  # a longer window per call
    for r in rows:
        stages = [r[f"{s}_s"] for s in ("read", "encode", "sample", "decode", "write")]
        assert all(s > 0 for s in stages) and sum(stages) <= r["total_s"]
        assert r["rtf_total"] == pytest.approx(r["total_s"] / audio_s)
        assert r["rtf_sample"] == pytest.approx(r["sample_s"] / audio_s)
        assert r["calls"] == r["windows"] * r["steps"]
        flops = r["gflop_per_call"] * 1e9
        assert r["net_gflops"] == pytest.approx(flops * r["calls"] / r["sample_s"] / 1e9)
        assert r["net_gflops"] > 0 and r["matmul_gflops"] > 0
    assert (tmp_path / "generate_e2e.md").read_text().startswith("# Benchmark: generate_e2e")
