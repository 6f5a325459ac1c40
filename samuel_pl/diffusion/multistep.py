"""Higher-order multistep solvers of the probability-flow ODE in data prediction: DPM-Solver++(3M)
(Lu et al. 2022, "DPM-Solver++", arXiv 2211.01095) and UniPC (Zhao et al. 2023, "UniPC",
arXiv 2302.04867) with its two B(h) variants.

Both start from the exact solution of the data-prediction ODE from s to t in
lambda = log(alpha / sigma) (DPM-Solver++'s exact solution of the data-prediction ODE, by
variation of constants):

    x_t = (sigma_t / sigma_s) x_s + sigma_t int_{lambda_s}^{lambda_t} e^lambda x0(lambda) dlambda

and expand x0(lambda) in a Taylor series at lambda_s (its derivatives x0^(k)), which with
h = lambda_t - lambda_s integrates term by term to

    x_t = (sigma_t / sigma_s) x_s + alpha_t sum_{k>=0} E_{k+1}(h) x0^(k)(lambda_s),
    E_k(h) = h^k phi_k(-h),  phi_1(z) = (e^z - 1)/z,  phi_{k+1}(z) = (phi_k(z) - 1/k!)/z,

so E_1 = 1 - e^-h and E_{k+1} = h^k/k! - E_k (no division: stable for small h). The solvers
differ in how they estimate the derivatives from the x0 predictions of earlier grid points.
Each evaluates the model once per grid point (the same NFE as the other samplers) and picks
the order of each update with :func:`multistep_orders`: lower orders while the history fills
(warm-up), lower orders again over the final updates of grids of fewer than
:data:`LOWER_ORDER_FINAL_BELOW` updates (the DPM-Solver++ authors' "lower order final" for
few-step sampling), and a first-order final update into t = 0 on every grid: the step to the
least noise is the widest in lambda on uniform and Karras grids (at 25 uniform steps, h = 4.8
after h = 1.2) and a quadratic extrapolated that far is poor (Gaussian-oracle max error at
uniform-25 steps, DPM-Solver++(3M): 0.40 with a third-order final update, 0.039 with a
first-order one; the uniform-25 bounds of tests/diffusion/test_multistep.py fail without it).
The last grid point returns its x0 prediction, like every sampler here. x_t is never clamped.
Shapes: x_T (B, C, T) -> x0 (B, C, T); timesteps (n,) decreasing, float step units.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.solver_base import (
    ModelFn,
    StepCallback,
    checked_grid,
    lambda_grid,
    x0_hat,
)

LOWER_ORDER_FINAL_BELOW = 19
"""Grids with fewer updates than this (up to 19 steps) lower the order over the final updates.

Where lowering stops matters: the first grid without it must be more accurate than the last
grid with it, or the error rises with steps there. On the Gaussian oracle's worst case
(:mod:`samuel_pl.diffusion.gaussian_oracle`; DPM-Solver++(3M) is the only solver whose orders
this changes) lowering is more accurate up to 18 steps on every grid (18 steps: 0.0376 vs 0.0381
log-SNR, 0.169 vs 0.208 Karras, 0.169 vs 0.186 uniform), at 19 as accurate on log-SNR
(0.0307 vs 0.0306) and more on Karras (0.158 vs 0.169), and not from 20 (0.0249 vs 0.0247
log-SNR, 0.136 vs 0.134 Karras). Stopping at 15 steps, as diffusers' ``lower_order_final``
does, made 16 log-SNR steps less accurate than 15 (0.0581 vs 0.0579); stopping at 18 makes
19 Karras steps less accurate than 18 (0.1693 vs 0.1690). ``python benchmarks/sampler_oracle.py``
prints the table."""

UNIPC_VARIANTS = ("bh1", "bh2")
"""UniPC's B(h): bh1 = h, bh2 = 1 - e^-h (the paper's e^h - 1 in data prediction, h -> -h)."""


def phi_terms(h: float, count: int) -> list[float]:
    """[E_1(h), ..., E_count(h)] with E_k(h) = h^k phi_k(-h) (module docstring)."""
    terms = [-math.expm1(-h)]
    for k in range(1, count):
        terms.append(h**k / math.factorial(k) - terms[-1])
    return terms


def multistep_orders(updates: int, order: int) -> list[int]:
    """The order of each of ``updates`` steps: min(order, k + 1) at update k (warm-up: only k + 1
    x0 predictions exist), at most ``updates - k`` on grids of fewer than
    :data:`LOWER_ORDER_FINAL_BELOW` updates (lower-order final steps), and 1 at the last update
    (into t = 0, module docstring)."""
    orders = [min(order, k + 1) for k in range(updates)]
    if updates < LOWER_ORDER_FINAL_BELOW:
        orders = [min(o, updates - k) for k, o in enumerate(orders)]
    return orders[:-1] + [1] if orders else orders


def dpmpp_taylor_step(
    x: Tensor, x0s: list[Tensor], lams: list[float], lam_next: float, ratio: float, alpha: float
) -> Tensor:
    """One DPM-Solver++ multistep update of order len(x0s) (1..3) from lams[-1] to lam_next.

    x (B,C,T) at lams[-1]; x0s: the x0 predictions (B,C,T) at lams, newest last; ratio =
    sigma_next / sigma_now; alpha = alpha_next. The derivatives are those of the Newton
    interpolant through the points (backward divided differences on the non-uniform grid):
    x0' = d1 + h_a d2, x0'' = 2 d2 with d1 = (m0 - m1)/h_a, d2 = (d1 - (m1 - m2)/h_b)/(h_a + h_b),
    h_a = lam_0 - lam_1, h_b = lam_1 - lam_2; the update is the Taylor sum of the module
    docstring truncated after x0^(order-1): local error O(h^(order+1)), global O(h^order).
    """
    order = len(x0s)
    h = lam_next - lams[-1]
    e = phi_terms(h, order)
    out = ratio * x + (alpha * e[0]) * x0s[-1]
    if order == 1:
        return out
    h_a = lams[-1] - lams[-2]
    d1 = (x0s[-1] - x0s[-2]) / h_a
    if order == 2:
        return out + (alpha * e[1]) * d1
    h_b = lams[-2] - lams[-3]
    d2 = (d1 - (x0s[-2] - x0s[-3]) / h_b) / (h_a + h_b)
    # x0'' = 2 d2 enters with the exact Taylor weight E_3(h) = h^2/2 - E_2(h). On purpose this
    # differs from the DPM-Solver++ authors' 3M update (their code; diffusers'
    # multistep_dpm_solver_third_order_update), whose term alpha (1/2 - E_2/h^2) D2 with
    # D2 ~ h^2 x0''/2 is E_3 x0''/2, half the Taylor term: with ours the update is exact for
    # quadratic x0 (tests/diffusion/test_multistep.py; the half weight fails that test and the
    # log_snr-25 bound: max error 0.018 vs 0.0056).
    return out + (alpha * e[1]) * (d1 + h_a * d2) + (2 * alpha * e[2]) * d2


@torch.no_grad()
def sample_dpmpp_3m(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DPM-Solver++(3M): multistep, data prediction, third order (:func:`dpmpp_taylor_step`
    with the last three x0 predictions; first and second order while they accumulate, and over
    the final updates of short grids, :func:`multistep_orders`). Deterministic (``generator``
    is unused). x_T (B,C,T) -> x0 (B,C,T)."""
    del generator
    ts, ab = checked_grid(timesteps, schedule)
    alpha, sigma, lam = lambda_grid(ab)
    n = len(ts)
    orders = multistep_orders(n - 1, 3)
    x = x_T
    x0s: list[Tensor] = []  # the last three x0 predictions, newest last
    for k in range(n):
        x0s = [*x0s[-2:], x0_hat(model_fn, x, ts[k], schedule)]
        if k == n - 1:
            x = x0s[-1]
        else:
            o = orders[k]
            ratio = sigma[k + 1] / sigma[k]
            x = dpmpp_taylor_step(
                x, x0s[-o:], lam[k + 1 - o : k + 1], lam[k + 1], ratio, alpha[k + 1]
            )
        if callback is not None:
            callback(k, n, x)
    return x


def unipc_step(
    x: Tensor,
    x0s: list[Tensor],
    lams: list[float],
    lam_next: float,
    ratio: float,
    alpha: float,
    variant: str,
    new_x0: Tensor | None = None,
) -> Tensor:
    """One UniPC update from lams[-1] to lam_next: UniP (predictor) when ``new_x0`` is None,
    UniC (corrector) when it is the x0 prediction at lam_next from the predicted point.

    x (B,C,T) at lams[-1]; x0s: predictions (B,C,T) at lams, newest last (m0 = x0s[-1]). With
    r_j = (lam_j - lam_0)/h and D_j = m_j - m0 for the earlier points (and r = 1,
    D = new_x0 - m0 for the corrector), the update is (UniPC's UniP-p / UniC-p in data
    prediction)

        x_next = ratio x + alpha E_1(h) m0 + alpha B(h) sum_j a_j D_j / r_j,
        R_p a = g_p / B(h),  R_p[i, j] = r_j^i (i = 0..p-1),  g_p[i] = (i+1)! E_{i+2}(h) / h^(i+1)

    (the rows match the Taylor terms x0^(i+1) of the exact solution), except a = [1/2] when
    p = 1 (the paper's choice; g_1/B(h) = 1/2 + O(h)): B(h) only matters there. With p
    differences the update has order p + 1. x_next (B,C,T).
    """
    h = lam_next - lams[-1]
    m0 = x0s[-1]
    rs = [(lm - lams[-1]) / h for lm in lams[:-1]]
    ds = [m - m0 for m in x0s[:-1]]
    if new_x0 is not None:
        rs, ds = [*rs, 1.0], [*ds, new_x0 - m0]
    p = len(rs)
    e = phi_terms(h, p + 1)
    out = ratio * x + (alpha * e[0]) * m0
    if p == 0:
        return out
    b_h = h if variant == "bh1" else e[0]
    if p == 1:
        a = [0.5]
    else:
        r = torch.tensor(rs, dtype=torch.float64)
        mat = torch.stack([r**i for i in range(p)])  # (p, p)
        g = torch.tensor(
            [math.factorial(i + 1) * e[i + 1] / h ** (i + 1) for i in range(p)], dtype=torch.float64
        )
        a = torch.linalg.solve(mat, g / b_h).tolist()
    for a_j, r_j, d_j in zip(a, rs, ds, strict=True):
        out = out + (alpha * b_h * a_j / r_j) * d_j
    return out


@torch.no_grad()
def sample_unipc(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    order: int = 2,
    variant: str = "bh2",
) -> Tensor:
    """UniPC-``order`` (Zhao et al. 2023): UniP-p predictor from the last p x0 predictions, the
    model evaluated at the predicted point, then UniC-p corrects the same step with that
    prediction (order p + 1, no extra evaluation: the prediction joins the history as is).
    The corrector is skipped at the last grid point (its x0 prediction is the output). Orders
    per step: :func:`multistep_orders`. x_T (B,C,T) -> x0 (B,C,T)."""
    if order < 1:
        raise ValueError(f"UniPC order must be >= 1, got {order}")
    if variant not in UNIPC_VARIANTS:
        raise ValueError(f"unknown UniPC variant {variant!r}; choose one of {UNIPC_VARIANTS}")
    ts, ab = checked_grid(timesteps, schedule)
    alpha, sigma, lam = lambda_grid(ab)
    n = len(ts)
    orders = multistep_orders(n - 1, order)
    x, x_prev = x_T, x_T
    x0s: list[Tensor] = []  # the last ``order`` x0 predictions, newest last
    for k in range(n):
        m = x0_hat(model_fn, x, ts[k], schedule)
        if 0 < k < n - 1:  # UniC on the step k-1 -> k, with the order of its predictor
            o = orders[k - 1]
            args = (lam[k], sigma[k] / sigma[k - 1], alpha[k], variant)
            x = unipc_step(x_prev, x0s[-o:], lam[k - o : k], *args, new_x0=m)
        x0s = [*x0s[-(order - 1) :], m] if order > 1 else [m]
        if k == n - 1:
            x = m
        else:
            o = orders[k]
            x_prev = x
            args = (lam[k + 1], sigma[k + 1] / sigma[k], alpha[k + 1], variant)
            x = unipc_step(x, x0s[-o:], lam[k + 1 - o : k + 1], *args)
        if callback is not None:
            callback(k, n, x)
    return x


def sample_unipc_bh1(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """UniPC-2 (third order) with B(h) = h (the paper's choice for unconditional sampling).
    Deterministic (``generator`` is unused)."""
    return sample_unipc(model_fn, x_T, schedule, timesteps, callback=callback, variant="bh1")


def sample_unipc_bh2(
    model_fn: ModelFn,
    x_T: Tensor,
    schedule: CosineSchedule,
    timesteps: Tensor,
    *,
    callback: StepCallback | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """UniPC-2 (third order) with B(h) = 1 - e^-h (the paper's e^h - 1, its choice for guided
    sampling). Deterministic (``generator`` is unused)."""
    return sample_unipc(model_fn, x_T, schedule, timesteps, callback=callback, variant="bh2")
