"""Accompanist and sample_windows wiring: EMA weights, the guidance scale, denormalised decoding,
and overlaps inpainted with the documented crossfade."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_helpers import HOP, SR_CODEC, WINDOW, vocal  # noqa: E402

from samuel_pl.config import SamplingConfig  # noqa: E402
from samuel_pl.diffusion import CosineSchedule, SamplingPlan  # noqa: E402
from samuel_pl.generation import Accompanist, plan_windows, sample_windows  # noqa: E402

LONG = int(2.5 * (WINDOW - 1) * HOP)  # three windows


class GuidanceProbe(nn.Module):
    """Stands in for the EMA network: v = 1 where conditioned, 0 where the condition is dropped,
    so a one-step DDIM returns x0 = sqrt(a) x_T - sqrt(1 - a) * s ~= -s for guidance scale s."""

    def forward(self, x: Tensor, t: Tensor, cond: Tensor, drop_cond: Tensor) -> Tensor:
        return (~drop_cond).to(x.dtype)[:, None, None].expand_as(x)


@pytest.fixture()
def fresh(debug_ckpt: Path) -> Accompanist:
    acc = Accompanist.from_checkpoint(debug_ckpt, device="cpu")

    def online(*args: Any, **kwargs: Any) -> Tensor:
        raise AssertionError("the Accompanist ran the online weights")

    acc.module.model.forward = online  # type: ignore[method-assign]
    return acc


@pytest.mark.parametrize("scale", [2.5, 0.5])
def test_generate_runs_the_ema_network_with_the_guidance_scale(
    fresh: Accompanist, scale: float
) -> None:
    fresh.module.ema.module = GuidanceProbe()
    g = fresh.generate(
        vocal(LONG, SR_CODEC), SR_CODEC, sampler="ddim", steps=1, cfg=scale, return_latent=True
    )
    assert len(g.plan.starts) == 3
    np.testing.assert_allclose(g.latent, -scale, atol=1e-3)


def test_decoding_gets_denormalised_latents(fresh: Accompanist) -> None:
    c = fresh.module.latent_mean.numel()
    mean, std = torch.linspace(-3.0, 3.0, c), torch.linspace(0.5, 2.0, c)
    fresh.module.set_normalization(mean, std)
    seen: list[Tensor] = []
    real = fresh.codec.decode

    def spy(z: Tensor) -> Tensor:
        seen.append(z.detach().clone())
        return real(z)

    fresh.codec.decode = spy  # type: ignore[method-assign]
    g = fresh.generate(
        vocal(SR_CODEC, SR_CODEC), SR_CODEC, sampler="ddim", steps=2, return_latent=True
    )
    expect = g.latent * std.numpy()[:, None] + mean.numpy()[:, None]  # (C, T)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0][0].numpy(), expect, atol=1e-5)


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp", "dpmpp3m", "unipc", "ancestral"])
def test_windows_inpaint_the_overlap_with_the_documented_crossfade(sampler: str) -> None:
    """Window 0's model says x0 = +1, window 1's says -1. The 8 shared frames must come out as
    m * (+1) + (1 - m) * (-1) with m = 1 on the first 4 and 0.5 (1 + cos(pi j / 5)), j = 1..4,
    on the last 4 (the raised-cosine crossfade), whatever the sampler."""
    sched = CosineSchedule(800)
    plan = plan_windows(24, 16, 8, crossfade=4)
    assert plan.starts == (0, 8)
    values = iter([1.0, -1.0])

    def guided(cond_window: Tensor):
        x0 = next(values)

        def model_fn(x: Tensor, t: Tensor) -> Tensor:  # the v whose x0 estimate is x0
            a = sched.alpha_bar(t.double()).to(x.dtype)[:, None, None]
            return (a.sqrt() * x - x0) / (1 - a).sqrt()

        return model_fn

    sampling = SamplingPlan.resolve(SamplingConfig(), sched, sampler=sampler, steps=4)
    out = sample_windows(
        guided, torch.zeros(1, 3, 24), plan, sampling, sched,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    fade = [0.5 * (1 + math.cos(math.pi * j / 5)) for j in range(1, 5)]
    m = torch.tensor([1.0] * 4 + fade)
    expect = torch.cat([torch.ones(8), 2 * m - 1, -torch.ones(8)]).expand(1, 3, 24)
    torch.testing.assert_close(out, expect, atol=1e-4, rtol=0)


class TimeProbe(nn.Module):
    """Records the diffusion time of every call; v = 0."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def forward(self, x: Tensor, t: Tensor, cond: Tensor, drop_cond: Tensor) -> Tensor:
        self.seen.append(float(t[0]))
        return torch.zeros_like(x)


# (spacing asked, grid dpmpp runs, grid ddim runs): auto is log_snr for dpmpp, uniform for ddim
GRIDS = [
    ("uniform", "uniform", "uniform"),
    ("log_snr", "log_snr", "log_snr"),
    ("karras", "karras", "karras"),
    ("auto", "log_snr", "uniform"),
]


@pytest.mark.parametrize(("spacing", "dpmpp_grid", "ddim_grid"), GRIDS, ids=[g[0] for g in GRIDS])
def test_the_spacing_reaches_the_sampler(
    fresh: Accompanist, debug_ckpt: Path, spacing: str, dpmpp_grid: str, ddim_grid: str
) -> None:
    from samuel_pl.baselines.samuel import SamuelGenerator
    from samuel_pl.diffusion import sampling_timesteps

    sched = fresh.module.schedule
    probe = fresh.module.ema.module = TimeProbe()
    one_window = vocal((WINDOW - 1) * HOP, SR_CODEC)
    fresh.generate(one_window, SR_CODEC, sampler="dpmpp", steps=4, spacing=spacing)
    expect = sampling_timesteps(sched, 4, dpmpp_grid).float()
    torch.testing.assert_close(torch.tensor(probe.seen), expect)
    gen = SamuelGenerator(str(debug_ckpt), "ddim", 4, 1.0, spacing=spacing)
    assert gen.name == f"samuel-ddim4-{ddim_grid}-cfg1"
    probe = gen.accompanist.module.ema.module = TimeProbe()
    gen.generate(one_window[0], SR_CODEC, "song")
    torch.testing.assert_close(
        torch.tensor(probe.seen), sampling_timesteps(sched, 4, ddim_grid).float()
    )


def test_stage_callback_times_each_stage_without_changing_the_output(
    debug_ckpt: Path, tmp_path: Path
) -> None:
    """generate_file reports read, encode, sample, decode, write in that order (once each, in
    seconds) to an on_stage callback, and writes the same audio as without one."""
    import soundfile as sf
    from gen_helpers import write_vocal

    from samuel_pl.generation import STAGES

    acc = Accompanist.from_checkpoint(debug_ckpt, device="cpu")
    src = write_vocal(tmp_path / "v.wav", LONG, 44100)
    acc.generate_file(src, tmp_path / "plain.wav", sampler="dpmpp3m", steps=3)
    seen: list[tuple[str, float]] = []
    plan = acc.sampling_plan("dpmpp3m", 3)
    on_stage = lambda stage, seconds: seen.append((stage, seconds))  # noqa: E731
    acc.generate_file(src, tmp_path / "timed.wav", plan=plan, on_stage=on_stage)
    assert [s for s, _ in seen] == list(STAGES) == ["read", "encode", "sample", "decode", "write"]
    assert all(0.0 <= sec < 60.0 for _, sec in seen)
    plain, timed = (sf.read(str(tmp_path / f"{n}.wav"))[0] for n in ("plain", "timed"))
    np.testing.assert_array_equal(plain, timed)


def test_the_checkpoints_sampling_window_is_the_default_window(debug_ckpt: Path) -> None:
    """sampling.window (0: data.crop_frames) sets the window; an explicit window wins. A vocal
    that fits the window is sampled in one pass."""
    from samuel_pl.lit import LitSamuel

    module = LitSamuel.from_checkpoint(debug_ckpt)
    assert module.cfg.sampling.window == 0
    assert Accompanist(module, "cpu").window == WINDOW  # the training crop
    module.cfg.sampling.window = 96
    acc = Accompanist(module, "cpu")
    assert acc.window == 96 and acc.overlap == 24
    assert Accompanist(module, "cpu", window=64).window == 64
    g = acc.generate(vocal(LONG, SR_CODEC), SR_CODEC, steps=1, return_latent=True)
    mult = module.model.time_multiple
    own = -(-g.plan.frames // mult) * mult  # the clip's frames, rounded up to the stride
    # under 96 frames: one pass at the clip's own length, not padded to the window
    assert len(g.plan.starts) == 1 and g.plan.window == own < 96
    assert acc.plan(10).window == WINDOW  # shorter than the training crop: padded to it
    assert acc.plan(200).window == 96 and len(acc.plan(200).starts) > 1
