"""The evaluation suite runner: generators x metrics over a split -> metrics.json and table.md
(MLflow logging of the result: :mod:`samuel_pl.tracking.evaluation_run`).

Protocol (see evaluation/README.md): the reference set is the real accompaniments of the split;
each song contributes one clip of ``clip_seconds`` from its middle; every generator gets the
same vocal clips; generated audio is cached per generator settings so re-runs only score.
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

from samuel_pl.audio import ensure_writable_dir, read_audio, write_audio, write_bytes_atomic
from samuel_pl.baselines import Generator, build_generators
from samuel_pl.baselines.retrieval import TrainSet
from samuel_pl.config.suite import SuiteConfig
from samuel_pl.errors import DataError


def _mean_ci(values: list[float], n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval over songs."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan"), float("nan")
    if arr.size == 1 or n_boot < 2:
        return float(arr.mean()), float(arr.mean()), float(arr.mean())
    rng = np.random.default_rng(seed)
    reps = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    return float(arr.mean()), float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))


def load_clips(suite: SuiteConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(vocals, accompaniments): song id -> mono clip (1, N) at ``suite.sample_rate``."""
    from samuel_pl.data.sources import build_source, data_limits, load_pair

    if suite.data.source == "demo":
        from samuel_pl.data.demo import ensure_demo

        d = suite.data
        ensure_demo(
            d.root, d.demo_songs, d.demo_seed, val_fraction=d.val_fraction,
            test_fraction=d.test_fraction, progress=False,
        )  # fmt: skip
    songs = build_source(suite.data).songs(suite.split)
    if suite.max_songs > 0:
        songs = songs[: suite.max_songs]
    if not songs:
        raise DataError(f"{suite.data.root}: no songs in split '{suite.split}'")
    n = int(round(suite.clip_seconds * suite.sample_rate))
    vocals, accs = {}, {}
    for song in songs:
        d = suite.data
        v, a = load_pair(song, suite.sample_rate, 1, d.max_length_mismatch_s, data_limits(d))
        start = max(0, (v.shape[1] - n) // 2)
        vocals[song.song_id] = v[:, start : start + n]
        accs[song.song_id] = a[:, start : start + n]
    return vocals, accs


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
        write_bytes_atomic(timing, f"{took!r}\n".encode())
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


def _alignment_metrics(
    suite: SuiteConfig, vocals: dict[str, np.ndarray], clips: dict[str, np.ndarray]
) -> dict[str, Any]:
    from samuel_pl.metrics import ALIGNMENT_KEYS, alignment_scores

    per_song = [alignment_scores(vocals[s][0], clips[s][0], suite.sample_rate) for s in vocals]
    return {
        f"align_{k}": _mean_ci([p[k] for p in per_song], suite.bootstrap, suite.seed)
        for k in ALIGNMENT_KEYS
    }


def evaluate(
    suite: SuiteConfig, ckpt: str | None, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Run the suite; write ``out/metrics.json`` and ``out/table.md``; return the results.

    Inputs are read (and ``out`` checked for writing) before anything is written: a bad file
    stops the run with an error naming it and leaves ``out`` untouched.
    """
    ensure_writable_dir(out, "evaluation output folder")
    t0 = time.time()
    vocals, refs = load_clips(suite)
    audio_s = suite.clip_seconds * len(vocals)
    train = partial(TrainSet.from_data, suite.data, suite.sample_rate)  # read by retrieval only
    generators = build_generators(suite.generators, refs, ckpt, suite.seed, train)
    out.mkdir(parents=True, exist_ok=True)  # only now: a bad checkpoint leaves no folder
    gens: dict[str, dict[str, np.ndarray]] = {}
    rows: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    for gen in generators:
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
    if "alignment" in suite.metrics:
        for name, clips in gens.items():
            rows[name].update(_alignment_metrics(suite, vocals, clips))
    notes = {n: rows[n].pop("_notes") for n in list(rows) if rows[n].get("_notes")}
    for n in rows:
        rows[n].pop("_notes", None)
    if "aesthetics" in suite.metrics:
        _aesthetics(suite, gens, rows, unavailable)
    result = _result(suite, ckpt, rows, unavailable, notes, len(vocals), time.time() - t0)
    result["generators"] = [g.name for g in generators]
    _write(out, result)
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
            rows[name][f"aes_{axis}"] = _mean_ci([s[axis] for s in scores], suite.bootstrap, 0)


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


def table_markdown(result: dict[str, Any]) -> str:
    """One row per generator (unavailable ones too, with the reason), one column per metric:
    ``value [low, high]``; ``params`` and ``rtf`` (generation seconds per audio second) first."""
    metric_gens = sorted({k.split("/", 1)[0] for k in result["metrics"]})
    gens = result.get("generators") or metric_gens
    gens = list(dict.fromkeys([*gens, *metric_gens]))
    found = {k.split("/", 1)[1] for k in result["metrics"]}
    cols = ["params", "rtf", *sorted(found - {"params", "rtf"})]
    unavailable = result["unavailable"]
    lines = [
        f"# Evaluation: {result['suite']} ({result['songs']} songs of the {result['split']} "
        f"split, {result['clip_seconds']} s clips)",
        "",
        "| generator | availability | " + " | ".join(cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for g in gens:
        reason = str(unavailable.get(g, "")).replace("|", "/").replace("\n", " ")
        cells = [f"unavailable: {reason}" if g in unavailable else "available"]
        for c in cols:
            key = f"{g}/{c}"
            if key not in result["metrics"]:
                cells.append("")
                continue
            v, (lo, hi) = result["metrics"][key], result["ci95"][key]
            cells.append(f"{v:.4g}" if lo == hi else f"{v:.4g} [{lo:.3g}, {hi:.3g}]")
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    lines += ["", f"- reference set: {result['reference_set']}"]
    lines += ["- FD on the mel embedder is FD-mel (weight-free), not FAD-VGGish"]
    lines += ["- [low, high]: 95% bootstrap interval over songs"]
    lines += ["- params: parameter count; rtf: generation seconds per second of audio"]
    lines += [f"- unavailable: {k}: {v}" for k, v in unavailable.items() if k not in gens]
    lines += [f"- note: {g}: {n}" for g, ns in result["notes"].items() for n in ns]
    return "\n".join(lines) + "\n"


def _atomic_text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _write(out: Path, result: dict[str, Any]) -> None:
    _atomic_text(out / "metrics.json", json.dumps(result, indent=2, default=str) + "\n")
    _atomic_text(out / "table.md", table_markdown(result))
