"""Samplers against analytic targets: an oracle, a Gaussian mixture, and Gaussian data whose
exact probability-flow ODE solution is known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from samuel_pl.diffusion.gaussian_oracle import gaussian_flow_x0, gaussian_v
from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.samplers import (
    SAMPLERS,
    SPACINGS,
    get_sampler,
    sample_dpmpp,
    sampler_timesteps,
    sampling_timesteps,
)

SCHED = CosineSchedule(800)
W = torch.tensor([0.3, 0.7], dtype=torch.float64)
MU = torch.tensor([-2.0, 1.5], dtype=torch.float64)
SD = torch.tensor([0.4, 0.6], dtype=torch.float64)


def _a(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return SCHED.alpha_bar(t.double()).to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def _run(name: str, fn, x_T, steps: int, spacing: str = "uniform", **kw) -> torch.Tensor:
    ts = sampler_timesteps(name, SCHED, steps, spacing)
    return get_sampler(name)(fn, x_T, SCHED, ts, **kw)


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
    out = _run(name, oracle(x0), x_T, steps, generator=g)
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
    spacing = kw.pop("spacing", "uniform")
    out = _run(name, mixture_model_fn, x_T, steps, spacing, generator=g, **kw)
    mean = float((W * MU).sum())
    var = float((W * (SD**2 + MU**2)).sum()) - mean**2
    assert abs(out.mean().item() - mean) < 4 * math.sqrt(var / n)
    assert abs(out.var().item() / var - 1) < 0.08
    frac_left = (out < 0).double().mean().item()  # mass of the left mode ~ its weight
    assert abs(frac_left - 0.3) < 0.04


# -- Gaussian data: the probability-flow ODE in closed form ------------------------------------
# (samuel_pl.diffusion.gaussian_oracle: the exact denoiser and the exact flow's x0 from x_T.)
# Means reach +-4 (a clamp of x_t to +-3 fails).
G_MU = torch.linspace(-4.0, 4.0, 64, dtype=torch.float64)[:, None]  # (C, 1)
G_SD = torch.linspace(0.2, 1.0, 64, dtype=torch.float64)[:, None]  # (C, 1)


def gaussian_denoiser_v(x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, sd: torch.Tensor):
    """Exact v for Gaussian data N(mu_c, sd_c^2) per channel; x (B, C, T), t (B,), mu/sd (C, 1)."""
    return gaussian_v(x, t, mu, sd, SCHED)


def gaussian_model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Exact v for the Gaussian data above; x (B, C, T), t (B,)."""
    return gaussian_denoiser_v(x, t, G_MU, G_SD)


def gaussian_flow_endpoint(
    x_T: torch.Tensor, t_start: float, mu: torch.Tensor = G_MU, sd: torch.Tensor = G_SD
) -> torch.Tensor:
    """x0 at t = 0 of the exact flow through x_T at t_start (the grid's first time)."""
    return gaussian_flow_x0(x_T, t_start, mu, sd, SCHED)


def _gaussian_error(name: str, spacing: str, steps: int) -> float:
    """Max abs error against the exact flow from the grid's first time (the sampler's x_T)."""
    x_T = torch.randn(8, 64, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ts = sampler_timesteps(name, SCHED, steps, spacing)
    out = get_sampler(name)(gaussian_model_fn, x_T, SCHED, ts)
    return float((out - gaussian_flow_endpoint(x_T, float(ts[0]))).abs().max())


# Max abs error bounds, about 1.25x the measured error; an error below a quarter of the bound
# fails too. Each DPM++(2M) bound is below what a first-order update (DDIM = DPM-Solver++(1))
# reaches on the same grid (the comment's figure). DPM++(2M) with r inverted (r = h_i/h_{i-1}):
# uniform 0.049 / 0.016, Karras 0.020 (too small) / 0.0061 (too small).
FLOW_BOUNDS = [
    ("dpmpp", "uniform", 25, 0.029),  # first order: 0.169
    ("dpmpp", "uniform", 50, 0.005),  # first order: 0.084
    ("dpmpp", "log_snr", 10, 0.13),  # first order: 0.83
    ("dpmpp", "log_snr", 25, 0.044),  # first order: 0.34
    ("dpmpp", "karras", 25, 0.12),  # first order: 0.38
    ("dpmpp", "karras", 50, 0.027),
    ("ddim", "uniform", 25, 0.21),
    ("ddim", "uniform", 50, 0.105),
    ("ddim", "log_snr", 25, 0.425),
]


@pytest.mark.parametrize(("name", "spacing", "steps", "bound"), FLOW_BOUNDS)
def test_deterministic_samplers_follow_the_exact_flow(
    name: str, spacing: str, steps: int, bound: float
) -> None:
    err = _gaussian_error(name, spacing, steps)
    assert err <= bound, f"{name}-{steps} {spacing}: max error {err:.4f} > {bound}"
    assert err >= bound / 4, f"{name}-{steps} {spacing}: error {err:.4f} is implausibly small"


def test_dpmpp_2m_step_uses_the_midpoint_prediction() -> None:
    """Data prediction linear in lambda, D(lambda) = a + c lambda (independent of x): a
    DPM-Solver++(2M) update is the exponential-integrator step with D at the midpoint,
    x_{i+1} = (sigma_{i+1}/sigma_i) x_i + alpha_{i+1} (1 - e^-h) D(lambda_i + h/2), on a grid
    non-uniform in lambda (r != 1); the first update and the final one (into t = 0) are first
    order, x_{i+1} = ... + alpha_{i+1} (1 - e^-h) D(lambda_i)."""
    g = torch.Generator().manual_seed(9)
    a, c = (torch.randn(1, 2, 4, dtype=torch.float64, generator=g) for _ in range(2))

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        al = _a(t, x)
        lam_t = 0.5 * torch.log(al / (1 - al))
        return (al.sqrt() * x - (a + c * lam_t)) / (1 - al).sqrt()

    ts = sampling_timesteps(SCHED, 7, "uniform")
    ab = SCHED.alpha_bar(ts)
    alpha, sigma = ab.sqrt().tolist(), (1 - ab).sqrt().tolist()
    lam = (0.5 * torch.log(ab / (1 - ab))).tolist()
    assert len({round(lam[k + 1] - lam[k], 3) for k in range(6)}) == 6  # r != 1 everywhere
    x_T = torch.randn(1, 2, 4, dtype=torch.float64, generator=g)
    xs = [x_T]
    sample_dpmpp(model_fn, x_T, SCHED, ts, callback=lambda i, n, x: xs.append(x.clone()))
    for k in range(6):
        h = lam[k + 1] - lam[k]
        at = lam[k] + (h / 2 if 0 < k < 5 else 0.0)
        want = sigma[k + 1] / sigma[k] * xs[k] + alpha[k + 1] * -math.expm1(-h) * (a + c * at)
        torch.testing.assert_close(xs[k + 1], want, atol=1e-5, rtol=0, msg=f"update {k}")


@pytest.mark.parametrize(("name", "order"), [("dpmpp", 2), ("ddim", 1)])
@pytest.mark.parametrize("spacing", ["uniform", "log_snr"])
def test_convergence_order(name: str, order: int, spacing: str) -> None:
    """Doubling the steps divides the error by about 2^order (second order for DPM++(2M))."""
    ratio = _gaussian_error(name, spacing, 25) / _gaussian_error(name, spacing, 50)
    assert 0.8 * 2**order <= ratio <= 1.6 * 2**order, ratio


def test_ancestral_samples_the_gaussian_data() -> None:
    """The paper's 800-step sampler draws from N(mu, s^2): standard scores ~ N(0, 1) per channel."""
    g = torch.Generator().manual_seed(2)
    x_T = torch.randn(64, 64, 8, dtype=torch.float64, generator=g)
    out = _run("ancestral", gaussian_model_fn, x_T, 0, generator=g)
    z = ((out - G_MU) / G_SD).transpose(0, 1).reshape(64, -1)  # (C, samples)
    n = z.shape[1]
    assert z.mean(1).abs().max() < 4.5 / math.sqrt(n)
    assert (z.var(1) - 1).abs().max() < 4.5 * math.sqrt(2 / n)


def test_ddim_sigma_matches_the_closed_form() -> None:
    """One eta > 0 step: x_s = sqrt(a_s) x0 + sqrt(1 - a_s - sig^2) eps + sig z with
    sig = eta sqrt((1 - a_s) / (1 - a_t)) sqrt(1 - a_t / a_s)."""
    eta, (t, s) = 0.6, (600.0, 300.0)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(2, 3, 8, dtype=torch.float64, generator=g)
    x_t = torch.randn(2, 3, 8, dtype=torch.float64, generator=g)
    seen: list[torch.Tensor] = []
    ts = torch.tensor([t, s, 0.0], dtype=torch.float64)
    get_sampler("ddim")(
        oracle(x0),
        x_t,
        SCHED,
        ts,
        eta=eta,
        generator=torch.Generator().manual_seed(4),
        callback=lambda i, n, x: seen.append(x.clone()),
    )
    z = torch.randn(x0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    a_t, a_s = (float(SCHED.alpha_bar(torch.tensor(v, dtype=torch.float64))) for v in (t, s))
    sig = eta * math.sqrt((1 - a_s) / (1 - a_t)) * math.sqrt(1 - a_t / a_s)
    eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
    expect = math.sqrt(a_s) * x0 + math.sqrt(1 - a_s - sig**2) * eps + sig * z
    torch.testing.assert_close(seen[0], expect, atol=1e-10, rtol=0)


def test_ddim_eta_one_is_the_ancestral_step() -> None:
    """DDIM with eta = 1 and ancestral DDPM are the same update on any grid (same noise)."""
    x_T = torch.randn(4, 64, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    ts = sampling_timesteps(SCHED, 12, "log_snr")
    outs = [
        get_sampler(name)(
            gaussian_model_fn, x_T, SCHED, ts, generator=torch.Generator().manual_seed(6), **kw
        )
        for name, kw in (("ddim", {"eta": 1.0}), ("ancestral", {}))
    ]
    torch.testing.assert_close(outs[0], outs[1], atol=1e-9, rtol=0)


@pytest.mark.parametrize(("name", "kw"), [("ancestral", {}), ("ddim", {"eta": 1.0})])
def test_noise_is_drawn_where_the_generator_lives(
    name: str, kw: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CPU generator with x on another device (CUDA in use; 'meta' here) must work: torch
    refuses a generator on another device than the draw, which this stand-in enforces."""
    real = torch.randn

    def strict_randn(*args, generator=None, device=None, **kwargs):
        if generator is not None and torch.device(device or "cpu") != generator.device:
            raise RuntimeError(f"generator on {generator.device}, draw on {device}")
        return real(*args, generator=generator, device=device, **kwargs)

    monkeypatch.setattr(torch, "randn", strict_randn)
    x_T = torch.empty(1, 2, 4, device="meta")
    out = _run(name, lambda x, t: x, x_T, 3, generator=torch.Generator(), **kw)
    assert out.device.type == "meta" and out.shape == x_T.shape


def test_callback_and_registry() -> None:
    calls: list[tuple[int, int]] = []
    x0 = torch.zeros(1, 1, 4, dtype=torch.float64)
    _run(
        "dpmpp",
        oracle(x0),
        torch.randn(1, 1, 4).double(),
        7,
        callback=lambda i, n, x: calls.append((i, n)),
    )
    assert calls == [(i, 7) for i in range(7)]
    assert set(SAMPLERS) == {"ancestral", "ddim", "dpmpp", "dpmpp3m", "unipc", "unipc_bh1"}
    with pytest.raises(ValueError, match="dpmpp"):
        get_sampler("euler")
    with pytest.raises(ValueError, match="log_snr"):
        sampling_timesteps(SCHED, 5, "logsnr")
    with pytest.raises(ValueError, match="decreasing"):
        get_sampler("ddim")(oracle(x0), x0, SCHED, torch.tensor([0.0, 10.0]))


@pytest.mark.parametrize("spacing", SPACINGS)
def test_timesteps_span_and_decrease(spacing: str) -> None:
    ts = sampling_timesteps(SCHED, 12, spacing)
    assert ts[-1] == 0 and (ts[1:] < ts[:-1]).all()
    # the grid starts where lambda = log(alpha/sigma) = -5.1 (log-SNR -10.2), not at t = 799
    # (lambda -9.7): between t = 795 (log-SNR -9.71) and 796 (-10.29) of the table
    assert 795 < ts[0] < 796
    assert float(SCHED.log_snr(ts[:1])) == pytest.approx(-10.2, abs=1e-5)
    assert sampling_timesteps(SCHED, 1, spacing).tolist() == [799.0]  # one step: x0 from T-1
    every_step = torch.arange(799, -1, -1, dtype=torch.float64)
    assert torch.equal(sampler_timesteps("ancestral", SCHED, 12, spacing), every_step)


def test_auto_spacing_is_the_measured_best_of_each_sampler() -> None:
    """auto: log_snr for DPM++(2M) and UniPC, uniform for DDIM, DPM++(3M) and UniPC-bh1
    (benchmarks/results/sampling_quality.md and the Gaussian oracle)."""
    cases = [("dpmpp", "log_snr"), ("unipc", "log_snr"), ("ddim", "uniform")]
    cases += [("dpmpp3m", "uniform"), ("unipc_bh1", "uniform")]
    for name, grid in cases:
        got = sampler_timesteps(name, SCHED, 10, "auto")
        assert torch.equal(got, sampling_timesteps(SCHED, 10, grid)), name
    with pytest.raises(ValueError, match="karras"):
        sampling_timesteps(SCHED, 10, "auto")  # a grid kind only: auto needs the sampler


def test_spacings_are_what_they_say() -> None:
    """uniform: equal t steps; log_snr: equal lambda steps; karras: equal sigma^(1/7) steps."""
    lam = SCHED.log_snr(sampling_timesteps(SCHED, 9, "log_snr"))
    assert torch.allclose(lam.diff(), lam.diff()[:1].expand(8), rtol=2e-3)
    t_steps = sampling_timesteps(SCHED, 9, "uniform").diff()
    t0 = float(sampling_timesteps(SCHED, 9, "uniform")[0])
    assert torch.allclose(t_steps, torch.tensor(-t0 / 8, dtype=torch.float64))
    root = (-SCHED.log_snr(sampling_timesteps(SCHED, 9, "karras")) / 14).exp()  # sigma^(1/7)
    assert torch.allclose(root.diff(), root.diff()[:1].expand(8), rtol=2e-3)


@pytest.mark.parametrize(
    ("name", "keyword"),
    [
        ("dpmpp", "eta"),
        ("ancestral", "eta"),
        ("ddim", "etta"),
        ("dpmpp3m", "eta"),
        ("unipc", "eta"),
    ],
)
def test_a_keyword_the_sampler_does_not_take_is_refused(name: str, keyword: str) -> None:
    """Unknown keywords are errors naming the sampler and the keyword, not silently dropped."""
    x0 = torch.zeros(1, 1, 4, dtype=torch.float64)
    ts = sampler_timesteps(name, SCHED, 3)
    with pytest.raises(TypeError, match=rf"sampler '{name}' takes no keyword '{keyword}'"):
        get_sampler(name)(oracle(x0), x0, SCHED, ts, **{keyword: 0.5})
    with pytest.raises(TypeError, match="eta"):  # the free function refuses it too
        sample_dpmpp(oracle(x0), x0, SCHED, ts, eta=0.0)  # type: ignore[call-arg]


def test_the_registry_says_what_the_settings_mean() -> None:
    """Ancestral walks every training step whatever ``steps``; only DDIM takes ``eta``."""
    assert [n for n, s in SAMPLERS.items() if not s.uses_steps] == ["ancestral"]
    assert {n: s.options(eta=0.3) for n, s in SAMPLERS.items()} == {
        "ancestral": {},
        "ddim": {"eta": 0.3},
        "dpmpp": {},
        "dpmpp3m": {},
        "unipc": {},
        "unipc_bh1": {},
    }
    assert len(get_sampler("ancestral").timesteps(SCHED, 5, "karras")) == 800
    assert len(get_sampler("dpmpp").timesteps(SCHED, 5, "karras")) == 5
