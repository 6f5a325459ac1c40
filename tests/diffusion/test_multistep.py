"""Third-order multistep solvers (DPM-Solver++(3M), UniPC) against the exact probability-flow ODE
of Gaussian data (tests/diffusion/test_samplers.py): more accurate than DPM-Solver++(2M) on the
same grid at few steps, third-order convergence, one model call per grid point, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from samuel_pl.diffusion.multistep import (
    dpmpp_taylor_step,
    multistep_orders,
    phi_terms,
    sample_unipc,
    unipc_step,
)
from samuel_pl.diffusion.samplers import get_sampler, sampler_timesteps, sampling_timesteps
from tests.diffusion.test_samplers import (
    SCHED,
    W,
    _gaussian_error,
    gaussian_model_fn,
    mixture_model_fn,
    oracle,
)

THIRD_ORDER = ("dpmpp3m", "unipc", "unipc_bh1")

# Max abs error, bounds about 1.25x the measured error. Uniform grid; DDIM (first order) on it:
# 0.43 (10 steps), 0.29 (15), 0.17 (25). DPM++(2M) with its first-order final step is as good
# there (0.157, 0.076, 0.023): most of the gain on this grid is that final step
# (multistep_orders). A second-order update in place of the third-order one stays within these
# bounds, the log_snr bounds below and the exact-step tests catch it.
FEW_STEP_BOUNDS = [
    ("dpmpp3m", 10, 0.19),
    ("dpmpp3m", 15, 0.085),
    ("dpmpp3m", 25, 0.046),
    ("unipc", 10, 0.19),
    ("unipc", 15, 0.091),
    ("unipc", 25, 0.029),
    ("unipc_bh1", 10, 0.215),
    ("unipc_bh1", 15, 0.094),
    ("unipc_bh1", 25, 0.03),
]
# log_snr grid (equal lambda steps; 2M: 0.035 at 25, 0.0088 at 50): the third-order terms carry
# the accuracy here (x0'' term dropped from 3M: 0.030 / 0.0064).
LOG_SNR_BOUNDS = [
    ("dpmpp3m", 25, 0.007),
    ("dpmpp3m", 50, 0.0004),
    ("unipc", 25, 0.024),
    ("unipc", 50, 0.003),
    ("unipc_bh1", 25, 0.054),
    ("unipc_bh1", 50, 0.006),
]


@pytest.mark.parametrize(("name", "steps", "bound"), FEW_STEP_BOUNDS)
def test_third_order_beats_first_order_at_few_steps(name: str, steps: int, bound: float) -> None:
    err = _gaussian_error(name, "uniform", steps)
    first = _gaussian_error("ddim", "uniform", steps)
    assert err < first / 2, f"{name}-{steps}: {err:.4f} not below half DDIM's {first:.4f}"
    assert err <= bound, f"{name}-{steps}: max error {err:.4f} > {bound}"
    assert err >= bound / 4, f"{name}-{steps}: error {err:.4f} is implausibly small"


@pytest.mark.parametrize(("name", "steps", "bound"), LOG_SNR_BOUNDS)
def test_third_order_follows_the_flow_on_equal_lambda_steps(
    name: str, steps: int, bound: float
) -> None:
    err = _gaussian_error(name, "log_snr", steps)
    assert bound / 4 <= err <= bound, f"{name}-{steps} log_snr: max error {err:.4f}, bound {bound}"


@pytest.mark.parametrize("name", THIRD_ORDER)
@pytest.mark.parametrize("steps", [25, 50])
def test_third_order_convergence(name: str, steps: int) -> None:
    """On the log_snr grid (equal steps in lambda) doubling the steps divides the error by
    about 2^3 or more (second-order DPM++(2M): 3.7-4.0)."""
    ratio = _gaussian_error(name, "log_snr", steps) / _gaussian_error(name, "log_snr", 2 * steps)
    assert ratio >= 0.75 * 2**3, f"{name} {steps} -> {2 * steps} steps: error ratio {ratio:.2f}"


@pytest.mark.parametrize("name", THIRD_ORDER)
def test_oracle_denoiser_returns_x0(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 3, 8, dtype=torch.float64, generator=g)
    x_T = torch.randn(2, 3, 8, dtype=torch.float64, generator=g)
    ts = sampler_timesteps(name, SCHED, 10)
    torch.testing.assert_close(get_sampler(name)(oracle(x0), x_T, SCHED, ts), x0, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", THIRD_ORDER)
def test_gaussian_mixture_moments(name: str) -> None:
    """Bimodal data through the exact mixture denoiser: mean, variance and mode weights."""
    n = 4000
    x_T = torch.randn(n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = get_sampler(name)(mixture_model_fn, x_T, SCHED, sampling_timesteps(SCHED, 20, "uniform"))
    mean = float((W * torch.tensor([-2.0, 1.5], dtype=torch.float64)).sum())
    assert abs(out.mean().item() - mean) < 0.1
    frac_left = (out < 0).double().mean().item()
    assert abs(frac_left - 0.3) < 0.04


@pytest.mark.parametrize("name", THIRD_ORDER)
def test_one_call_per_grid_point_callback_and_determinism(name: str) -> None:
    """n grid points: n model calls, callback (i, n, x) after each, the last x is the output;
    deterministic whatever the generator."""
    x_T = torch.randn(2, 64, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    ts = sampler_timesteps(name, SCHED, 9)
    calls: list[tuple[int, int, torch.Tensor]] = []
    nfe = [0]

    def counted(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        nfe[0] += 1
        return gaussian_model_fn(x, t)

    spec = get_sampler(name)
    out = spec(
        counted,
        x_T,
        SCHED,
        ts,
        callback=lambda i, n, x: calls.append((i, n, x.clone())),
        generator=torch.Generator().manual_seed(1),
    )
    assert nfe[0] == 9
    assert [(i, n) for i, n, _ in calls] == [(i, 9) for i in range(9)]
    assert all(x.shape == x_T.shape and x.dtype == x_T.dtype for _, _, x in calls)
    assert torch.equal(calls[-1][2], out)
    again = spec(gaussian_model_fn, x_T, SCHED, ts, generator=torch.Generator().manual_seed(2))
    assert torch.equal(again, out)


def test_phi_terms_are_the_integrals() -> None:
    """E_k(h) = int_0^h e^-(h-u) u^(k-1)/(k-1)! du, checked by Simpson quadrature."""
    for h in (0.05, 0.7, 3.0):
        u = torch.linspace(0.0, h, 2001, dtype=torch.float64)
        w = torch.ones_like(u)
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        for k, got in enumerate(phi_terms(h, 4), start=1):
            f = torch.exp(-(h - u)) * u ** (k - 1) / math.factorial(k - 1)
            want = float((w * f).sum()) * h / 6000
            assert got == pytest.approx(want, rel=1e-9), (h, k)


def test_orders_warm_up_and_lower_the_final_steps() -> None:
    assert multistep_orders(9, 3) == [1, 2, 3, 3, 3, 3, 3, 2, 1]  # < 19 updates: lower final
    assert multistep_orders(18, 3) == [1, 2] + [3] * 14 + [2, 1]  # 19 steps: still lowered
    assert multistep_orders(19, 3) == [1, 2] + [3] * 16 + [1]  # 20 steps: first order into t = 0
    assert multistep_orders(4, 2) == [1, 2, 2, 1]
    assert multistep_orders(30, 2) == [1] + [2] * 28 + [1]  # DPM++(2M)'s orders
    assert multistep_orders(1, 3) == [1] and multistep_orders(0, 3) == []


# -- single updates against closed forms ---------------------------------------------------------
# With a data prediction that is a polynomial P in lambda (independent of x), the exact update
# from lambda_0 to lambda_0 + h is ratio x + sigma_next int e^u P(u) du, and
# int e^u P(u) du = e^u (P - P' + P'' - ...): closed form, no quadrature. A multistep update of
# order k that estimates x0' .. x0^(k-1) from its points is exact for deg P <= k - 1 on any grid.
LAMS = [-1.3, -0.5, 0.2]  # unequal gaps 0.8, 0.7: a swapped h_a / h_b shows
LAM_NEXT, SIGMA_NEXT, RATIO = 1.1, 0.6, 0.9


def _poly(coef: list[torch.Tensor], u: float) -> torch.Tensor:
    return sum(c * u**i for i, c in enumerate(coef))  # type: ignore[return-value]


def _antiderivative(coef: list[torch.Tensor], u: float) -> torch.Tensor:
    """e^u (P - P' + P'' - ...)(u), an antiderivative of e^u P(u)."""
    derivs, out, sign = list(coef), torch.zeros_like(coef[0]), 1.0
    while derivs:
        out = out + sign * _poly(derivs, u)
        derivs = [i * c for i, c in enumerate(derivs)][1:]
        sign = -sign
    return math.exp(u) * out


def _exact_update(x: torch.Tensor, coef: list[torch.Tensor], lam0: float) -> torch.Tensor:
    return RATIO * x + SIGMA_NEXT * (_antiderivative(coef, LAM_NEXT) - _antiderivative(coef, lam0))


def _coefs(degree: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 2, 4, dtype=torch.float64, generator=g) for _ in range(degree + 1)]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_dpmpp_update_is_exact_on_polynomials(order: int) -> None:
    """DPM++(k) updates (1, 2, 3M) are exact for x0 polynomial of degree k - 1 in lambda on
    unequal steps, and not for degree k (they do use x0', x0'' and only those)."""
    x = torch.randn(1, 2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    alpha = SIGMA_NEXT * math.exp(LAM_NEXT)
    lams = LAMS[-order:]
    for degree, exact in ((order - 1, True), (order, False)):
        coef = _coefs(degree, 12 + degree)
        x0s = [_poly(coef, u) for u in lams]
        got = dpmpp_taylor_step(x, x0s, lams, LAM_NEXT, RATIO, alpha)
        want = _exact_update(x, coef, lams[-1])
        assert torch.allclose(got, want, atol=1e-12, rtol=0) == exact, (order, degree)


@pytest.mark.parametrize("variant", ["bh1", "bh2"])
def test_unipc_update_is_exact_on_polynomials(variant: str) -> None:
    """UniP with two differences (three points) and UniC with one difference plus the new
    prediction are exact for quadratic x0 whatever B(h) (the order conditions are solved
    exactly): wrong factorials in g, a wrong r or a wrong E_k break it."""
    x = torch.randn(1, 2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(13))
    alpha = SIGMA_NEXT * math.exp(LAM_NEXT)
    coef = _coefs(2, 14)
    x0s = [_poly(coef, u) for u in LAMS]
    want = _exact_update(x, coef, LAMS[-1])
    predicted = unipc_step(x, x0s, LAMS, LAM_NEXT, RATIO, alpha, variant)
    torch.testing.assert_close(predicted, want, atol=1e-12, rtol=0)
    new = _poly(coef, LAM_NEXT)
    corrected = unipc_step(x, x0s[1:], LAMS[1:], LAM_NEXT, RATIO, alpha, variant, new_x0=new)
    torch.testing.assert_close(corrected, want, atol=1e-12, rtol=0)


def test_unipc_one_difference_pins_b_h() -> None:
    """With one difference UniPC sets a_1 = 1/2 (its order condition only to O(h)), so B(h)
    enters: x_next = ratio x + alpha (1 - e^-h) m0 + alpha B(h) (m1 - m0) / (2 r1),
    r1 = (lambda_1 - lambda_0) / h, B(h) = h (bh1) or 1 - e^-h (bh2); the same with
    D = new - m0, r = 1 for the corrector. Numbers by hand: h = 0.9, r1 = -0.7 / 0.9."""
    g = torch.Generator().manual_seed(3)
    x, m0, m1, new = (torch.randn(1, 2, 4, dtype=torch.float64, generator=g) for _ in range(4))
    lams, alpha, h = [-0.5, 0.2], 0.8, 0.9
    lam_next, e1 = 0.2 + h, 1 - math.exp(-0.9)
    r1 = -0.7 / 0.9
    for variant, b_h in (("bh1", 0.9), ("bh2", e1)):
        got = unipc_step(x, [m1, m0], lams, lam_next, RATIO, alpha, variant)
        want = RATIO * x + alpha * e1 * m0 + alpha * b_h * (m1 - m0) / (2 * r1)
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0, msg=variant)
        got = unipc_step(x, [m0], lams[1:], lam_next, RATIO, alpha, variant, new_x0=new)
        want = RATIO * x + alpha * e1 * m0 + alpha * b_h * (new - m0) / 2
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0, msg=variant)
    with pytest.raises(ValueError, match="unknown UniPC variant 'bh3'"):
        sample_unipc(oracle(x), x, SCHED, sampling_timesteps(SCHED, 3), variant="bh3")


def test_dpmpp_3m_sampler_is_exact_on_a_quadratic_oracle() -> None:
    """The whole sampler with an oracle whose x0 prediction varies with t (quadratic in
    lambda, independent of x): every third-order update (k = 2 .. 8 of 11 on a 12-point
    uniform grid, unequal steps in lambda) is the exact flow; the first-order first one is not.
    (A constant x0 makes every difference zero and tests no higher-order term.)"""
    coef = _coefs(2, 15)

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = SCHED.alpha_bar(t.double()).reshape(-1, 1, 1)
        lam = 0.5 * torch.log(a / (1 - a))
        return (a.sqrt() * x - _poly(coef, lam)) / (1 - a).sqrt()  # type: ignore[arg-type]

    ts = sampling_timesteps(SCHED, 12, "uniform")
    ab = SCHED.alpha_bar(ts)
    lam, sigma = (0.5 * torch.log(ab / (1 - ab))).tolist(), (1 - ab).sqrt().tolist()
    x_T = torch.randn(1, 2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(16))
    xs = [x_T]
    get_sampler("dpmpp3m")(model_fn, x_T, SCHED, ts, callback=lambda i, n, x: xs.append(x.clone()))

    def exact(k: int) -> torch.Tensor:  # x_k carried exactly from lam[k] to lam[k + 1]
        integral = _antiderivative(coef, lam[k + 1]) - _antiderivative(coef, lam[k])
        return sigma[k + 1] / sigma[k] * xs[k] + sigma[k + 1] * integral

    for k in range(2, 9):
        torch.testing.assert_close(xs[k + 1], exact(k), atol=1e-6, rtol=1e-6, msg=f"update {k}")
    assert not torch.allclose(xs[1], exact(0), atol=1e-3, rtol=0)


def test_registry_names_run_their_variant() -> None:
    """unipc is UniPC-2 with B(h) = 1 - e^-h, unipc_bh1 with B(h) = h (and they differ)."""
    x_T = torch.randn(2, 64, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    ts = sampling_timesteps(SCHED, 8, "uniform")
    outs = {}
    for name, variant in (("unipc", "bh2"), ("unipc_bh1", "bh1")):
        outs[name] = get_sampler(name)(gaussian_model_fn, x_T, SCHED, ts)
        direct = sample_unipc(gaussian_model_fn, x_T, SCHED, ts, order=2, variant=variant)
        assert torch.equal(outs[name], direct), name
    assert not torch.allclose(outs["unipc"], outs["unipc_bh1"])
