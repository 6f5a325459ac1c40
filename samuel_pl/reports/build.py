"""Build a report of an MLflow experiment: ``report.md`` (+ ``assets/``) and a self-contained
``report.html``; log both to MLflow."""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.files import write_bytes, write_text
from samuel_pl.plots import mel_spectrograms
from samuel_pl.reports import figures
from samuel_pl.reports.document import (
    Audio,
    Block,
    Bullets,
    Heading,
    Image,
    Para,
    Table,
    to_html,
    to_markdown,
)
from samuel_pl.tracking import client_for, experiment_id, normalise_uri
from samuel_pl.tracking.ranking import aggregate, failed_rows, rank, ranked_rows, varied_keys
from samuel_pl.tracking.run_io import (
    artifact_folders,
    download_artifact,
    finish_run,
    metric_history,
    start_run,
    upload_file,
    upload_folder,
)
from samuel_pl.tracking.runs import KIND, PARENT, RunRecord, load_runs, search


@dataclass
class ReportOptions:
    """What to put in the report."""

    experiment: str
    uri: str = "sqlite:///mlruns.db"
    runs: list[str] | None = None
    metric: str = ""
    mode: str = ""
    columns: list[str] | None = None
    examples: int = 8
    audio_seconds: float = 10.0
    log_to_mlflow: bool = True


def _sweep_parent(client: Any, exp_id: str, runs: list[RunRecord]) -> RunRecord | None:
    parents = {r.tags.get(PARENT) for r in runs}
    if len(parents) != 1 or None in parents:
        return None
    pid = parents.pop()
    found = [r for r in search(client, exp_id) if r.run_id == pid and r.tags.get(KIND) == "sweep"]
    return found[0] if found else None


def _metric_and_mode(
    opts: ReportOptions, runs: list[RunRecord], parent: RunRecord | None
) -> tuple[str, str]:
    metric = opts.metric or (parent.tags.get("sweep.metric", "") if parent else "")
    if not metric:
        present = {m for r in runs for m in r.metrics}
        metric = "eval/fd_mel" if "eval/fd_mel" in present else "val/loss"
    mode = opts.mode or (parent.tags.get("sweep.mode", "") if parent else "") or "min"
    return metric, mode


def _label(run: RunRecord, keys: list[str]) -> str:
    parts = [f"{k.rsplit('.', 1)[-1]}={run.params.get(k, '?')}" for k in keys]
    return ", ".join(parts) or run.name


def _history(client: Any, run: RunRecord, key: str) -> list[tuple[int, float]]:
    return metric_history(client, run.run_id, key) if key in run.metrics else []


def _audio_asset(src: Path, dest: Path, opts: ReportOptions) -> tuple[Path, np.ndarray, int]:
    """A 16-bit mono WAV excerpt of ``src`` (first seconds) for the page; returns it too."""
    import soundfile as sf

    from samuel_pl.audio import read_audio

    seconds = opts.audio_seconds
    audio, sr = read_audio(src, channels=1)  # (1, N), within the default decode limits
    mono = audio[0, : int(seconds * sr)]
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    if peak > 1.0:
        mono = mono / peak
    buf = io.BytesIO()
    sf.write(buf, mono, sr, format="WAV", subtype="PCM_16")
    write_bytes(dest, buf.getvalue())
    return dest, mono, sr


def build_report(opts: ReportOptions, out: Path) -> dict[str, Any]:
    """Write ``out/report.md``, ``out/assets/*`` and ``out/report.html``; return a summary."""
    uri = normalise_uri(opts.uri)
    client = client_for(uri)
    exp_id = experiment_id(client, opts.experiment)
    runs = load_runs(client, exp_id, opts.runs)
    if not runs:
        from samuel_pl.errors import SamuelError

        raise SamuelError(f"experiment '{opts.experiment}' has no runs to report")
    parent = _sweep_parent(client, exp_id, runs)
    metric, mode = _metric_and_mode(opts, runs, parent)
    columns = opts.columns
    if columns is None and parent is not None:
        columns = list(json.loads(parent.tags.get("sweep.columns", "[]")))
    out.mkdir(parents=True, exist_ok=True)
    assets = out / "assets"
    keys = varied_keys(runs)
    label_keys = [k for k in keys if k != "seed"] + (["seed"] if "seed" in keys else [])
    done = [r for r in runs if r.ok]
    ordered = [r for g in rank(aggregate(done, keys, [metric]), metric, mode) for r in g.runs]
    labels = {r.run_id: _label(r, label_keys) for r in runs}
    blocks: list[Block] = [Heading(f"Report: {opts.experiment}", 1)]
    blocks.append(Bullets(_meta(opts, uri, runs, done, metric, mode, parent)))
    blocks += _run_tables(runs, metric, mode, columns)
    with tempfile.TemporaryDirectory() as tmp:
        blocks += _loss_section(client, ordered, labels, assets)
        blocks += _param_section(ordered, keys, metric, assets)
        blocks += _pareto_section(ordered, labels, metric, mode, assets)
        blocks += _mixing_section(client, ordered, labels, assets, Path(tmp))
        blocks += _examples_section(client, ordered, labels, assets, Path(tmp), opts)
    md = write_text(out / "report.md", to_markdown(blocks, out))
    page = write_text(out / "report.html", to_html(blocks, f"Report: {opts.experiment}"))
    summary = {"report_md": str(md), "report_html": str(page), "runs": len(runs), "metric": metric}
    if opts.log_to_mlflow:
        summary["mlflow_run_id"] = _log(client, exp_id, parent, out, opts.experiment)
    return summary


def _meta(
    opts: ReportOptions,
    uri: str,
    runs: list[RunRecord],
    done: list[RunRecord],
    metric: str,
    mode: str,
    parent: RunRecord | None,
) -> list[str]:
    items = [
        f"MLflow: `{uri}`, experiment `{opts.experiment}`"
        + (
            f", sweep `{parent.tags.get('sweep.name')}` (parent run `{parent.run_id}`)"
            if parent
            else ""
        ),
        f"runs: {len(runs)} ({len(done)} completed, {len(runs) - len(done)} failed or unfinished)",
        f"ranked by `{metric}` ({'lower' if mode == 'min' else 'higher'} is better)",
        "intervals: `± h (n=k)` is a 95% t-interval across k seeds; `[lo, hi]` (one seed) is the "
        "run's own 95% interval (bootstrap over the evaluation songs)",
        f"generated {datetime.now():%Y-%m-%d %H:%M} by `python -m samuel_pl.report "
        + " ".join(shlex.quote(a) for a in sys.argv[1:])
        + "`",
    ]
    return items


def _run_tables(
    runs: list[RunRecord], metric: str, mode: str, columns: list[str] | None
) -> list[Block]:
    header, rows = ranked_rows(runs, metric, mode, columns)
    blocks: list[Block] = [Heading("Runs"), Para("Configuration differences only, best first.")]
    blocks.append(Table(header, rows) if rows else Para("No completed runs."))
    fh, frows = failed_rows(runs)
    if frows:
        blocks += [Heading("Failed or unfinished runs", 3), Table(fh, frows)]
    return blocks


def _loss_section(
    client: Any, runs: list[RunRecord], labels: dict[str, str], assets: Path
) -> list[Block]:
    hist = {
        labels[r.run_id]: {k: _history(client, r, k) for k in ("train/loss", "val/loss")}
        for r in runs
    }
    if not any(v for h in hist.values() for v in h.values()):
        return []
    path = figures.loss_curves(hist, assets / "loss_curves.png")
    return [Heading("Loss curves"), Image(path, "train and validation loss per run")]


def _param_section(
    runs: list[RunRecord], keys: list[str], metric: str, assets: Path
) -> list[Block]:
    params = [k for k in keys if k != "seed"]

    def point(r: RunRecord, k: str) -> tuple[str, float, float, float]:
        y = r.metrics[metric]
        lo, hi = r.metrics.get(f"{metric}.low", y), r.metrics.get(f"{metric}.high", y)
        return r.params.get(k, "?"), y, lo, hi

    points = {k: [point(r, k) for r in runs if metric in r.metrics] for k in params}
    points = {k: v for k, v in points.items() if v}
    if not points:
        return []
    path = figures.metric_vs_param(points, metric, assets / "metric_vs_param.png")
    return [
        Heading(f"{metric} vs parameter"),
        Image(path, f"{metric} against each varied parameter"),
        Para(
            "Dots: runs (bars: the run's own 95% interval, e.g. a bootstrap over songs); "
            "squares: the mean per value (over the other parameters and seeds)."
        ),
    ]


def _pareto_section(
    runs: list[RunRecord], labels: dict[str, str], metric: str, mode: str, assets: Path
) -> list[Block]:
    speed = "eval/rtf"
    pts = [
        (labels[r.run_id], r.metrics[speed], r.metrics[metric])
        for r in runs
        if speed in r.metrics and metric in r.metrics
    ]
    if not pts:
        return []
    xlabel = "generation real-time factor (s per audio s; lower is faster)"
    path = figures.pareto(pts, mode, xlabel, metric, assets / "pareto.png")
    front = [pts[i][0] for i in figures.pareto_front(pts, mode)]
    return [
        Heading("Quality vs speed"),
        Image(path, "quality against generation speed with the Pareto front"),
        Para("Pareto front: " + "; ".join(front)),
    ]


def _mixing_curve(client: Any, run: RunRecord, tmp: Path) -> dict[str, Any] | None:
    """The run's logged weights (sweeps), else its checkpoint's, else the configured schedule."""
    from samuel_pl.generation import attention_mixing_weights

    got = download_artifact(client, run.run_id, "mixing/weights.json", tmp / run.run_id)
    if got is not None:
        return dict(json.loads(got.read_text()))
    ckpt = Path(run.tags.get("run_dir", "")) / "checkpoints" / "last.ckpt"
    if run.tags.get("run_dir") and ckpt.is_file():
        try:
            return attention_mixing_weights.from_checkpoint(ckpt)
        except Exception:  # noqa: BLE001 - an unreadable checkpoint: use the config
            pass
    return attention_mixing_weights.from_params(run.params)


def _mixing_section(
    client: Any, runs: list[RunRecord], labels: dict[str, str], assets: Path, tmp: Path
) -> list[Block]:
    curves: dict[str, dict[str, Any]] = {}
    for r in runs:
        data = _mixing_curve(client, r, tmp)
        if data is None:
            continue
        learned = data["schedule"] == "learned"
        name = f"learned ({labels[r.run_id]})" if learned else data["schedule"]
        curves.setdefault(name, data)  # a configured schedule is drawn once
    if not curves:
        return []
    path = figures.mixing(curves, assets / "mixing_weights.png")
    return [
        Heading("Local/global mixing weights over diffusion time"),
        Para(
            "context = w_local(t) * local + w_global(t) * global, from each trained network's "
            "EMA weights (or the configured schedule when no checkpoint is at hand); a configured "
            "schedule is drawn once, a learned gate once per run."
        ),
        Image(path, "mixing weights over the diffusion step"),
    ]


def _example_files(client: Any, run: RunRecord, tmp: Path) -> dict[str, Path]:
    """role -> wav of the run's example: a sweep's ``examples/``, else the fit's last samples."""
    folder = download_artifact(client, run.run_id, "examples", tmp / f"ex-{run.run_id}")
    if folder is None:
        tags = artifact_folders(client, run.run_id, "samples")
        if not tags:
            return {}
        last = max(tags, key=lambda t: (t.split("/")[-1].startswith("final"), t))
        folder = download_artifact(client, run.run_id, last, tmp / f"ex-{run.run_id}")
        if folder is None:
            return {}
    wavs = sorted(folder.glob("*.wav"))
    song = wavs[0].stem.rsplit("_", 1)[0] if wavs else ""
    roles = ("vocals", "generated", "target")
    return {p.stem.rsplit("_", 1)[-1]: p for p in wavs if p.stem in {f"{song}_{r}" for r in roles}}


def _examples_section(
    client: Any,
    runs: list[RunRecord],
    labels: dict[str, str],
    assets: Path,
    tmp: Path,
    opts: ReportOptions,
) -> list[Block]:
    """Audio players and spectrograms of each run's example; an input or reference clip that
    several runs share (same suite) is embedded once."""
    blocks: list[Block] = []
    shown: set[str] = set()
    for i, r in enumerate(runs[: opts.examples]):
        files = _example_files(client, r, tmp)
        if "generated" not in files:
            continue
        if not blocks:
            blocks += [
                Heading("Example generations"),
                Para(f"First {opts.audio_seconds:g} s of the suite's first song, runs best first."),
            ]
        tag = f"run{i + 1}_{r.run_id[:8]}"
        blocks.append(Heading(f"{i + 1}. {labels[r.run_id]} (`{r.run_id[:8]}`)", 3))
        clips: dict[str, np.ndarray] = {}
        sr = 0
        for role in ("vocals", "generated", "target"):
            if role not in files:
                continue
            path, clips[role], sr = _audio_asset(files[role], assets / f"{tag}_{role}.wav", opts)
            if role == "generated":
                blocks.append(Audio(path, "generated accompaniment"))
                continue
            digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
            shared = assets / f"{role}_{digest}.wav"
            path.replace(shared)
            if digest not in shown:
                shown.add(digest)
                blocks.append(
                    Audio(shared, f"{role} (shared by the runs below with the same clip)")
                )
        png = assets / f"{tag}_spectrogram.png"
        spec = mel_spectrograms(clips, sr, png, labels[r.run_id], dpi=72)
        blocks.append(Image(spec, f"log-mel spectrograms, {labels[r.run_id]}"))
    return blocks


def _log(client: Any, exp_id: str, parent: RunRecord | None, out: Path, experiment: str) -> str:
    """Report files as artifacts of the sweep's parent run, else of a new ``report`` run."""
    if parent is not None:
        run_id = parent.run_id
    else:
        name = f"report-{datetime.now():%Y%m%d-%H%M%S}"
        run_id = start_run(client, exp_id, name, tags={KIND: "report"})
        finish_run(client, run_id)
    upload_file(client, run_id, out / "report.md", "report")
    upload_file(client, run_id, out / "report.html", "report")
    upload_folder(client, run_id, out / "assets", "report/assets")
    return str(run_id)
