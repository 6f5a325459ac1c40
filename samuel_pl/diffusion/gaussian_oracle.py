"""Gaussian data as the samplers' oracle: its exact denoiser, the exact probability-flow solution
and a sampler's worst-case error over a family of Gaussians (docs/sampling_grid.md).

x0 ~ N(mu_c, sd_c^2) independently per channel c. With a = alpha_bar(t), x_t ~ N(sqrt(a) mu,
a sd^2 + 1 - a), the exact denoiser is E[x0 | x_t] = mu + sqrt(a) sd^2 (x_t - sqrt(a) mu) /
(a sd^2 + 1 - a), and the PF-ODE, a monotone map between Gaussian marginals, keeps the standard
score z = (x_t - sqrt(a_t) mu) / sqrt(a_t sd^2 + 1 - a_t) fixed: a sampler started at x_T at the
grid's first time should return mu + sqrt(a_0) sd^2 z / sqrt(a_0 sd^2 + 1 - a_0), the denoiser's
x0 at t = 0 of the exact path. mu, sd: (C, 1); x: (B, C, T).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.samplers import Sampler, get_sampler, sampler_timesteps

FAMILY_SD = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Per-channel stds of the worst-case family (the range of z-scored latents and beyond)."""
FAMILY_MU = (-4.0, -2.0, 0.0, 2.0, 4.0)
"""Per-channel means of the worst-case family."""
FAMILY_X_T = 3.0
"""|x_T| of the family's worst case: x_T = -3 and +3 in every channel."""


def family() -> tuple[Tensor, Tensor]:
    """The family's means and stds as float64 (C, 1), C = 25: every std with every mean."""
    mu = torch.tensor([m for _ in FAMILY_SD for m in FAMILY_MU], dtype=torch.float64)
    sd = torch.tensor([s for s in FAMILY_SD for _ in FAMILY_MU], dtype=torch.float64)
    return mu[:, None], sd[:, None]


def gaussian_v(x: Tensor, t: Tensor, mu: Tensor, sd: Tensor, schedule: CosineSchedule) -> Tensor:
    """Exact v for Gaussian data N(mu_c, sd_c^2); x (B, C, T), t (B,), mu / sd (C, 1)."""
    a = schedule.alpha_bar(t.double()).to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    x0 = mu + a.sqrt() * sd**2 / (a * sd**2 + 1 - a) * (x - a.sqrt() * mu)
    return (a.sqrt() * x - x0) / (1 - a).sqrt()


def gaussian_flow_x0(
    x_T: Tensor, t_start: float, mu: Tensor, sd: Tensor, schedule: CosineSchedule
) -> Tensor:
    """x0 at t = 0 of the exact flow through x_T (B, C, T) from the first grid time ``t_start``."""
    a_T = float(schedule.alpha_bar(torch.tensor(t_start, dtype=torch.float64)))
    a_0 = float(schedule.alphas_cumprod[0])
    z = (x_T - math.sqrt(a_T) * mu) / torch.sqrt(a_T * sd**2 + 1 - a_T)
    return mu + math.sqrt(a_0) * sd**2 * z / torch.sqrt(a_0 * sd**2 + 1 - a_0)


def family_error(
    name: str, spacing: str, steps: int, schedule: CosineSchedule, fn: Sampler | None = None
) -> Tensor:
    """Signed error (2, C, 1) of sampler ``name`` against the exact flow for every family member
    (channel c: N(mu_c, sd_c^2), :func:`family`), x_T = -3 (row 0) and +3 (row 1). ``fn``: run
    this sampler function instead on ``name``'s grid (a variant under study).

    A sampler is affine in x_T per channel here (the denoiser is affine in x), so x_T = +-3 is
    the exact worst case over |x_T| <= 3: no seed, no sampling noise.
    """
    mu, sd = family()
    x_T = torch.tensor([-FAMILY_X_T, FAMILY_X_T], dtype=torch.float64).reshape(2, 1, 1)
    x_T = x_T.expand(2, mu.shape[0], 1).contiguous()
    ts = sampler_timesteps(name, schedule, steps, spacing)
    out = (fn or get_sampler(name))(
        lambda x, t: gaussian_v(x, t, mu, sd, schedule), x_T, schedule, ts
    )
    return out - gaussian_flow_x0(x_T, float(ts[0]), mu, sd, schedule)


def worst_case_error(
    name: str, spacing: str, steps: int, schedule: CosineSchedule, fn: Sampler | None = None
) -> float:
    """Max abs error over the Gaussian family and |x_T| <= 3 (:func:`family_error`)."""
    return float(family_error(name, spacing, steps, schedule, fn).abs().max())


def falls_from(errors: dict[int, float]) -> int:
    """The smallest step count from which ``errors`` (step count -> error, consecutive counts)
    falls strictly at every further count."""
    counts = sorted(errors)
    start = counts[0]
    for lo, hi in zip(counts, counts[1:], strict=False):
        if errors[hi] >= errors[lo]:
            start = hi
    return start
