"""Samplers as free functions with one signature (k-diffusion style).

``sample_xxx(model_fn, x_T, schedule, steps, *, callback=None, generator=None, **kw) -> x0``
where ``model_fn(x (B,C,T), t (B,) float step units) -> v``; guidance is bound by a wrapper
(:class:`~samuel_pl.diffusion.guidance.CFGDenoiser`). x_t is never clamped. ``callback`` gets
``(step_index, total, x)`` after every step. The fast samplers evaluate the model ``steps`` times
at ``t_0 = T-1 > ... > t_{steps-1} = 0`` and end on the last x0 prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from samuel_pl.diffusion.objective import x0_from_v
from samuel_pl.diffusion.schedule import CosineSchedule

ModelFn = Callable[[Tensor, Tensor], Tensor]
StepCallback = Callable[[int, int, Tensor], None]


class Sampler(Protocol):
    def __call__(
        self,
        model_fn: ModelFn,
        x_T: Tensor,
        schedule: CosineSchedule,
        steps: int,
        *,
        callback: StepCallback | None = None,
        generator: torch.Generator | None = None,
        **kw: Any,
    ) -> Tensor: ...


def sampling_timesteps(schedule: CosineSchedule, steps: int, spacing: str = "uniform") -> Tensor:
    """Decreasing float64 times (steps,) from T-1 to 0: uniform in t or uniform in log-SNR."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    last = float(schedule.train_steps - 1)
    if steps == 1:
        return torch.tensor([last], dtype=torch.float64)
    if spacing == "uniform":
        return torch.linspace(last, 0.0, steps, dtype=torch.float64)
    if spacing == "log_snr":
        lam = schedule.log_snr(torch.tensor([last, 0.0], dtype=torch.float64))
        ts = schedule.t_from_log_snr(torch.linspace(float(lam[0]), float(lam[1]), steps))
        ts[0], ts[-1] = last, 0.0
        return ts
    raise ValueError(f"unknown spacing {spacing!r} (uniform | log_snr)")


def _x0_hat(model_fn: ModelFn, x: Tensor, t: float, schedule: CosineSchedule) -> Tensor:
    tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.float32)  # (B,)
    v = model_fn(x, tt).to(x.dtype)
    a = schedule.alpha_bar(torch.tensor([t], dtype=torch.float64)).to(x.device, x.dtype)
    return x0_from_v(x, v, a.expand(x.shape[0]))


def _randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)


@torch.no_grad()
def sample_ancestral(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    steps: int = 0,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
    **kw: Any,
) -> Tensor:
    """The paper's ancestral DDPM sampler over ALL ``train_steps`` (``steps`` is ignored).

    x_{t-1} ~ q(x_{t-1} | x_t, x0_hat): mean = c0 x0_hat + ct x_t, var = beta_t (1-a_{t-1})/(1-a_t).
    """
    n = schedule.train_steps
    ab = schedule.alphas_cumprod  # (n,) float64
    betas = schedule.betas
    x = x_T
    for k, i in enumerate(range(n - 1, -1, -1)):
        x0 = _x0_hat(model_fn, x, float(i), schedule)
        if i == 0:
            x = x0
        else:
            a_t, a_prev, beta = float(ab[i]), float(ab[i - 1]), float(betas[i])
            c0 = a_prev**0.5 * beta / (1.0 - a_t)
            ct = (1.0 - beta) ** 0.5 * (1.0 - a_prev) / (1.0 - a_t)
            var = beta * (1.0 - a_prev) / (1.0 - a_t)
            x = c0 * x0 + ct * x + var**0.5 * _randn_like(x, generator)
        if callback is not None:
            callback(k, n, x)
    return x


@torch.no_grad()
def sample_ddim(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    steps: int = 50,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
    eta: float = 0.0,
    spacing: str = "uniform",
    **kw: Any,
) -> Tensor:
    """DDIM (Song et al. 2021) with stochasticity ``eta`` (0: deterministic, 1: DDPM-like)."""
    ts = sampling_timesteps(schedule, steps, spacing)
    ab = schedule.alpha_bar(ts)  # (steps,) float64
    x = x_T
    for k in range(steps):
        a_t = float(ab[k])
        x0 = _x0_hat(model_fn, x, float(ts[k]), schedule)
        if k == steps - 1:
            x = x0
        else:
            a_next = float(ab[k + 1])
            eps = (x - a_t**0.5 * x0) / (1.0 - a_t) ** 0.5
            sig = eta * ((1 - a_next) / (1 - a_t) * (1 - a_t / a_next)) ** 0.5
            x = a_next**0.5 * x0 + max(1 - a_next - sig**2, 0.0) ** 0.5 * eps
            if sig > 0:
                x = x + sig * _randn_like(x, generator)
        if callback is not None:
            callback(k, steps, x)
    return x


@torch.no_grad()
def sample_dpmpp(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    steps: int = 25,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
    spacing: str = "uniform",
    **kw: Any,
) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022), data prediction, multistep, in lambda = log(alpha/sigma).

    x_{i+1} = (sigma_{i+1}/sigma_i) x_i - alpha_{i+1} expm1(-h) D_i, h = lambda_{i+1} - lambda_i,
    D_i = (1 + 1/(2r)) x0_i - 1/(2r) x0_{i-1}, r = h_{i-1}/h_i (first order at the first step).
    The last step goes to sigma = 0, i.e. returns the last data prediction.
    """
    ts = sampling_timesteps(schedule, steps, spacing)
    ab = schedule.alpha_bar(ts)  # (steps,) float64
    alpha, sigma = ab.sqrt(), (1 - ab).sqrt()
    lam = torch.log(alpha) - torch.log(sigma)
    x = x_T
    x0_prev: Tensor | None = None
    h_prev = 0.0
    for k in range(steps):
        x0 = _x0_hat(model_fn, x, float(ts[k]), schedule)
        if k == steps - 1:
            x = x0
        else:
            h = float(lam[k + 1] - lam[k])
            d = x0
            if x0_prev is not None:
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
            ratio = float(sigma[k + 1] / sigma[k])
            x = ratio * x - float(alpha[k + 1]) * float(torch.expm1(torch.tensor(-h))) * d
            x0_prev, h_prev = x0, h
        if callback is not None:
            callback(k, steps, x)
    return x


SAMPLERS: dict[str, Sampler] = {
    "ancestral": sample_ancestral,
    "ddim": sample_ddim,
    "dpmpp": sample_dpmpp,
}


def get_sampler(name: str) -> Sampler:
    """Sampler function by name: ancestral | ddim | dpmpp."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}") from None
