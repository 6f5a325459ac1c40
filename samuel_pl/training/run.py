"""Run folder, resume and the MLflow logger shared by every training job.

Both jobs (diffusion: :mod:`samuel_pl.training.fit_diffusion`, audio VAE:
:mod:`samuel_pl.training.fit_audio`) follow the same conventions: ``runs/<name>-<timestamp>/``
with config.yaml, checkpoints/ (atomic writes, stale temporaries removed), mlflow_run.json and
summary.json; ``resume=auto`` continues the newest run of the same name in the same MLflow run;
only global rank zero writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from samuel_pl.config import ConfigError, FitConfig, to_yaml
from samuel_pl.files import ensure_writable_dir, write_text
from samuel_pl.tracking import git_commit, make_logger, read_run_id, write_run_id
from samuel_pl.tracking.mlflow_logger import resolve_tracking_uri
from samuel_pl.training.checkpoint_io import remove_stale_temps

RUN_DIR_ENV = "SAMUEL_RUN_DIR"
RESUME_ENV = "SAMUEL_RESUME_CKPT"
_RANK_KEYS = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


@contextmanager
def temporary_env(values: dict[str, str]) -> Iterator[None]:
    """Environment variables set for the block (and the processes started in it), then
    restored: unset again where they were unset before."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _latest_run_dir(name: str, root: Path = Path("runs")) -> Path | None:
    candidates = sorted(
        (p for p in root.glob(f"{name}-*") if (p / "checkpoints" / "last.ckpt").is_file()),
        key=lambda p: (p / "checkpoints" / "last.ckpt").stat().st_mtime,
    )
    return candidates[-1] if candidates else None


def resolve_run(cfg: FitConfig) -> tuple[Path, str | None]:
    """(run folder, checkpoint to resume from or None) for ``run.dir`` and ``resume``."""
    run_dir = Path(cfg.run.dir) if cfg.run.dir else None
    if cfg.resume == "auto":
        if run_dir is None:
            run_dir = _latest_run_dir(cfg.run.name)
        if run_dir is not None and (run_dir / "checkpoints" / "last.ckpt").is_file():
            return run_dir, str(run_dir / "checkpoints" / "last.ckpt")
    elif cfg.resume:
        ckpt = Path(cfg.resume)
        if not ckpt.is_file():
            raise ConfigError(f"resume={cfg.resume}: checkpoint not found")
        return (run_dir or ckpt.resolve().parent.parent), str(ckpt)
    if run_dir is None:
        run_dir = Path("runs") / f"{cfg.run.name}-{datetime.now():%Y%m%d-%H%M%S}"
    return run_dir, None


def is_rank_zero() -> bool:
    """Whether this process is (or will be) global rank zero, from the launcher's environment.

    Works before the Trainer exists: torchrun sets RANK, SLURM's srun SLURM_PROCID, and
    Lightning's own launcher LOCAL_RANK / NODE_RANK on the processes it starts.
    """
    for key in _RANK_KEYS:
        try:
            if int(os.environ.get(key) or 0) != 0:
                return False
        except ValueError:
            continue
    return True


def shared_run(cfg: FitConfig, rank_zero: bool) -> tuple[Path, str | None]:
    """(run folder, resume checkpoint): rank zero resolves them, other ranks reuse its choice."""
    if not rank_zero and os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV]), os.environ.get(RESUME_ENV) or None
    return resolve_run(cfg)


def prepare_run_dir(cfg: FitConfig, run_dir: Path, tracking: bool) -> str:
    """Rank zero, before any work: check the folder is writable, resolve the tracking URI (an
    unreachable server fails or falls back now), drop cut-short checkpoint temporaries and
    write config.yaml. Returns the tracking URI to use ("" when not tracking)."""
    ensure_writable_dir(run_dir, "run folder")
    uri = resolve_tracking_uri(cfg.tracking.uri, cfg.tracking.fallback, run_dir) if tracking else ""
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temps(run_dir / "checkpoints"):
        print(f"removed {stale.name} (a checkpoint save cut short by a killed run)")
    write_text(run_dir / "config.yaml", to_yaml(cfg))
    return uri


def run_logger(
    cfg: FitConfig,
    run_dir: Path,
    uri: str,
    rank_zero: bool,
    resuming: bool,
    tags: dict[str, str],
) -> Any:
    """MLflow logger of the run: rank zero creates (or, resuming, continues) the MLflow run and
    records it in mlflow_run.json; other ranks get Lightning's rank-zero-guarded logger."""
    if not rank_zero:
        return make_logger(uri, cfg.tracking.experiment, run_dir.name)
    run_id = read_run_id(run_dir, uri) if resuming else None
    tags = {"git_commit": git_commit(), "run_dir": str(run_dir.resolve()), **tags}
    logger = make_logger(uri, cfg.tracking.experiment, run_dir.name, run_id, tags, run_dir)
    write_run_id(run_dir, logger.run_id, uri, logger.name)
    return logger
