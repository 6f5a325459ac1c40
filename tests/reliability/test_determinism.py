"""Same seed and config on CPU: two debug fits give identical loss curves, weights and audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from samuel_pl.cli.main import main
from tests.conftest import DEBUG_YAML
from tests.reliability.bad_inputs import tone


def _fit(demo_root: Path, tmp: Path, name: str) -> dict:
    args = ["fit", "--config", str(DEBUG_YAML), f"data.root={demo_root}"]
    args += [f"data.cache_dir={tmp / 'cache'}", f"run.dir={tmp / name}", "tracking.enabled=false"]
    args += ["callbacks.samples_every_n_epochs=0"]  # audio samples at the end of fit only
    assert main(args) == 0
    return json.loads((tmp / name / "summary.json").read_text())


@pytest.mark.slow
def test_two_fits_with_the_same_seed_are_identical(demo_root: Path, tmp_path: Path) -> None:
    from samuel_pl.generation import Accompanist

    a, b = _fit(demo_root, tmp_path, "a"), _fit(demo_root, tmp_path, "b")
    losses = [v for _, v in a["train_loss_history"]]
    assert len(losses) == 4 and len(set(losses)) > 1  # a real curve, not a constant
    assert a["train_loss_history"] == b["train_loss_history"]
    assert a["val_loss_history"] == b["val_loss_history"]
    sd_a = torch.load(Path(a["checkpoint"]), weights_only=True)["state_dict"]
    sd_b = torch.load(Path(b["checkpoint"]), weights_only=True)["state_dict"]
    assert sd_a.keys() == sd_b.keys() and all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    # The audio samples written during training ...
    wavs = sorted(p for p in a["samples"] if p.endswith(".wav"))
    assert wavs
    for p in wavs:
        x, y = sf.read(p)[0], sf.read(p.replace(str(tmp_path / "a"), str(tmp_path / "b")))[0]
        assert np.array_equal(x, y), p
    # ... and accompaniments generated from the two checkpoints.
    vocals = tone(22050, seconds=1.5).T  # (1, N)
    gen_a = Accompanist.from_checkpoint(a["checkpoint"], "cpu")
    gen_b = Accompanist.from_checkpoint(b["checkpoint"], "cpu")
    out_a = gen_a.generate(vocals, 22050, seed=7)
    assert np.array_equal(out_a, gen_b.generate(vocals, 22050, seed=7))
    assert not np.array_equal(out_a, gen_a.generate(vocals, 22050, seed=8))  # seed matters
