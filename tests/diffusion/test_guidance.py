"""Classifier-free guidance wrapper: scale 1 = conditional, one batched forward otherwise."""

from __future__ import annotations

import torch

from samuel_pl.diffusion import CosineSchedule, x0_from_v
from samuel_pl.diffusion.guidance import CFGDenoiser, InpaintDenoiser
from samuel_pl.generation import known_weight
from samuel_pl.nn.unet import SamuelUNet


def tiny_model() -> SamuelUNet:
    torch.manual_seed(0)
    m = SamuelUNet(
        in_channels=4, channels=[8, 16], time_dim=16, time_hidden=32, heads=2, groups=2, window=4
    ).eval()
    with torch.no_grad():
        for p in m.out[-1].parameters():
            p.normal_(std=0.2)
        m.null_cond.normal_()
    return m


class Counting(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, []

    def forward(self, x, t, cond, drop_cond=None):
        self.calls.append((x.shape[0], drop_cond.clone()))
        return self.inner(x, t, cond, drop_cond=drop_cond)


def test_scale_one_equals_conditional_output() -> None:
    m = tiny_model()
    x, c, t = torch.randn(2, 4, 16), torch.randn(2, 4, 16), torch.tensor([50.0, 600.0])
    with torch.no_grad():
        cond_out = m(x, t, c, drop_cond=torch.zeros(2, dtype=torch.bool))
        torch.testing.assert_close(CFGDenoiser(m, c, 1.0)(x, t), cond_out, rtol=0, atol=0)


def test_guided_output_one_batched_forward() -> None:
    m = tiny_model()
    counted = Counting(m)
    x, c, t = torch.randn(2, 4, 16), torch.randn(2, 4, 16), torch.tensor([50.0, 600.0])
    s = 2.5
    with torch.no_grad():
        guided = CFGDenoiser(counted, c, s)(x, t)
        v_c = m(x, t, c, drop_cond=torch.zeros(2, dtype=torch.bool))
        v_u = m(x, t, c, drop_cond=torch.ones(2, dtype=torch.bool))
    assert len(counted.calls) == 1 and counted.calls[0][0] == 4
    assert counted.calls[0][1].tolist() == [False, False, True, True]
    torch.testing.assert_close(guided, v_u + s * (v_c - v_u), atol=1e-5, rtol=1e-5)
    assert (v_c - v_u).abs().max() > 1e-3  # the null condition really differs


def test_condition_broadcasts_over_batch_and_scalar_t() -> None:
    m = tiny_model()
    x, c = torch.randn(3, 4, 16), torch.randn(1, 4, 16)
    with torch.no_grad():
        out = CFGDenoiser(m, c, 3.0)(x, 100.0)
    assert out.shape == x.shape


def test_inpaint_denoiser_pins_the_known_x0() -> None:
    """Where the weight is 1 the sampler's x0 estimate is x0_known; where 0 it is the model's."""
    sched = CosineSchedule(800)
    gen = torch.Generator().manual_seed(0)
    x, known = torch.randn(2, 4, 16, generator=gen), torch.randn(1, 4, 16, generator=gen)
    v_model = torch.randn(2, 4, 16, generator=gen)
    weight = known_weight(8, 16, 4)
    fn = InpaintDenoiser(lambda x_, t_: v_model, sched, known, weight)
    for step in (799.0, 400.0, 3.0):
        t = torch.full((2,), step)
        a = sched.alpha_bar(t.double()).float()
        x0 = x0_from_v(x, fn(x, t), a)
        x0_model = x0_from_v(x, v_model, a)
        expect = weight * known + (1 - weight) * x0_model
        assert torch.allclose(x0, expect, atol=1e-4)
        assert torch.allclose(x0[..., :4], known[..., :4].expand(2, -1, -1), atol=1e-4)
