"""Samplers as free functions over a timesteps tensor (k-diffusion style).

``sample_xxx(model_fn, x_T, schedule, timesteps, *, callback=None, generator=None) -> x0``
(DDIM also takes ``eta``; a keyword a sampler does not take is a TypeError), where
``model_fn(x (B,C,T), t (B,) float step units) -> v`` and ``timesteps`` is a decreasing float64
grid (n,) built once by :func:`sampling_timesteps` / :meth:`SamplerSpec.timesteps` (its last
entry is 0). Guidance is bound by a wrapper (:mod:`samuel_pl.diffusion.guidance`). x_t is never
clamped. ``callback`` gets ``(step_index, n, x)`` after every step. Every sampler evaluates the
model once per grid point and ends on the last x0 prediction.

Noise is drawn on the generator's device and moved to x's (a CPU generator works for a CUDA x).
:data:`SAMPLERS` maps each name to a :class:`SamplerSpec`: the function and what the settings
mean to it (whether it runs ``steps`` steps, whether it takes ``eta``, its ``auto`` grid).
The third-order multistep solvers (DPM-Solver++(3M), UniPC) live in
:mod:`samuel_pl.diffusion.multistep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from samuel_pl.diffusion.multistep import (
    multistep_orders,
    sample_dpmpp_3m,
    sample_unipc_bh1,
    sample_unipc_bh2,
)
from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.solver_base import (
    ModelFn,
    StepCallback,
    checked_grid,
    lambda_grid,
    randn_like,
    x0_hat,
)

SPACINGS = ("uniform", "log_snr", "karras")
"""Step grids: uniform in t | uniform in log-SNR | Karras et al. (2022) rho = 7 in sigma."""
SPACING_CHOICES = ("auto", *SPACINGS)
"""Values of a ``spacing`` setting (config, CLI, web demo)."""
KARRAS_RHO = 7.0
GRID_LAMBDA_MIN = -5.1
"""Lowest lambda = log(alpha / sigma) (half the log-SNR) a step grid starts from.

The cosine schedule's last beta is clipped at 0.999 (f(1) = 0), so lambda falls from -6.2 at
t = 798 to -9.7 at t = 799: a grid spaced in lambda or sigma from t = 799 put 3 of 10 log-SNR
and 5 of 10 Karras points in t in [798, 799], where alpha < 0.002 and the model sees noise
only. The DPM-Solver authors stop the continuous cosine schedule short of its end for this
reason (DPM-Solver's ``NoiseScheduleVP('cosine')`` uses T = 0.9946, lambda(T) = -4.78) and
clip lambda at -5.1 for the discrete cosine schedule (diffusers' ``DPMSolverMultistepScheduler``
option ``lambda_min_clipped``, recommended -5.1 for ``squaredcos_cap_v2``, which is this
schedule). We do the same: every spaced grid starts at the t where lambda = -5.1 (t = 795.8 of
800; alpha = 0.006) and treats x_T ~ N(0, I) as the sample there. The price is a mean offset of
alpha E[x0] in x_T (0.006 per unit of data mean), well below the solver error at 5-25 steps;
the gain, on the Gaussian oracle (tests/diffusion/test_samplers.py), is e.g. DPM-Solver++(2M)
max error 0.68 at 5 log-SNR steps and 0.16 at 10 Karras steps (the same solver on grids from
t = 799: 2.08 and 1.42). docs/sampling_grid.md has the table.
"""


class Sampler(Protocol):
    def __call__(
        self,
        model_fn: ModelFn,
        x_T: Tensor,
        schedule: CosineSchedule,
        timesteps: Tensor,
        *,
        callback: StepCallback | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor: ...


def grid_start(schedule: CosineSchedule) -> float:
    """The first time of every spaced grid (float step units): where lambda = log(alpha/sigma)
    equals :data:`GRID_LAMBDA_MIN`, or T-1 where lambda(T-1) is already above it."""
    last = float(schedule.train_steps - 1)
    lam_end = float(schedule.log_snr(torch.tensor(last, dtype=torch.float64)))
    if lam_end >= 2 * GRID_LAMBDA_MIN:  # log-SNR = 2 lambda
        return last
    return float(schedule.t_from_log_snr(torch.tensor(2 * GRID_LAMBDA_MIN, dtype=torch.float64)))


def steps_allowed(steps: Any) -> str | None:
    """None when ``steps`` is a usable sampler step count, else what is allowed (the one rule
    for steps: the grid, the sampling plan, the config and the web demo ask it)."""
    try:
        ok = not isinstance(steps, bool) and int(steps) == steps and steps >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    return None if ok else ">= 1"


def sampling_timesteps(schedule: CosineSchedule, steps: int, spacing: str = "uniform") -> Tensor:
    """Decreasing float64 times (steps,) from :func:`grid_start` to 0, the one home of step
    spacing. The grid starts where lambda = :data:`GRID_LAMBDA_MIN` (t = 795.8 of 800 for the
    default schedule), not at T-1: see :data:`GRID_LAMBDA_MIN`. One step is [T-1].

    uniform: evenly spaced in t. log_snr: evenly spaced in lambda = log(alpha_bar/(1-alpha_bar)).
    karras: sigma_i^(1/rho) evenly spaced, sigma = exp(-lambda/2), rho = 7 (EDM, eq. 5).
    """
    problem = steps_allowed(steps)
    if problem:
        raise ValueError(f"steps must be {problem}, got {steps}")
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    if steps == 1:  # nothing to spread: x0 from x_T at T-1, where N(0, I) is the marginal
        return torch.tensor([float(schedule.train_steps - 1)], dtype=torch.float64)
    first = grid_start(schedule)
    if spacing == "uniform":
        return torch.linspace(first, 0.0, steps, dtype=torch.float64)
    lam_hi, lam_lo = schedule.log_snr(torch.tensor([first, 0.0], dtype=torch.float64)).tolist()
    if spacing == "log_snr":
        lam = torch.linspace(lam_hi, lam_lo, steps, dtype=torch.float64)
    else:  # karras: sigma^(1/rho) linear, lambda = -2 log sigma
        r_max, r_min = (math.exp(lam / (-2 * KARRAS_RHO)) for lam in (lam_hi, lam_lo))
        ramp = torch.linspace(r_max, r_min, steps, dtype=torch.float64)
        lam = -2.0 * KARRAS_RHO * ramp.log()
    ts = schedule.t_from_log_snr(lam)
    ts[0], ts[-1] = first, 0.0
    return ts


@torch.no_grad()
def sample_ancestral(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Ancestral DDPM (Ho et al. 2020): x_s ~ q(x_s | x_t, x0_hat) from each t to the next s.

    mean = sqrt(a_s) (1 - a_t/a_s)/(1 - a_t) x0_hat + sqrt(a_t/a_s) (1 - a_s)/(1 - a_t) x_t,
    var = (1 - a_s)/(1 - a_t) (1 - a_t/a_s); on the full integer grid (the paper's sampler)
    a_t/a_{t-1} = 1 - beta_t.
    """
    ts, ab = checked_grid(timesteps, schedule)
    n = len(ts)
    x = x_T
    for k in range(n):
        x0 = x0_hat(model_fn, x, ts[k], schedule)
        if k == n - 1:
            x = x0
        else:
            a_t, a_s = float(ab[k]), float(ab[k + 1])
            keep = a_t / a_s  # alpha_{t|s}^2
            c0 = a_s**0.5 * (1.0 - keep) / (1.0 - a_t)
            ct = keep**0.5 * (1.0 - a_s) / (1.0 - a_t)
            var = (1.0 - a_s) / (1.0 - a_t) * (1.0 - keep)
            x = c0 * x0 + ct * x + var**0.5 * randn_like(x, generator)
        if callback is not None:
            callback(k, n, x)
    return x


@torch.no_grad()
def sample_ddim(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
    eta: float = 0.0,
) -> Tensor:
    """DDIM (Song et al. 2021, eq. 12) with stochasticity ``eta`` (0: deterministic, 1: DDPM).

    sigma = eta sqrt((1 - a_s)/(1 - a_t)) sqrt(1 - a_t/a_s) from t to the next s.
    """
    ts, ab = checked_grid(timesteps, schedule)
    n = len(ts)
    x = x_T
    for k in range(n):
        a_t = float(ab[k])
        x0 = x0_hat(model_fn, x, ts[k], schedule)
        if k == n - 1:
            x = x0
        else:
            a_next = float(ab[k + 1])
            eps = (x - a_t**0.5 * x0) / (1.0 - a_t) ** 0.5
            sig = eta * ((1 - a_next) / (1 - a_t) * (1 - a_t / a_next)) ** 0.5
            x = a_next**0.5 * x0 + max(1 - a_next - sig**2, 0.0) ** 0.5 * eps
            if sig > 0:
                x = x + sig * randn_like(x, generator)
        if callback is not None:
            callback(k, n, x)
    return x


@torch.no_grad()
def sample_dpmpp(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022), data prediction, multistep, in lambda = log(alpha/sigma).

    x_{i+1} = (sigma_{i+1}/sigma_i) x_i - alpha_{i+1} expm1(-h) D_i, h = lambda_{i+1} - lambda_i,
    D_i = (1 + 1/(2r)) x0_i - 1/(2r) x0_{i-1}, r = h_{i-1}/h_i; D_i = x0_i (first order) at the
    first update and at the last one into t = 0 (the lower-order final step of DPM++(3M) and
    UniPC, :func:`samuel_pl.diffusion.multistep.multistep_orders`: that step is the widest in
    lambda on uniform and Karras grids). The last grid point returns its data prediction.
    """
    ts, ab = checked_grid(timesteps, schedule)
    n = len(ts)
    alpha, sigma, lam = lambda_grid(ab)
    orders = multistep_orders(n - 1, 2)
    x = x_T
    x0_prev: Tensor | None = None
    h_prev = 0.0
    for k in range(n):
        x0 = x0_hat(model_fn, x, ts[k], schedule)
        if k == n - 1:
            x = x0
        else:
            h = lam[k + 1] - lam[k]
            d = x0
            if orders[k] == 2 and x0_prev is not None:
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
            x = (sigma[k + 1] / sigma[k]) * x + (alpha[k + 1] * -math.expm1(-h)) * d
            x0_prev, h_prev = x0, h
        if callback is not None:
            callback(k, n, x)
    return x


BASE_KEYWORDS = ("callback", "generator")
"""Keywords every sampler takes."""


@dataclass(frozen=True)
class SamplerSpec:
    """A sampler function and what the sampling settings mean to it; calling the spec calls
    the function, refusing keywords it does not take (TypeError naming sampler and keyword)."""

    name: str
    """Registry name (config ``sampling.sampler``)."""
    fn: Sampler
    """The free function ``fn(model_fn, x_T, schedule, timesteps, **keywords) -> x0``."""
    uses_steps: bool = True
    """False: walks every training step (the paper's DDPM); ``steps`` and ``spacing`` do not
    apply."""
    accepts_eta: bool = False
    """Takes ``eta`` (stochasticity; the config's ``sampling.eta`` reaches only these)."""
    auto_spacing: str = "uniform"
    """The grid ``spacing="auto"`` picks: the one the sampler came closest to ancestral-800
    on, at 10, 15 and 25 steps, on a demo-trained model and on Gaussian data
    (benchmarks/RESULTS.md)."""

    @property
    def keywords(self) -> tuple[str, ...]:
        """Keywords the sampler takes."""
        return (*BASE_KEYWORDS, "eta") if self.accepts_eta else BASE_KEYWORDS

    def options(self, eta: float = 0.0) -> dict[str, Any]:
        """The settings this sampler takes, as keywords: ``{"eta": eta}`` where it takes eta,
        else nothing (``eta`` is DDIM's setting, not the others')."""
        return {"eta": float(eta)} if self.accepts_eta else {}

    def timesteps(self, schedule: CosineSchedule, steps: int, spacing: str = "auto") -> Tensor:
        """The decreasing grid it runs on: every training step when not :attr:`uses_steps`,
        else ``steps`` times by ``spacing`` (one of :data:`SPACING_CHOICES`)."""
        if not self.uses_steps:
            return torch.arange(schedule.train_steps - 1, -1, -1, dtype=torch.float64)
        return sampling_timesteps(schedule, steps, self.spacing(spacing))

    def spacing(self, spacing: str) -> str:
        """The grid ``spacing`` means for this sampler (``auto``: :attr:`auto_spacing`)."""
        return self.auto_spacing if spacing == "auto" else spacing

    def __call__(
        self,
        model_fn: ModelFn,
        x_T: Tensor,
        schedule: CosineSchedule,
        timesteps: Tensor,
        **keywords: Any,
    ) -> Tensor:
        """Run the sampler; a keyword it does not take is a TypeError."""
        unknown = sorted(set(keywords) - set(self.keywords))
        if unknown:
            raise TypeError(
                f"sampler {self.name!r} takes no keyword {unknown[0]!r} "
                f"(it takes: {', '.join(self.keywords)})"
            )
        return self.fn(model_fn, x_T, schedule, timesteps, **keywords)


SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in (
        SamplerSpec("ancestral", sample_ancestral, uses_steps=False),
        SamplerSpec("ddim", sample_ddim, accepts_eta=True, auto_spacing="uniform"),
        SamplerSpec("dpmpp", sample_dpmpp, auto_spacing="log_snr"),
        # Third order. UniPC: log_snr, its best grid at 8-25 steps on the demo_long model
        # (benchmarks/results/sampling_quality.md: 1.15 vs 3.45 uniform at 10 steps). DPM++(3M)
        # and UniPC-bh1: uniform, their best grid at 10 steps there and on the Gaussian oracle
        # (tests/diffusion/test_multistep.py); neither is near the floor below 15 steps.
        SamplerSpec("dpmpp3m", sample_dpmpp_3m, auto_spacing="uniform"),
        SamplerSpec("unipc", sample_unipc_bh2, auto_spacing="log_snr"),
        SamplerSpec("unipc_bh1", sample_unipc_bh1, auto_spacing="uniform"),
    )
}
BEST_SPACING = {name: s.auto_spacing for name, s in SAMPLERS.items() if s.uses_steps}
"""What ``spacing="auto"`` picks per sampler that runs ``steps`` steps."""


def get_sampler(name: str) -> SamplerSpec:
    """Sampler by name: ancestral | ddim | dpmpp | dpmpp3m | unipc | unipc_bh1."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}") from None


def resolve_spacing(name: str, spacing: str) -> str:
    """The grid ``spacing`` means for sampler ``name`` (``auto``: its ``auto_spacing``)."""
    return get_sampler(name).spacing(spacing)


def sampler_timesteps(
    name: str, schedule: CosineSchedule, steps: int, spacing: str = "auto"
) -> Tensor:
    """The grid sampler ``name`` runs on (:meth:`SamplerSpec.timesteps`)."""
    return get_sampler(name).timesteps(schedule, steps, spacing)
