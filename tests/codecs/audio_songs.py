"""Synthetic songs and fit overrides shared by the waveform-network tests (VAE, vocoder)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SR = 22050


def write_songs(root: Path) -> Path:
    """Three 3-second synthetic songs (folder source): root/<song>/{vocals,accompaniment}.wav."""
    t = np.arange(3 * SR) / SR
    rng = np.random.default_rng(0)
    for i in range(3):
        d = root / f"song{i}"
        d.mkdir()
        f0 = 220.0 * 2 ** (i / 12)
        env = 0.5 + 0.5 * np.sin(2 * math.pi * 1.5 * t)
        voc = 0.3 * env * np.sin(2 * math.pi * f0 * t) + 0.01 * rng.standard_normal(t.size)
        acc = 0.2 * np.sin(2 * math.pi * f0 / 2 * t) + 0.1 * np.sin(2 * math.pi * 1.5 * f0 * t)
        sf.write(d / "vocals.wav", voc.astype(np.float32), SR)
        sf.write(d / "accompaniment.wav", acc.astype(np.float32), SR)
    return root


def fit_overrides(songs: Path, tmp: Path, name: str) -> list[str]:
    """Overrides that point a debug config at the songs, with its cache and run under tmp."""
    return [
        "data.source=folder",
        f"data.root={songs}",
        f"data.cache_dir={tmp / f'{name}_cache'}",
        f"run.dir={tmp / name}",
        "tracking.enabled=false",
    ]


def fit_debug(config: Path, songs: Path, tmp: Path, *extra: str) -> dict[str, Any]:
    """Train ``config`` for 2 batches on the songs through the fit CLI; its summary.json."""
    from samuel_pl.cli.main import main

    args = ["fit", "--config", str(config), *fit_overrides(songs, tmp, "run")]
    assert main([*args, "trainer.max_steps=2", *extra]) == 0
    summary: dict[str, Any] = json.loads((tmp / "run" / "summary.json").read_text())
    assert summary["global_step"] == 2 and np.isfinite(summary["val_metrics"]["val/mrstft"])
    return summary
