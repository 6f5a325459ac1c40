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
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from samuel_pl.audio import read_audio, write_audio
from samuel_pl.baselines import Generator, build_generators
from samuel_pl.baselines.retrieval import TrainSet
from samuel_pl.config import ConfigError
from samuel_pl.config.suite import SuiteConfig
from samuel_pl.data.clips import load_clips
from samuel_pl.evaluation.controls import build_controls
from samuel_pl.evaluation.scores import PER_SONG, SongScorer, mean_ci
from samuel_pl.evaluation.table import write_result
from samuel_pl.evaluation.validate import validation
from samuel_pl.files import ensure_writable_dir, write_text

METRICS = ("fd", "efficiency", "aesthetics", *PER_SONG)


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
) -> tuple[dict[str, np.ndarray], float]:
    """Generate (or read back from the cache) every song; return clips and generation seconds."""
    folder = out / "generated" / f"{gen.name}-{_settings_key(gen, suite)}"
    folder.mkdir(parents=True, exist_ok=True)
    clips: dict[str, np.ndarray] = {}
    seconds = 0.0
    for song_id, v in tqdm(vocals.items(), desc=gen.name, disable=not progress, leave=False):
        path, timing = folder / f"{song_id}.wav", folder / f"{song_id}.seconds"
        if path.is_file():
            clips[song_id], _ = read_audio(path, sample_rate=suite.sample_rate, channels=1)
            seconds += float(timing.read_text()) if timing.is_file() else 0.0  # rtf on re-runs
            continue
        t0 = time.perf_counter()
        audio = gen.generate(v, suite.sample_rate, song_id)
        took = time.perf_counter() - t0
        seconds += took
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        write_audio(path, audio, suite.sample_rate, subtype="FLOAT", normalize=None)
        write_text(timing, f"{took!r}\n")
        clips[song_id] = audio if peak <= 1.0 else audio / peak
    return clips, seconds


def _fd_metrics(
    suite: SuiteConfig, refs: dict[str, np.ndarray], gens: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, Any]]:
    from samuel_pl.metrics import bootstrap_fad_ci, build_embedder, fad_inf, gaussian_stats

    out: dict[str, dict[str, Any]] = {name: {} for name in gens}
    for emb_name in suite.embedders:
        kwargs = {}
        if emb_name in suite.embedder_weights:
            kwargs["weights"] = suite.embedder_weights[emb_name]
        embedder = build_embedder(emb_name, **kwargs)
        key = embedder.metric_name.lower().replace("-", "_")
        ref = np.concatenate([embedder.embed(a, suite.sample_rate) for a in refs.values()])
        stats = gaussian_stats(ref)
        for name, clips in gens.items():
            songs = [embedder.embed(clips[s], suite.sample_rate) for s in refs]
            if len(songs) >= 2:
                ci = bootstrap_fad_ci(stats, songs, n_boot=suite.bootstrap, seed=suite.seed)
                out[name][key] = (ci.fad, ci.low, ci.high)
            else:
                from samuel_pl.metrics import fad_from_embeddings

                out[name][key] = (fad_from_embeddings(stats, songs[0]),) * 3
            pooled = np.concatenate(songs)
            notes = out[name].setdefault("_notes", [])
            if min(len(pooled), len(ref)) <= embedder.dim:
                notes.append(
                    f"{key}: {len(pooled)} generated / {len(ref)} reference embeddings for "
                    f"D={embedder.dim}: covariances are singular, compare values only within "
                    "this suite"
                )
            if len(pooled) >= 4 * (embedder.dim + 1):
                res = fad_inf(stats, pooled, min_n=2 * (embedder.dim + 1), seed=suite.seed)
                out[name][f"{key}_inf"] = (res.fad_inf,) * 3
            else:
                notes.append(f"{key}_inf: needs >= {4 * (embedder.dim + 1)} embeddings")
    return out


def evaluate(
    suite: SuiteConfig, ckpt: str | None, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Run the suite; write ``out/metrics.json`` and ``out/table.md``; return the results.

    Inputs are read (and ``out`` checked for writing) before anything is written: a bad file
    stops the run with an error naming it and leaves ``out`` untouched.
    """
    unknown = sorted(set(suite.metrics) - set(METRICS))
    if unknown:
        raise ConfigError(f"suite metrics: unknown {unknown}; choose from {list(METRICS)}")
    ensure_writable_dir(out, "evaluation output folder")
    t0 = time.time()
    vocals, refs = load_clips(suite)
    audio_s = suite.clip_seconds * len(vocals)
    train = partial(TrainSet.from_data, suite.data, suite.sample_rate)  # read by retrieval only
    generators = build_generators(suite.generators, refs, ckpt, suite.seed, train)
    scorer = SongScorer(vocals, suite.sample_rate, suite.metrics)
    controls, roles = [], {}
    if suite.controls:
        key_of = lambda song: scorer.vocal_analysis(song).key()  # noqa: E731
        controls, roles = build_controls(refs, key_of, suite.seed, generators)
    out.mkdir(parents=True, exist_ok=True)  # only now: a bad checkpoint leaves no folder
    gens: dict[str, dict[str, np.ndarray]] = {}
    rows: dict[str, dict[str, Any]] = {}
    per_song: dict[str, dict[str, list[float]]] = {}
    unavailable: dict[str, str] = {}
    for gen in [*generators, *controls]:
        ok, reason = gen.available()
        if not ok:
            unavailable[gen.name] = reason
            continue
        clips, seconds = generate_all(gen, vocals, suite, out, progress)
        gens[gen.name] = clips
        rows[gen.name] = {}
        if "efficiency" in suite.metrics and gen.parameters:
            rows[gen.name]["params"] = (float(gen.parameters),) * 3
            if seconds > 0:
                rows[gen.name]["rtf"] = (seconds / audio_s,) * 3
    if "fd" in suite.metrics:
        for name, vals in _fd_metrics(suite, refs, gens).items():
            rows[name].update(vals)
    for name, clips in tqdm(gens.items(), desc="scoring", disable=not progress, leave=False):
        per_song[name] = scorer.score(clips)
        for metric, values in per_song[name].items():
            rows[name][metric] = mean_ci(values, suite.bootstrap, suite.seed)
            undefined = sum(not np.isfinite(v) for v in values)
            if undefined:
                rows[name].setdefault("_notes", []).append(
                    f"{metric}: undefined for {undefined} of {len(values)} songs (left out)"
                )
    notes = {n: rows[n].pop("_notes") for n in list(rows) if rows[n].get("_notes")}
    for n in rows:
        rows[n].pop("_notes", None)
    if "aesthetics" in suite.metrics:
        _aesthetics(suite, gens, rows, unavailable)
    result = _result(suite, ckpt, rows, unavailable, notes, len(vocals), time.time() - t0)
    result["generators"] = [g.name for g in generators]
    result["controls"] = [g.name for g in controls]
    result["roles"] = roles
    result["song_ids"] = list(vocals)
    result["per_song"] = per_song
    if roles and roles["ground_truth"] in per_song:
        result["validation"] = validation(per_song, roles)
    write_result(out, result)
    return result


def _aesthetics(
    suite: SuiteConfig,
    gens: dict[str, dict[str, np.ndarray]],
    rows: dict[str, dict[str, Any]],
    unavailable: dict[str, str],
) -> None:
    from samuel_pl.metrics import AXES, AestheticsScorer

    scorer = AestheticsScorer(suite.aesthetics_checkpoint or None)
    if not scorer.available:
        unavailable["aesthetics"] = scorer.reason
        return
    for name, clips in gens.items():
        scores = [scorer.score(c, suite.sample_rate) for c in clips.values()]
        for axis in AXES:
            rows[name][f"aes_{axis}"] = mean_ci([s[axis] for s in scores], suite.bootstrap, 0)


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
