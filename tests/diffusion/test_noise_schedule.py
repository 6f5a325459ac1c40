"""Cosine schedule: discrete table from the formula, continuous access, log-SNR."""

from __future__ import annotations

import math

import torch

from samuel_pl.diffusion.noise_schedule import CosineSchedule


def formula_alpha_bar(steps: int = 800, s: float = 0.008) -> list[float]:
    f = [math.cos((k / steps + s) / (1 + s) * math.pi / 2) ** 2 for k in range(steps + 1)]
    out, prod = [], 1.0
    for k in range(steps):
        prod *= 1.0 - min(1.0 - f[k + 1] / f[k], 0.999)
        out.append(prod)
    return out


def test_discrete_alpha_bar_matches_formula() -> None:
    sched = CosineSchedule(800, 0.008)
    ref = torch.tensor(formula_alpha_bar(), dtype=torch.float64)
    got = sched.alpha_bar(torch.arange(800, dtype=torch.float64))
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-15)
    assert sched.betas.max().item() == 0.999
    assert got[-1] > 0  # clipped last beta: not exactly zero


def test_continuous_access_is_monotone_and_interpolates() -> None:
    sched = CosineSchedule(800)
    t = torch.linspace(0, 799, 5000, dtype=torch.float64)
    a = sched.alpha_bar(t)
    assert (a[1:] < a[:-1]).all()
    mid = sched.alpha_bar(torch.tensor([10.5], dtype=torch.float64))
    lo, hi = sched.alpha_bar(torch.tensor([10.0, 11.0], dtype=torch.float64))
    assert hi < mid < lo
    assert sched.alpha_bar(torch.tensor([3.0])).dtype == torch.float32


def test_sigma_alpha_log_snr_consistent() -> None:
    sched = CosineSchedule(800)
    t = torch.tensor([0.0, 100.3, 400.0, 799.0], dtype=torch.float64)
    a = sched.alpha_bar(t)
    torch.testing.assert_close(sched.alpha(t) ** 2 + sched.sigma(t) ** 2, torch.ones(4).double())
    torch.testing.assert_close(sched.log_snr(t), torch.log(a / (1 - a)))
    torch.testing.assert_close(sched.snr(t), a / (1 - a))
    knots = torch.tensor([0.0, 17.0, 400.0, 799.0], dtype=torch.float64)
    torch.testing.assert_close(sched.t_from_log_snr(sched.log_snr(knots)), knots)
