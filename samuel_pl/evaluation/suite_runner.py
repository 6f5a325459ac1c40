"""The evaluation suite runner: generators x metrics over a split -> metrics.json and table.md
(MLflow logging of the result: :mod:`samuel_pl.tracking.evaluation_run`).

Protocol (see evaluation/README.md): the reference set is the real accompaniments of the split;
each song contributes one clip of ``clip_seconds`` from its middle; every generator gets the
same vocal clips; generated audio is cached per generator settings so re-runs only score. With
``controls`` on, control rows (``samuel_pl.evaluation.controls``) are scored beside the
generators and every per-song metric is validated against them.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from samuel_pl.audio import read_audio, write_audio
from samuel_pl.baselines import Generator, build_generators
from samuel_pl.baselines.codec import round_trips_for
from samuel_pl.baselines.retrieval import TrainSet
from samuel_pl.config import ConfigError
from samuel_pl.config.suite import SuiteConfig
from samuel_pl.data.clips import load_clips
from samuel_pl.evaluation.controls import build_controls
from samuel_pl.evaluation.example_clips import write_examples
from samuel_pl.evaluation.metric_validity import validation
from samuel_pl.evaluation.scores import FAMILIES, SuiteMetrics
from samuel_pl.evaluation.table import write_result
from samuel_pl.files import ensure_writable_dir, write_text
from samuel_pl.metrics import measure_generation


def _settings_key(gen: Generator, suite: SuiteConfig) -> str:
    desc = {
        "generator": getattr(gen, "cache_key", gen.name),
        "clip_seconds": suite.clip_seconds,
        "sample_rate": suite.sample_rate,
        "seed": suite.seed,
        "data": asdict(suite.data),
        "split": suite.split,
    }
    return hashlib.sha1(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()[:12]


def generate_all(
    gen: Generator, vocals: dict[str, np.ndarray], suite: SuiteConfig, out: Path, progress: bool
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Generate (or read back from the cache) every song; return the clips and the generation
    wall seconds of each (as measured when it was generated; 0 when unknown)."""
    folder = out / "generated" / f"{gen.name}-{_settings_key(gen, suite)}"
    folder.mkdir(parents=True, exist_ok=True)
    clips: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for song_id, v in tqdm(vocals.items(), desc=gen.name, disable=not progress, leave=False):
        path, timing = folder / f"{song_id}.wav", folder / f"{song_id}.seconds"
        if path.is_file():
            clips[song_id], _ = read_audio(path, sample_rate=suite.sample_rate, channels=1)
            seconds[song_id] = float(timing.read_text()) if timing.is_file() else 0.0
            continue
        made: list[np.ndarray] = []
        call = partial(gen.generate, v, suite.sample_rate, song_id)
        took = measure_generation(
            lambda made=made, call=call: made.append(call()), audio_seconds=suite.clip_seconds
        )["seconds"]
        audio = made[0]
        seconds[song_id] = took
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        write_audio(path, audio, suite.sample_rate, subtype="FLOAT", normalize=None)
        write_text(timing, f"{took!r}\n")
        clips[song_id] = audio if peak <= 1.0 else audio / peak
    return clips, seconds


def evaluate(
    suite: SuiteConfig, ckpt: str | None, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Run the suite; write ``out/metrics.json`` and ``out/table.md``; return the results.

    Inputs are read (and ``out`` checked for writing) before anything is written: a bad file
    stops the run with an error naming it and leaves ``out`` untouched.
    """
    unknown = sorted(set(suite.metrics) - set(FAMILIES))
    if unknown:
        raise ConfigError(f"suite metrics: unknown {unknown}; choose from {list(FAMILIES)}")
    ensure_writable_dir(out, "evaluation output folder")
    t0 = time.time()
    vocals, refs = load_clips(suite)
    train = partial(TrainSet.from_data, suite.data, suite.sample_rate)  # read by retrieval only
    generators = build_generators(suite.generators, refs, ckpt, suite.seed, train)
    generators += round_trips_for(refs, generators)  # the ceiling of each SAMUeL row's codec
    metrics = SuiteMetrics(suite, vocals)
    controls, roles = [], {}
    if suite.controls:
        controls, roles = build_controls(refs, metrics.vocal_key, suite.seed, generators)
    out.mkdir(parents=True, exist_ok=True)  # only now: a bad checkpoint leaves no folder
    rows: dict[str, dict[str, Any]] = {}
    per_song: dict[str, dict[str, list[float]]] = {}
    notes: dict[str, list[str]] = {}
    unavailable: dict[str, str] = {}
    scored = []
    for gen in [*generators, *controls]:
        ok, reason = gen.available()
        if not ok:
            unavailable[gen.name] = reason
            continue
        clips, seconds = generate_all(gen, vocals, suite, out, progress)
        scored.append((gen, clips, seconds))
    for gen, clips, seconds in tqdm(scored, desc="scoring", disable=not progress, leave=False):
        row = metrics.score(clips, refs, seconds, gen.parameters)
        rows[gen.name], per_song[gen.name] = row.values, row.per_song
        if row.notes:
            notes[gen.name] = row.notes
    unavailable.update(metrics.unavailable)
    shown = {g.name: clips for g, clips, _ in scored if g not in controls}
    examples = write_examples(out, vocals, refs, shown, suite.sample_rate) if shown else []
    result = _result(suite, ckpt, rows, unavailable, notes, len(vocals), time.time() - t0)
    result["generators"] = [g.name for g in generators]
    result["controls"] = [g.name for g in controls]
    result["roles"] = roles
    result["song_ids"] = list(vocals)
    result["per_song"] = per_song
    result["examples"] = examples
    if roles and roles["ground_truth"] in per_song:
        result["validation"] = validation(per_song, roles)
    write_result(out, result)
    return result


def _result(
    suite: SuiteConfig,
    ckpt: str | None,
    rows: dict[str, dict[str, Any]],
    unavailable: dict[str, str],
    notes: dict[str, list[str]],
    n_songs: int,
    seconds: float,
) -> dict[str, Any]:
    metrics = {f"{g}/{m}": v[0] for g, vals in rows.items() for m, v in vals.items()}
    ci = {f"{g}/{m}": [v[1], v[2]] for g, vals in rows.items() for m, v in vals.items()}
    for name, value in metrics.items():  # JSON has no NaN / inf: null, and the reason here
        if not math.isfinite(value):
            g, m = name.split("/", 1)
            why = "no clip gave a defined score" if math.isnan(value) else "infinite"
            notes.setdefault(g, []).append(f"{m}: null ({why})")
    return {
        "suite": suite.name,
        "checkpoint": ckpt,
        "split": suite.split,
        "songs": n_songs,
        "clip_seconds": suite.clip_seconds,
        "reference_set": f"real accompaniments of the {suite.split} split",
        "embedders": suite.embedders,
        "metrics": metrics,
        "ci95": ci,
        "unavailable": unavailable,
        "notes": notes,
        "wall_time_s": round(seconds, 1),
    }
