"""Sampler error against steps, measured as the worst case over a family of Gaussian data
(exact flow in closed form): it must fall with steps (docs/sampling_grid.md)."""

from __future__ import annotations

import pytest
import torch

from samuel_pl.diffusion.samplers import SAMPLERS, SPACINGS, get_sampler, sampler_timesteps
from tests.diffusion.test_samplers import SCHED, gaussian_denoiser_v, gaussian_flow_endpoint

# -- error against steps: the worst case over a family of Gaussian data ----------------------
# One data distribution can sit on a zero crossing of its signed error at some step count (a
# lucky dip). The measure below is the worst case over a family: per-channel stds FAMILY_SD x
# means FAMILY_MU (the range of z-scored latents and beyond), x_T = -3 and +3 in every channel.
# A sampler is affine in x_T per channel here (the denoiser is affine in x), so x_T = +-3 is the
# exact worst case over |x_T| <= 3: no sampling noise, no lucky seed.
FAMILY_SD = (0.05, 0.2, 0.5, 1.0, 2.0)
FAMILY_MU = (-4.0, -2.0, 0.0, 2.0, 4.0)
F_MU = torch.tensor([m for _ in FAMILY_SD for m in FAMILY_MU], dtype=torch.float64)[:, None]
F_SD = torch.tensor([s for s in FAMILY_SD for _ in FAMILY_MU], dtype=torch.float64)[:, None]


def family_error(name: str, spacing: str, steps: int, x_T_abs: float = 3.0) -> torch.Tensor:
    """Signed error (2, C, 1) of the sampled x0 against the exact flow for every family member
    (channel c: N(F_MU[c], F_SD[c]^2)), x_T = -x_T_abs (row 0) and +x_T_abs (row 1)."""
    x_T = torch.tensor([-x_T_abs, x_T_abs], dtype=torch.float64).reshape(2, 1, 1)
    x_T = x_T.expand(2, F_MU.shape[0], 1).contiguous()
    ts = sampler_timesteps(name, SCHED, steps, spacing)
    out = get_sampler(name)(lambda x, t: gaussian_denoiser_v(x, t, F_MU, F_SD), x_T, SCHED, ts)
    return out - gaussian_flow_endpoint(x_T, float(ts[0]), F_MU, F_SD)


def worst_case_error(name: str, spacing: str, steps: int) -> float:
    """Max abs error over the Gaussian family and |x_T| <= 3 (:func:`family_error`)."""
    return float(family_error(name, spacing, steps).abs().max())


FEW_STEPS = (5, 8, 10)
MONOTONE_STEPS = (10, 13, 15, 20, 25)
# Where the worst-case error is not monotone over 5, 8, 10, 13, 15, 20, 25 steps; measured:
NOT_MONOTONE_FROM_5 = {
    ("dpmpp", "log_snr"): "1.33 0.129 0.225 0.189 0.154 0.094 0.062",
    ("dpmpp", "karras"): "2.08 0.236 0.543 0.496 0.401 0.225 0.137",
    ("dpmpp3m", "log_snr"): "0.70 2.11 0.80 0.097 0.058 0.025 0.0097",
    ("dpmpp3m", "karras"): "1.70 2.31 2.22 0.66 0.32 0.134 0.048",
    ("unipc", "log_snr"): "1.22 0.316 0.318 0.193 0.137 0.064 0.034",
    ("unipc", "karras"): "2.03 0.41 0.68 0.51 0.35 0.143 0.069",
    ("unipc_bh1", "log_snr"): "1.94 3.04 1.73 0.69 0.42 0.158 0.076",
    ("unipc_bh1", "karras"): "0.84 3.57 3.18 1.71 1.02 0.31 0.137",
}
STEP_SAMPLERS = [n for n, s in SAMPLERS.items() if s.uses_steps]


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("name", STEP_SAMPLERS)
def test_worst_case_error_falls_with_steps(name: str, spacing: str) -> None:
    """From 10 steps on the worst-case error falls strictly with steps for every sampler on
    every grid. Grids from t = 799 broke it: DPM++(2M) log-SNR 0.062 at 10 steps, 0.24 at 13;
    DPM++(2M) Karras 0.40 -> 0.93; UniPC log-SNR 0.095 -> 0.33; DPM++(3M) Karras 0.83 at 13,
    1.74 at 15."""
    errs = [worst_case_error(name, spacing, n) for n in MONOTONE_STEPS]
    assert all(b < a for a, b in zip(errs, errs[1:], strict=False)), (
        f"{name} {spacing}: worst-case error by steps {MONOTONE_STEPS}: "
        f"{[round(e, 4) for e in errs]}"
    )


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("name", STEP_SAMPLERS)
def test_error_falls_with_steps_from_five(
    name: str, spacing: str, request: pytest.FixtureRequest
) -> None:
    """Over 5, 8, 10 steps too, where the pairs of NOT_MONOTONE_FROM_5 fail (strict xfails:
    one that becomes monotone fails and must leave the list). Not a lucky dip of one data
    distribution: every member of the family has the same hump (its signed error crosses zero
    and rises before it falls, test_the_few_step_hump_is_the_solvers)."""
    if (name, spacing) in NOT_MONOTONE_FROM_5:
        reason = f"worst case at 5/8/10/13/15/20/25 steps: {NOT_MONOTONE_FROM_5[name, spacing]}"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    errs = [worst_case_error(name, spacing, n) for n in (*FEW_STEPS, *MONOTONE_STEPS[1:])]
    assert all(b < a for a, b in zip(errs, errs[1:], strict=False)), (
        f"{name} {spacing}: worst-case error by steps: {[round(e, 4) for e in errs]}"
    )


@pytest.mark.parametrize("spacing", ["log_snr", "karras"])
def test_the_few_step_hump_is_the_solvers(spacing: str) -> None:
    """DPM++(2M)'s signed error at x_T = +3 is negative at 7 steps and positive at 11 for every
    family member with std >= 0.5 (the members that set the worst case): the few-step regime
    (first-order first and last updates, wide steps) and the asymptotic second-order one err in
    opposite directions. Each member crosses zero (log-SNR: std 2 between 7 and 8 steps, std 1
    between 8 and 9, std 0.2 between 10 and 11) and then rises to a hump before the asymptotic
    fall; the widest member dominates the worst case, so no family removes the 8 -> 10 rise."""
    wide = F_SD[:, 0] >= 0.5
    at7, at11 = (family_error("dpmpp", spacing, n)[1, wide, 0] for n in (7, 11))
    assert (at7 < 0).all() and (at11 > 0).all(), (at7.tolist(), at11.tolist())
