"""SamplingPlan: defaults and overrides resolved once, the grid built once, one-line errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from samuel_pl.config import SamplingConfig
from samuel_pl.diffusion import (
    CosineSchedule,
    SamplingError,
    SamplingPlan,
    guidance_allowed,
    sample_ddim,
    sampling_timesteps,
    steps_allowed,
)
from samuel_pl.errors import SamuelError

SCHED = CosineSchedule(800)
DEFAULTS = SamplingConfig(sampler="dpmpp", steps=10, cfg=2.5, eta=0.3, spacing="auto")


def test_defaults_fill_what_is_not_overridden() -> None:
    plan = SamplingPlan.resolve(DEFAULTS, SCHED)
    assert plan.settings() == {"sampler": "dpmpp", "steps": 10, "cfg": 2.5, "spacing": "auto"}
    torch.testing.assert_close(plan.timesteps, sampling_timesteps(SCHED, 10, "log_snr"))
    over = SamplingPlan.resolve(DEFAULTS, SCHED, sampler="ddim", steps=4, cfg=0.0, spacing="karras")
    assert over.settings() == {"sampler": "ddim", "steps": 4, "cfg": 0.0, "spacing": "karras"}
    torch.testing.assert_close(over.timesteps, sampling_timesteps(SCHED, 4, "karras"))
    assert SamplingPlan.resolve(DEFAULTS, SCHED, sampler="", spacing="").sampler == "dpmpp"


def test_ancestral_runs_every_training_step_whatever_steps_says() -> None:
    plan = SamplingPlan.resolve(DEFAULTS, SCHED, sampler="ancestral", steps=3)
    assert plan.steps == 800 == len(plan.timesteps)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"steps": 0}, "steps must be >= 1, got 0"),
        ({"steps": 2.5}, "steps must be >= 1, got 2.5"),
        ({"cfg": math.nan}, "cfg must be a finite number >= 0, got nan"),
        ({"cfg": -1.0}, "cfg must be a finite number >= 0, got -1.0"),
        ({"sampler": "euler"}, "unknown sampler 'euler'; choose one of ancestral"),
        ({"spacing": "cosine"}, "unknown spacing 'cosine'; choose one of auto"),
    ],
)
def test_bad_settings_are_one_line_errors(override: dict, message: str) -> None:
    with pytest.raises(SamplingError, match=message) as err:
        SamplingPlan.resolve(DEFAULTS, SCHED, **override)
    assert isinstance(err.value, SamuelError) and isinstance(err.value, ValueError)
    assert "\n" not in str(err.value)


def test_the_rules_are_the_ones_config_and_cli_ask() -> None:
    assert [steps_allowed(v) for v in (1, 800, 0, -3, True, "4")] == [None] * 2 + [">= 1"] * 4
    assert guidance_allowed(0) is None and guidance_allowed(math.inf) == "a finite number >= 0"


def test_run_is_the_sampler_on_the_plans_grid_with_its_eta() -> None:
    def model_fn(x: Tensor, t: Tensor) -> Tensor:
        return 0.5 * x

    plan = SamplingPlan.resolve(DEFAULTS, SCHED, sampler="ddim", steps=5)
    x_T = torch.randn(1, 2, 8, generator=torch.Generator().manual_seed(0))
    got = plan.run(model_fn, x_T, SCHED, generator=torch.Generator().manual_seed(1))
    ts = sampling_timesteps(SCHED, 5, "uniform")
    want = sample_ddim(
        model_fn, x_T, SCHED, ts, eta=0.3, generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(got, want)
    with pytest.raises(AttributeError):
        plan.cfg = 1.0  # type: ignore[misc]  # frozen
