"""Samplers: oracle denoiser returns x0; 1-D Gaussian mixture with its exact posterior mean."""

from __future__ import annotations

import math

import pytest
import torch

from samuel_pl.diffusion.samplers import SAMPLERS, get_sampler, sampling_timesteps
from samuel_pl.diffusion.schedule import CosineSchedule

SCHED = CosineSchedule(800)
W = torch.tensor([0.3, 0.7], dtype=torch.float64)
MU = torch.tensor([-2.0, 1.5], dtype=torch.float64)
SD = torch.tensor([0.4, 0.6], dtype=torch.float64)


def _a(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return SCHED.alpha_bar(t.double()).to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def oracle(x0: torch.Tensor):
    """v that gives back x0 exactly: v = (sqrt(a) x_t - x0) / sqrt(1 - a)."""

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = _a(t, x)
        return (a.sqrt() * x - x0) / (1 - a).sqrt()

    return model_fn


def mixture_model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Exact v from E[x0 | x_t] for the 1-D mixture sum_k W_k N(MU_k, SD_k^2)."""
    a = _a(t, x)
    sa = a.sqrt()
    var = a * SD**2 + (1 - a)  # (B, K) marginal variance of x_t per component
    logp = torch.log(W) - 0.5 * torch.log(2 * math.pi * var) - (x - sa * MU) ** 2 / (2 * var)
    r = logp.softmax(dim=-1)  # (B, K) responsibilities
    post = MU + sa * SD**2 / var * (x - sa * MU)  # (B, K) component posterior means
    x0_hat = (r * post).sum(-1, keepdim=True)  # (B, 1)
    return (sa * x - x0_hat) / (1 - a).sqrt()


@pytest.mark.parametrize(("name", "steps"), [("ddim", 10), ("dpmpp", 10), ("ancestral", 0)])
def test_oracle_denoiser_returns_x0(name: str, steps: int) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 3, 8, dtype=torch.float64, generator=g)
    x_T = torch.randn(2, 3, 8, dtype=torch.float64, generator=g)
    out = get_sampler(name)(oracle(x0), x_T, SCHED, steps, generator=g)
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("name", "steps", "kw"),
    [
        ("ddim", 50, {}),
        ("ddim", 50, {"eta": 1.0}),
        ("dpmpp", 20, {}),
        ("dpmpp", 20, {"spacing": "log_snr"}),
        ("ancestral", 0, {}),
    ],
)
def test_gaussian_mixture_moments(name: str, steps: int, kw: dict) -> None:
    n = 4000
    g = torch.Generator().manual_seed(1)
    x_T = torch.randn(n, 1, dtype=torch.float64, generator=g)
    out = get_sampler(name)(mixture_model_fn, x_T, SCHED, steps, generator=g, **kw)
    mean = float((W * MU).sum())
    var = float((W * (SD**2 + MU**2)).sum()) - mean**2
    assert abs(out.mean().item() - mean) < 4 * math.sqrt(var / n)
    assert abs(out.var().item() / var - 1) < 0.08
    frac_left = (out < 0).double().mean().item()  # mass of the left mode ~ its weight
    assert abs(frac_left - 0.3) < 0.04


def test_callback_and_registry() -> None:
    calls: list[tuple[int, int]] = []
    x0 = torch.zeros(1, 1, 4, dtype=torch.float64)
    get_sampler("dpmpp")(
        oracle(x0),
        torch.randn(1, 1, 4).double(),
        SCHED,
        7,
        callback=lambda i, n, x: calls.append((i, n)),
    )
    assert calls == [(i, 7) for i in range(7)]
    assert set(SAMPLERS) == {"ancestral", "ddim", "dpmpp"}
    with pytest.raises(ValueError, match="dpmpp"):
        get_sampler("euler")


def test_timesteps_span_and_decrease() -> None:
    for spacing in ("uniform", "log_snr"):
        ts = sampling_timesteps(SCHED, 12, spacing)
        assert ts[0] == 799 and ts[-1] == 0 and (ts[1:] < ts[:-1]).all()
