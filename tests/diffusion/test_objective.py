"""v-parameterisation (standard sign), loss weights and the training loss."""

from __future__ import annotations

import math

import pytest
import torch

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.objective import (
    eps_from_v,
    loss_weight,
    q_sample,
    training_loss,
    v_from_x0_eps,
    x0_from_v,
)


def test_v_recovers_x0_and_eps_at_every_step_float64() -> None:
    sched = CosineSchedule(800)
    t = torch.arange(800, dtype=torch.float64)
    a = sched.alpha_bar(t)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(800, 3, 5, dtype=torch.float64, generator=g)
    eps = torch.randn(800, 3, 5, dtype=torch.float64, generator=g)
    x_t = q_sample(x0, eps, a)
    v = v_from_x0_eps(x0, eps, a)
    # standard sign, written out here: v = sqrt(a) eps - sqrt(1 - a) x0
    sa, s1 = a.sqrt()[:, None, None], (1 - a).sqrt()[:, None, None]
    torch.testing.assert_close(v, sa * eps - s1 * x0, rtol=0, atol=1e-12)
    torch.testing.assert_close(x_t, sa * x0 + s1 * eps, rtol=0, atol=1e-12)
    torch.testing.assert_close(x0_from_v(x_t, v, a), x0, rtol=0, atol=1e-6)
    torch.testing.assert_close(eps_from_v(x_t, v, a), eps, rtol=0, atol=1e-6)


def test_loss_weights() -> None:
    snr = torch.tensor([0.01, 1.0, 5.0, 100.0])
    torch.testing.assert_close(loss_weight(snr, "none"), torch.ones(4))
    expect = torch.tensor([0.01 / 1.01, 1.0 / 2.0, 5.0 / 6.0, 5.0 / 101.0])
    torch.testing.assert_close(loss_weight(snr, "min_snr", 5.0), expect)
    torch.testing.assert_close(loss_weight(snr, "reference"), torch.tensor([10.0, 2.0, 0.4, 0.02]))
    with pytest.raises(ValueError, match="min_snr"):
        loss_weight(snr, "bogus")


def test_training_loss_matches_manual_computation() -> None:
    sched = CosineSchedule(800)
    seen: dict[str, torch.Tensor] = {}

    def model(x, t, cond, drop_cond=None):
        seen.update(x=x, t=t, drop=drop_cond)
        return 0.5 * x + cond

    x0, cond, noise = torch.randn(3, 2, 8), torch.randn(3, 2, 8), torch.randn(3, 2, 8)
    t = torch.tensor([0.0, 400.0, 799.0])
    drop = torch.tensor([False, True, False])
    out = training_loss(model, x0, cond, sched, weighting="min_snr", t=t, noise=noise, drop=drop)
    a = [sched.alpha_bar(torch.tensor([float(s)], dtype=torch.float64)).item() for s in t]
    per, weights = [], []
    for i, ai in enumerate(a):
        x_t = math.sqrt(ai) * x0[i] + math.sqrt(1 - ai) * noise[i]
        target = math.sqrt(ai) * noise[i] - math.sqrt(1 - ai) * x0[i]
        per.append(((0.5 * x_t + cond[i] - target) ** 2).mean())
        snr = ai / (1 - ai)
        weights.append(min(snr, 5.0) / (snr + 1))
    expect = sum(w * p for w, p in zip(weights, per)) / 3
    assert out.loss.item() == pytest.approx(expect.item(), rel=1e-4)
    assert torch.equal(seen["drop"], drop) and torch.equal(out.t, t)


def test_condition_dropout_rate_and_uniform_t() -> None:
    sched = CosineSchedule(800)
    n, p = 20_000, 0.1
    g = torch.Generator().manual_seed(0)
    out = training_loss(
        lambda x, t, c, drop_cond=None: torch.zeros_like(x),
        torch.zeros(n, 1, 1),
        torch.zeros(n, 1, 1),
        sched,
        cond_drop_prob=p,
        generator=g,
    )
    rate = out.drop.float().mean().item()
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n)  # 4 sigma
    assert out.t.min() >= 0 and out.t.max() <= 799 and torch.equal(out.t, out.t.round())
    assert abs(out.t.mean().item() - 399.5) < 4 * 231 / math.sqrt(n)
    none = training_loss(
        lambda x, t, c, drop_cond=None: x,
        torch.zeros(64, 1, 1),
        torch.zeros(64, 1, 1),
        sched,
        cond_drop_prob=0.0,
    )
    assert not none.drop.any()
