"""Timestep mixing schedules: end points from their definitions, convexity of the learned gate."""

from __future__ import annotations

import math

import pytest
import torch

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.nn.attention_mixing import TimestepMixer

T_TRAIN = 800


def cosine_alpha_bar_discrete(i: int, steps: int = T_TRAIN, s: float = 0.008) -> float:
    f = [math.cos((k / steps + s) / (1 + s) * math.pi / 2) ** 2 for k in range(steps + 1)]
    prod = 1.0
    for k in range(i + 1):
        prod *= 1.0 - min(1.0 - f[k + 1] / f[k], 0.999)
    return prod


@pytest.mark.parametrize(
    ("name", "at0", "at_end"),
    [
        ("reference", (0.0, 1.0), (1.0, 0.0)),
        ("linear", (0.0, 1.0), (1.0, 0.0)),
        ("local_only", (1.0, 0.0), (1.0, 0.0)),
        ("global_only", (0.0, 1.0), (0.0, 1.0)),
    ],
)
def test_end_points(name: str, at0: tuple[float, float], at_end: tuple[float, float]) -> None:
    mixer = TimestepMixer(name, T_TRAIN)
    wl, wg = mixer(torch.tensor([0.0, T_TRAIN - 1.0]))
    assert (wl[0].item(), wg[0].item()) == pytest.approx(at0, abs=1e-7)
    assert (wl[1].item(), wg[1].item()) == pytest.approx(at_end, abs=1e-7)


def test_reference_is_sqrt_ramp_and_linear_is_convex() -> None:
    t = torch.tensor([200.0])
    tau = 200.0 / (T_TRAIN - 1)
    wl, wg = TimestepMixer("reference", T_TRAIN)(t)
    assert (wl.item(), wg.item()) == pytest.approx((math.sqrt(tau), math.sqrt(1 - tau)))
    wl, wg = TimestepMixer("linear", T_TRAIN)(t)
    assert (wl.item(), wg.item()) == pytest.approx((tau, 1 - tau))


def test_alpha_bar_schedule() -> None:
    mixer = TimestepMixer("alpha_bar", T_TRAIN)
    noise = CosineSchedule(T_TRAIN, 0.008)
    for i in (0, 399, T_TRAIN - 1):
        t = torch.tensor([float(i)])
        wl, wg = mixer(t, alpha_bar=noise.alpha_bar(t))
        a = cosine_alpha_bar_discrete(i)
        assert wg.item() == pytest.approx(a, rel=1e-5, abs=1e-9)
        assert (wl + wg).item() == pytest.approx(1.0)


def test_learned_gate_is_convex_and_trainable() -> None:
    torch.manual_seed(0)
    mixer = TimestepMixer("learned", T_TRAIN, time_dim=16)
    assert mixer.gate is not None
    torch.nn.init.normal_(mixer.gate.weight, std=3.0)
    temb = torch.randn(64, 16)
    wl, wg = mixer(torch.zeros(64), temb)
    torch.testing.assert_close(wl + wg, torch.ones(64))
    assert (wl >= 0).all() and (wg >= 0).all() and wl.std() > 0.05
    wg.sum().backward()
    assert mixer.gate.weight.grad is not None and mixer.gate.weight.grad.abs().sum() > 0


def test_weights_accessor_and_unknown_name() -> None:
    w = TimestepMixer("linear", T_TRAIN).weights(torch.linspace(0, T_TRAIN - 1, 5))
    assert set(w) == {"local", "global"} and w["local"].shape == (5,)
    with pytest.raises(ValueError, match="reference"):
        TimestepMixer("nope")
    with pytest.raises(ValueError, match="needs alpha_bar"):  # the network knows no schedule
        TimestepMixer("alpha_bar", T_TRAIN)(torch.zeros(2))
