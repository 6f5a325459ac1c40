"""The evaluation's numbers on a fixed synthetic input equal those of the implementation before
the metric objects ran it (issue 19).

``parity_expected.json`` beside this file holds what ``evaluate()`` returned at commit 1498f2c
(``samuel_pl/evaluation/suite_runner.py`` with ``_fd_metrics``, ``SongScorer`` and ``_aesthetics``),
for the input built below: 3 synthetic songs of 4.5 s, one generator row ("noisy": the real
accompaniment at 0.8 plus seeded noise) and every control row, metrics fd (mel), alignment,
harmony, efficiency and aesthetics (a stand-in audiobox model, weights seeded). It was written
by running :func:`run_suite` on that commit (``python -m tests.evaluation.test_eval_parity``)
and is never rewritten by the test. Wall-clock figures (``rtf``) are checked against the timing
files instead.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from samuel_pl.config.suite import SuiteConfig

EXPECTED = Path(__file__).with_name("parity_expected.json")
SR = 22050
SECONDS = 4.5
SONGS = 3
PARAMETERS = 1234
REL, ABS = 1e-6, 1e-9  # floating-point reordering only


def _tone(midi: float, n: int, harmonics: int = 3) -> np.ndarray:
    t = np.arange(n) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, harmonics + 1))


def _song(i: int) -> tuple[np.ndarray, np.ndarray]:
    """(vocal, accompaniment), each (1, N): a melody over beat-aligned chords with clicks."""
    rng = np.random.default_rng(100 + i)
    n = int(SECONDS * SR)
    beat = 60.0 / (110 + 10 * i)
    key = 2 * i
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    vocal, acc = np.zeros(n), np.zeros(n)
    starts = np.arange(0.0, SECONDS, beat)
    chords = [[0, 4, 7], [5, 9, 12], [7, 11, 14], [9, 12, 16]]
    for j, s in enumerate(starts):
        a, b = int(s * SR), min(n, int((s + beat) * SR))
        env = np.exp(-np.arange(b - a) / (0.25 * SR))
        vocal[a:b] += 0.3 * env * _tone(60 + key + rng.choice(scale), b - a)
        chord = chords[(j // 2) % len(chords)]
        acc[a:b] += 0.15 * env * sum(_tone(48 + key + c, b - a) for c in chord)
        click = min(b - a, int(0.01 * SR))
        acc[a : a + click] += 0.3 * rng.standard_normal(click) * np.linspace(1, 0, click)
    return vocal.astype(np.float32)[None], acc.astype(np.float32)[None]


class _Noisy:
    """A generator row: the real accompaniment at 0.8 plus seeded noise."""

    name = "noisy"
    cache_key = "noisy:parity"
    parameters = PARAMETERS

    def __init__(self, refs: dict[str, np.ndarray]) -> None:
        self.refs = refs

    def available(self) -> tuple[bool, str]:
        return True, ""

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        rng = np.random.default_rng(int(song_id[-1]))
        ref = self.refs[song_id]
        return (0.8 * ref + 0.01 * rng.standard_normal(ref.shape)).astype(np.float32)


class _FakeAes(torch.nn.Module):
    """Stand-in for audiobox's AesMultiOutput: per-axis linear map of a window's mean |x|."""

    def __init__(self, target_transform: Any = None, **_: object) -> None:
        super().__init__()
        self.proj_layer = torch.nn.ModuleDict(
            {a: torch.nn.Linear(1, 1) for a in ("CE", "CU", "PC", "PQ")}
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        wav, mask = batch["wav"].squeeze(1), batch["mask"].squeeze(1).float()
        feat = ((wav.abs() * mask).sum(-1) / mask.sum(-1)).unsqueeze(-1)  # (W, 1)
        return {a: m(feat).squeeze(-1) for a, m in self.proj_layer.items()}


def _fake_aesthetics(folder: Path) -> tuple[dict[str, types.ModuleType], Path]:
    """(modules to put in sys.modules, checkpoint path) of a seeded stand-in predictor."""
    mods = {n: types.ModuleType(n) for n in ("audiobox_aesthetics", "audiobox_aesthetics.model")}
    mods["audiobox_aesthetics.model.aes"] = aes = types.ModuleType("audiobox_aesthetics.model.aes")
    aes.AesMultiOutput = _FakeAes  # type: ignore[attr-defined]
    torch.manual_seed(0)
    net = _FakeAes()
    transform = {a: {"mean": 3.0 + i, "std": 2.0} for i, a in enumerate(("CE", "CU", "PC", "PQ"))}
    ckpt = folder / "checkpoint.pt"
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in net.state_dict().items()},
            "model_cfg": {},
            "target_transform": transform,
        },
        ckpt,
    )
    return mods, ckpt


def run_suite(out: Path, patch: Any) -> dict[str, Any]:
    """``evaluate()`` on the synthetic songs; ``patch(obj, name, value)`` swaps attributes."""
    from samuel_pl.evaluation import suite_runner

    pairs = [_song(i) for i in range(SONGS)]
    vocals = {f"song{i}": v for i, (v, _) in enumerate(pairs)}
    refs = {f"song{i}": a for i, (_, a) in enumerate(pairs)}
    mods, ckpt = _fake_aesthetics(out.parent)
    for name, mod in mods.items():
        patch(sys.modules, name, mod)
    patch(suite_runner, "load_clips", lambda suite: (vocals, refs))
    patch(suite_runner, "build_generators", lambda *a, **k: [_Noisy(refs)])
    suite = SuiteConfig(
        name="parity", seed=1, clip_seconds=SECONDS, sample_rate=SR, bootstrap=50,
        metrics=["fd", "alignment", "harmony", "efficiency", "aesthetics"],
        controls=True, embedders=["mel"], aesthetics_checkpoint=str(ckpt),
    )  # fmt: skip
    return suite_runner.evaluate(suite, None, out, progress=False)


# control rows added after the expected file was written (issue 26): left out of the comparison
LATER_ROLES = {"lowpass": "control_lowpass", "griffin_lim": "control_griffin_lim"}


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    later = tuple(f"{row}/" for row in LATER_ROLES.values())
    keep_key = lambda k: not k.endswith("/rtf") and not k.startswith(later)  # noqa: E731
    metrics = {k: v for k, v in result["metrics"].items() if keep_key(k)}
    ci = {k: v for k, v in result["ci95"].items() if keep_key(k)}
    checks = {
        m: {r: d for r, d in c["d"].items() if r not in LATER_ROLES}
        for m, c in result.get("validation", {}).items()
    }
    keep = ("per_song", "notes", "unavailable", "controls", "roles", "song_ids")
    rest = {k: result[k] for k in keep}
    rest["per_song"] = {k: v for k, v in rest["per_song"].items() if k not in LATER_ROLES.values()}
    rest["notes"] = {k: v for k, v in rest["notes"].items() if k not in LATER_ROLES.values()}
    rest["controls"] = [c for c in rest["controls"] if c not in LATER_ROLES.values()]
    rest["roles"] = {k: v for k, v in rest["roles"].items() if k not in LATER_ROLES}
    return {"metrics": metrics, "ci95": ci, "validation_d": checks} | rest


def _close(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), (where, list(got), list(want))
        for k in want:
            _close(got[k], want[k], f"{where}/{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        if math.isnan(want):
            assert isinstance(got, float) and math.isnan(got), (where, got)
        else:
            assert got == pytest.approx(want, rel=REL, abs=ABS), (where, got, want)
    else:
        assert got == want, (where, got, want)


def test_the_suite_builds_the_metric_classes(monkeypatch) -> None:
    """The runner's figures come from the metric classes (the ones the metric and DDP tests
    exercise), in the order the table reports them."""
    from samuel_pl.evaluation.scores import SuiteMetrics
    from samuel_pl.metrics import (
        AlignmentMetric,
        FrechetAudioDistance,
        GenerationEfficiency,
        HarmonicFitMetric,
        RealismMetric,
    )

    monkeypatch.setitem(sys.modules, "audiobox_aesthetics", None)  # not installed
    suite = SuiteConfig(
        metrics=["harmony", "aesthetics", "fd", "alignment", "realism", "efficiency"]
    )
    metrics = SuiteMetrics(suite, {"a": np.zeros((1, SR), np.float32)})
    built = metrics.build(parameters=5)
    assert [(f, type(m)) for f, m in built] == [
        ("efficiency", GenerationEfficiency), ("fd", FrechetAudioDistance),
        ("alignment", AlignmentMetric), ("harmony", HarmonicFitMetric),
        ("realism", RealismMetric),
    ]  # fmt: skip
    assert [f for f, _ in metrics.build(parameters=None)] == [
        "fd", "alignment", "harmony", "realism",
    ]  # fmt: skip
    assert "audiobox_aesthetics" in metrics.unavailable["aesthetics"]


@pytest.mark.slow
def test_evaluation_numbers_equal_the_previous_implementation(tmp_path: Path, monkeypatch):
    expected = json.loads(EXPECTED.read_text())

    def patch(obj: Any, name: str, value: Any) -> None:
        (monkeypatch.setitem if isinstance(obj, dict) else monkeypatch.setattr)(obj, name, value)

    result = run_suite(tmp_path / "eval", patch)
    _close(json.loads(json.dumps(_comparable(result))), expected["result"], "result")
    # rtf: the generator's wall seconds (its timing files) over the seconds of audio it made
    folder = next((tmp_path / "eval" / "generated").glob("noisy-*"))
    seconds = sum(float(p.read_text()) for p in folder.glob("*.seconds"))
    assert result["metrics"]["noisy/rtf"] == pytest.approx(seconds / (SECONDS * SONGS), rel=1e-6)


if __name__ == "__main__":  # writes the expected file: run once, on the pre-refactor commit
    import tempfile

    def _patch(obj: Any, name: str, value: Any) -> None:
        if isinstance(obj, dict):
            obj[name] = value
        else:
            setattr(obj, name, value)

    with tempfile.TemporaryDirectory() as tmp:
        res = run_suite(Path(tmp) / "eval", _patch)
    EXPECTED.write_text(
        json.dumps({"source": sys.argv[1:], "result": _comparable(res)}, indent=1) + "\n"
    )
