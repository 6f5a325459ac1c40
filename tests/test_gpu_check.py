"""The GPU path: benchmarks/gpu_check.py without CUDA, trainer.compile, the FSDP strategy."""

from __future__ import annotations

import os
import subprocess
import sys

from samuel_pl.config import load_config, to_dict
from tests.conftest import DEBUG_YAML, REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.py"
RESULTS = REPO / "benchmarks" / "results"


def test_gpu_check_without_cuda_exits_0_and_writes_nothing() -> None:
    before = {p: p.stat().st_mtime_ns for p in RESULTS.glob("gpu_check.*")}
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device is available" in proc.stdout
    assert "no results written" in proc.stdout
    after = {p: p.stat().st_mtime_ns for p in RESULTS.glob("gpu_check.*")}
    assert after == before


def test_compile_flag_keeps_checkpoint_keys() -> None:
    from samuel_pl.lit import LitSamuel
    from samuel_pl.training import resolve_in_channels
    from samuel_pl.training.trainer import compile_model

    cfg = load_config(DEBUG_YAML, ["trainer.compile=true"])
    assert cfg.trainer.compile is True
    assert load_config(DEBUG_YAML).trainer.compile is False
    module = LitSamuel(to_dict(resolve_in_channels(cfg)))
    keys = list(module.state_dict())
    compile_model(module)
    assert module.model._compiled_call_impl is not None  # forward now goes through the compiler
    assert list(module.state_dict()) == keys
    assert any(k.startswith("ema.module.") for k in keys)


def test_fsdp_strategy_wraps_each_unet() -> None:
    from lightning.pytorch.strategies import FSDPStrategy

    from samuel_pl.nn import SamuelUNet
    from samuel_pl.training.trainer import build_strategy

    assert build_strategy("ddp") == "ddp"
    strategy = build_strategy("fsdp")
    assert isinstance(strategy, FSDPStrategy)
    policy = strategy.kwargs["auto_wrap_policy"]
    assert SamuelUNet in policy._module_classes
    assert strategy.kwargs["use_orig_params"] is True
