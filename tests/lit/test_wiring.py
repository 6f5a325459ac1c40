"""LitSamuel's wiring: EMA weights validate and sample and move once per optimiser step, CFG
dropout reaches the network at the configured rate, the guidance scale reaches the sampler,
latents are (de)normalised, and a crop longer than the RoPE tables trains."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from samuel_pl.cli.main import main
from samuel_pl.config import load_config
from samuel_pl.lit import LitSamuel
from samuel_pl.training import resolve_in_channels
from tests.conftest import DEBUG_YAML

C, T = 16, 32  # the debug config: 16 mel channels, 32-frame crops

warnings.filterwarnings("ignore", message=r".*self.log\(\)` but the `self.trainer`.*")


def _module(*overrides: str) -> LitSamuel:
    torch.manual_seed(0)
    return LitSamuel(resolve_in_channels(load_config(DEBUG_YAML, list(overrides))))


def _batch(b: int, seed: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "vocals": torch.randn(b, C, T, generator=g),
        "accompaniment": torch.randn(b, C, T, generator=g),
    }


def _forbid(net: nn.Module, what: str) -> None:
    def forward(*args: Any, **kwargs: Any) -> Tensor:
        raise AssertionError(f"{what} ran the online weights")

    net.forward = forward  # type: ignore[method-assign]


def _count(net: nn.Module) -> list[int]:
    calls = [0]
    real = net.forward

    def forward(*args: Any, **kwargs: Any) -> Tensor:
        calls[0] += 1
        return real(*args, **kwargs)

    net.forward = forward  # type: ignore[method-assign]
    return calls


class GuidanceProbe(nn.Module):
    """Stands in for the EMA network: v = 1 where conditioned, 0 where the condition is dropped,
    so a one-step DDIM returns x0 = sqrt(a) x_T - sqrt(1 - a) * s ~= -s for guidance scale s."""

    def forward(self, x: Tensor, t: Tensor, cond: Tensor, drop_cond: Tensor) -> Tensor:
        return (~drop_cond).to(x.dtype)[:, None, None].expand_as(x)


def test_validation_uses_the_ema_weights() -> None:
    import lightning.pytorch as pl

    module = _module()
    _forbid(module.model, "validation")
    calls = _count(module.ema.module)
    loader = DataLoader([{k: v[0] for k, v in _batch(1).items()}] * 4, batch_size=2)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.validate(module, loader, verbose=False)
    assert calls[0] == 2 and torch.isfinite(trainer.callback_metrics["val/loss"])


def test_sample_uses_ema_guidance_scale_and_denormalises() -> None:
    module = _module()
    _forbid(module.model, "sample()")
    module.ema.module = GuidanceProbe()
    mean, std = torch.linspace(-3, 3, C), torch.linspace(0.5, 2.0, C)
    module.set_normalization(mean, std)
    vocals = torch.randn(2, C, T)
    kw: dict[str, Any] = {"sampler": "ddim", "steps": 1, "generator": torch.Generator()}
    z = module.sample(vocals, cfg=2.5, normalized=True, **kw)
    torch.testing.assert_close(z, torch.full_like(z, -2.5), atol=1e-3, rtol=0)
    codec_scale = module.sample(vocals, cfg=2.5, **kw)
    expect = (-2.5 * std[:, None] + mean[:, None]).expand_as(codec_scale)
    torch.testing.assert_close(codec_scale, expect, atol=5e-3, rtol=0)


def test_cfg_dropout_reaches_the_network_at_the_configured_rate() -> None:
    module = _module("diffusion.cond_drop_prob=0.25")
    seen: list[Tensor] = []
    real = module.model.forward

    def spy(x: Tensor, t: Tensor, cond: Tensor, drop_cond: Tensor | None = None) -> Tensor:
        seen.append(
            drop_cond.clone() if drop_cond is not None else torch.zeros(len(x), dtype=torch.bool)
        )
        return real(x, t, cond, drop_cond=drop_cond)

    module.model.forward = spy  # type: ignore[method-assign]
    module.training_step(_batch(600), 0)
    rate = torch.cat(seen).double().mean().item()
    assert abs(rate - 0.25) < 4 * (0.25 * 0.75 / 600) ** 0.5, rate


class _Latents(torch.utils.data.Dataset):
    def __init__(self, n: int, nan_at: int | None = None) -> None:
        self.n, self.nan_at = n, nan_at

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        item = {k: v[0] for k, v in _batch(1, seed=i).items()}
        if i == self.nan_at:
            item["accompaniment"][0, 0] = float("nan")
        return item


def _train(module: LitSamuel, batches: int, accumulate: int = 1, nan_at: int | None = None) -> Any:
    import lightning.pytorch as pl

    trainer = pl.Trainer(
        max_steps=batches // accumulate,
        accumulate_grad_batches=accumulate,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, DataLoader(_Latents(2 * batches, nan_at), batch_size=2))
    return trainer


def test_ema_moves_once_per_optimiser_step() -> None:
    module = _module("diffusion.ema_warmup=false", "diffusion.ema_decay=0.5")
    init = [p.detach().clone() for p in module.ema.module.parameters()]
    trainer = _train(module, batches=6, accumulate=2)
    assert trainer.global_step == 3
    assert int(module.ema.num_updates) == 3  # not once per micro-batch
    ema = list(module.ema.module.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(ema, init)), "the EMA weights never moved"
    online = list(module.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(ema, online))


def test_ema_skips_a_step_dropped_as_non_finite() -> None:
    module = _module("trainer.nonfinite=skip")
    trainer = _train(module, batches=4, nan_at=3)  # sample 3 is in the second batch
    assert module.nonfinite_skipped == 1
    assert int(module.ema.num_updates) == trainer.global_step - 1 == 3


def test_a_crop_longer_than_the_rope_tables_trains(
    debug_overrides: list[str], tmp_path: Path
) -> None:
    """2048 frames > the 1024-frame RoPE tables: the online copy grows them, the EMA update must
    not trip over the size difference."""
    quick = ["tracking.enabled=false", "callbacks.num_sample_songs=0", "trainer.max_steps=2"]
    long = ["data.crop_frames=2048", "data.batch_size=2", "data.val_crops_per_song=1"]
    assert main(["fit", "--config", str(DEBUG_YAML), *debug_overrides, *quick, *long]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["global_step"] == 2


def test_guidance_probe_reads_the_scale() -> None:
    """The probe itself: scales 0 and 1 give 0 and -1 (so the -2.5 above is the scale)."""
    module = _module()
    module.ema.module = GuidanceProbe()
    for scale in (0.0, 1.0):
        z = module.sample(torch.randn(1, C, T), cfg=scale, sampler="ddim", steps=1, normalized=True)
        torch.testing.assert_close(z, torch.full_like(z, -scale), atol=1e-3, rtol=0)


def test_sample_uses_the_configured_or_given_spacing() -> None:
    from samuel_pl.diffusion import sampling_timesteps

    seen: list[float] = []

    class TimeProbe(nn.Module):
        def forward(self, x: Tensor, t: Tensor, cond: Tensor, drop_cond: Tensor) -> Tensor:
            seen.append(float(t[0]))
            return torch.zeros_like(x)

    module = _module("sampling.spacing=karras", "sampling.cfg=1")
    module.ema.module = TimeProbe()
    cases = [
        ("ddim", None, "karras"),
        ("ddim", "uniform", "uniform"),
        ("ddim", "log_snr", "log_snr"),
        ("ddim", "auto", "uniform"),
        ("dpmpp", "auto", "log_snr"),
    ]
    for sampler, given, used in cases:
        seen.clear()
        module.sample(torch.randn(1, C, T), sampler=sampler, steps=5, spacing=given)
        expect = sampling_timesteps(module.schedule, 5, used).float()
        torch.testing.assert_close(torch.tensor(seen), expect)
