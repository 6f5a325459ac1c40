"""Distributed training on CPU (gloo): the CLI under DDP, data sharding, metric sync."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from samuel_pl.config import load_config
from tests.conftest import DEBUG_YAML, REPO


def _crops(loader: torch.utils.data.DataLoader) -> list[tuple[str, int]]:
    return [(s, int(t)) for b in loader for s, t in zip(b["song"], b["start"])]


@pytest.mark.parametrize("world", [2, 3])
def test_datamodule_shards_train_and_val_without_duplicates(
    debug_overrides: list[str], world: int
) -> None:
    from samuel_pl.data.datamodule import SamuelDataModule

    cfg = load_config(DEBUG_YAML, [*debug_overrides, "data.val_crops_per_song=3"])
    shards: dict[str, list[list[tuple[str, int]]]] = {"train": [], "val": []}
    full = {}
    for rank in range(-1, world):
        dm = SamuelDataModule(cfg)
        dm.setup("fit")
        # rank -1: the single-process reference (no trainer attached).
        if rank >= 0:
            dm.trainer = SimpleNamespace(world_size=world, global_rank=rank, current_epoch=0)  # type: ignore[assignment]
        train, val = _crops(dm.train_dataloader()), _crops(dm.val_dataloader())
        if rank < 0:
            full = {"train": train, "val": val}
            continue
        shards["train"].append(train)
        shards["val"].append(val)
    assert len(set(full["train"])) == len(full["train"]) == cfg.data.crops_per_epoch
    for split, parts in shards.items():
        flat = [c for p in parts for c in p]
        assert all(parts), f"{split}: a rank got no data"
        assert len(flat) == len(set(flat)), f"{split}: a crop is on two ranks"
        assert set(flat) <= set(full[split])
    # Val/test: every crop exactly once; train: the tail that does not split evenly is dropped.
    assert sorted(c for p in shards["val"] for c in p) == sorted(full["val"])
    n_train = sum(len(p) for p in shards["train"])
    assert n_train == len(full["train"]) // world * world


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fad(real: torch.Tensor, fake: torch.Tensor, songs: int):
    """The evaluation's FAD metric (what ``evaluation.scores.SuiteMetrics`` builds) holding
    ``real`` as one reference clip and ``fake`` as ``songs`` generated clips."""
    from samuel_pl.metrics.embedders import build_embedder
    from samuel_pl.metrics.fad import FrechetAudioDistance

    metric = FrechetAudioDistance(build_embedder("mel"), n_boot=20, seed=0)
    metric.add_embeddings(preds=list(fake.chunk(songs)), targets=[real])
    return metric


def _fad_worker(rank: int, world: int, port: int, real: torch.Tensor, fake: torch.Tensor) -> None:
    import torch.distributed as dist
    from torchmetrics.utilities.data import dim_zero_cat

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        metric = _fad(real.chunk(world)[rank], fake.chunk(world)[rank], songs=3)
        value = float(metric.compute()["fd_mel"])  # torchmetrics all-gathers the states here
        local_n = len(dim_zero_cat(metric.real_emb))  # compute() restores the local states
        interval = metric.intervals()["fd_mel"]  # songs of every rank, bootstrapped
        with metric.sync_context():
            synced_n = len(dim_zero_cat(metric.real_emb))
        out = Path(os.environ["FAD_OUT"]) / f"rank{rank}.json"
        out.write_text(
            json.dumps({"fad": value, "n": synced_n, "local_n": local_n, "ci": list(interval)})
        )
    finally:
        dist.destroy_process_group()


def test_distributed_fad_equals_single_process(tmp_path: Path, monkeypatch) -> None:
    import torch.multiprocessing as mp

    from samuel_pl.metrics.embedders import build_embedder

    dim = build_embedder("mel").dim
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, dim, generator=g, dtype=torch.float64)
    fake = torch.randn(48, dim, generator=g, dtype=torch.float64) * 1.3 + 0.2
    # one process holding everything: the reference as two clips, the 6 songs of the two ranks
    single = _fad(real, fake, songs=6)
    expected = float(single.compute()["fd_mel"])
    expected_ci = single.intervals()["fd_mel"]
    # Each half alone gives a different distance, so an unsynced compute() fails below.
    half = _fad(real.chunk(2)[0], fake.chunk(2)[0], songs=3)
    assert not math.isclose(float(half.compute()["fd_mel"]), expected, rel_tol=1e-3)
    assert not math.isclose(half.intervals()["fd_mel"][1], expected_ci[1], rel_tol=1e-3)

    monkeypatch.setenv("FAD_OUT", str(tmp_path))
    mp.spawn(_fad_worker, args=(2, _free_port(), real, fake), nprocs=2, join=True)
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert (got["local_n"], got["n"]) == (32, 64)  # each rank holds half; synced: all
        assert math.isclose(got["fad"], expected, rel_tol=1e-6), (rank, got, expected)
        # the same 6 songs (rank order = song order): the same bootstrap replicates
        assert got["ci"] == pytest.approx(list(expected_ci), rel=1e-6), (rank, got)


@pytest.mark.slow
def test_ddp_fit_cli_two_cpu_processes(debug_overrides: list[str], tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    cmd = [
        sys.executable,
        "-m",
        "samuel_pl.fit",
        "--config",
        str(DEBUG_YAML),
        *debug_overrides,
        "trainer.accelerator=cpu",
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "data.val_crops_per_song=2",
        "tracking.log_checkpoints=false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "SAMUEL_RUN_DIR"):
        env.pop(key, None)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Both ranks share the terminal: only rank zero prints the summary.
    assert proc.stdout.count("== fit summary ==") == 1, proc.stdout[-2000:]

    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["global_step"] == 4
    assert summary["world_size"] == 2
    assert math.isfinite(summary["last_train_loss"]) and math.isfinite(summary["last_val_loss"])
    local = [p for p in tmp_path.rglob("summary.json") if "mlartifacts" not in p.parts]
    assert local == [run_dir / "summary.json"]
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts.count("last.ckpt") == 1
    assert len([c for c in ckpts if c.startswith("step")]) == 1, ckpts  # save_top_k=1
    assert not [c for c in ckpts if c.startswith(".") or c.endswith(".tmp")], ckpts
    # No stray run folders from the other rank.
    dirs = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert dirs <= {"cache", "run", "mlartifacts"}, dirs

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    exps = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in exps])
    assert [r.info.run_id for r in runs] == [summary["mlflow_run_id"]]
    assert (
        json.loads((run_dir / "mlflow_run.json").read_text())["run_id"] == summary["mlflow_run_id"]
    )
    assert runs[0].data.metrics["train/loss"] > 0
