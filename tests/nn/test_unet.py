"""SamuelUNet: paper config forward/backward (fp32, bf16 autocast), state_dict, conditioning."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect

import pytest
import torch

from samuel_pl.config.schema import ModelConfig
from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.nn.unet import SamuelUNet

PAPER_PARAMS = 15_571_904  # SPEC.md: the reference code's parameter count
ALPHA_BAR = CosineSchedule(800).alpha_bar


def tiny_config(**kw: object) -> dict[str, object]:
    """Keyword arguments of a tiny U-Net (8 latent channels)."""
    base: dict[str, object] = dict(
        in_channels=8, channels=[16, 32], time_dim=32, time_hidden=64, heads=2, groups=4, window=4
    )
    base.update(kw)
    return base


@pytest.fixture(scope="module")
def paper() -> SamuelUNet:
    torch.manual_seed(0)
    return SamuelUNet(in_channels=64)


def test_paper_parameter_count_within_10_percent(paper: SamuelUNet) -> None:
    n = sum(p.numel() for p in paper.parameters())
    assert abs(n - PAPER_PARAMS) / PAPER_PARAMS < 0.10, n


def test_paper_forward_backward_fp32_and_bf16(paper: SamuelUNet) -> None:
    x, c = torch.randn(1, 64, 128), torch.randn(1, 64, 128)
    t = torch.tensor([437.5])
    v = paper(x, t, c)
    assert v.shape == x.shape and v.dtype == torch.float32 and torch.isfinite(v).all()
    (v - x).pow(2).mean().backward()
    # the zero-init output conv gets a gradient first; deeper layers only once it is non-zero
    assert paper.out[-1].weight.grad.abs().sum() > 0  # type: ignore[union-attr]
    with torch.no_grad():
        for p in paper.out[-1].parameters():
            p.normal_(std=0.02)
    paper.zero_grad(set_to_none=True)
    (paper(x, t, c) - x).pow(2).mean().backward()
    grads = {n: p.grad for n, p in paper.named_parameters() if p.grad is not None}
    assert all(torch.isfinite(g).all() for g in grads.values())
    assert grads["in_attn.to_q.weight"].abs().sum() > 0
    assert grads["time_embed.mlp.0.weight"].abs().sum() > 0
    paper.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        vb = paper(x, t, c, drop_cond=torch.tensor([True]))
    assert torch.isfinite(vb).all()
    vb.float().pow(2).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in paper.parameters() if p.grad is not None)
    paper.zero_grad(set_to_none=True)


def test_state_dict_round_trip_and_no_rope_buffers(paper: SamuelUNet) -> None:
    sd = paper.state_dict()
    assert not any("cos_cached" in k or "sin_cached" in k or "inv_freq" in k for k in sd)
    other = SamuelUNet(in_channels=64)
    other.load_state_dict(sd, strict=True)
    for k, v in other.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_output_conv_starts_at_zero_and_cond_matters() -> None:
    torch.manual_seed(0)
    m = SamuelUNet(**tiny_config())
    x, c = torch.randn(2, 8, 32), torch.randn(2, 8, 32)
    t = torch.tensor([10.0, 700.0])
    assert torch.count_nonzero(m(x, t, c)) == 0
    with torch.no_grad():
        for p in m.out[-1].parameters():
            p.normal_(std=0.1)
    v1, v2 = m(x, t, c), m(x, t, c + torch.randn_like(c))
    assert (v1 - v2).abs().max() > 1e-4
    # dropped condition: the vocal latent no longer matters, the null context does
    d = torch.tensor([True, False])
    u1, u2 = m(x, t, c, drop_cond=d), m(x, t, c + torch.randn_like(c), drop_cond=d)
    torch.testing.assert_close(u1[0], u2[0])
    assert (u1[1] - u2[1]).abs().max() > 1e-4
    with torch.no_grad():
        m.null_cond.add_(1.0)
    assert (m(x, t, c, drop_cond=d)[0] - u1[0]).abs().max() > 1e-4


def test_length_not_divisible_raises() -> None:
    m = SamuelUNet(**tiny_config(channels=[16, 16, 32]))
    x = torch.randn(1, 8, 30)
    with pytest.raises(ValueError, match="divisible by 4"):
        m(x, torch.tensor([1.0]), x)


@pytest.mark.parametrize("schedule", ["reference", "linear", "alpha_bar", "learned"])
def test_mix_schedules_run_and_expose_weights(schedule: str) -> None:
    m = SamuelUNet(**tiny_config(mix_schedule=schedule), alpha_bar=ALPHA_BAR)
    x = torch.randn(2, 8, 16)
    v = m(x, torch.tensor([0.0, 799.0]), x)
    assert v.shape == x.shape
    w = m.mixing_weights(torch.tensor([0.0, 799.0]))
    assert set(w) == {"in_attn", "mid_attn"} and w["in_attn"]["local"].shape == (2,)


def test_continuous_and_scalar_timesteps() -> None:
    m = SamuelUNet(**tiny_config())
    x = torch.randn(3, 8, 16)
    assert m(x, torch.tensor([0.25, 1.5, 798.9]), x).shape == x.shape
    assert m(x, torch.tensor(5.0), x).shape == x.shape


@pytest.mark.parametrize("concat", [False, True])
def test_cond_concat_is_a_direct_path_to_the_vocal(concat: bool) -> None:
    """With the vocal's own input conv silenced, only the concatenation path can carry it."""
    torch.manual_seed(0)
    m = SamuelUNet(**tiny_config(cond_concat=concat))
    assert m.in_x.in_channels == (16 if concat else 8)
    with torch.no_grad():
        m.in_cond.weight.zero_()
        m.in_cond.bias.zero_()  # type: ignore[union-attr]
        for p in m.out[-1].parameters():
            p.normal_(std=0.1)
    x, c = torch.randn(2, 8, 32), torch.randn(2, 8, 32)
    t = torch.tensor([10.0, 700.0])
    change = (m(x, t, c) - m(x, t, c + torch.randn_like(c))).abs().max()
    assert (change > 1e-4) if concat else (change < 1e-6)
    # a dropped condition reaches the concatenated input as the null vector too (CFG stays valid)
    d = torch.tensor([True, True])
    torch.testing.assert_close(m(x, t, c, drop_cond=d), m(x, t, -c, drop_cond=d))


# sha1 of "key:shape" lines of the state dict, from the code before the network stopped taking a
# ModelConfig (commit 1498f2c): torch.manual_seed(0); SamuelUNet(ModelConfig(in_channels=4,
# channels=[8, 16], time_dim=16, time_hidden=32, heads=2, groups=2, window=4, mix_schedule=...,
# cond_concat=True), train_steps=100, cosine_s=0.02).state_dict()
OLD_KEYS = {
    "reference": "d4ec6174dbea688fe084a19852bc2edc3eb2b6cf",
    "alpha_bar": "d4ec6174dbea688fe084a19852bc2edc3eb2b6cf",
    "learned": "47be2d3de8a02caea1bc2a4c15f34ef5b982c254",
}


@pytest.mark.parametrize("schedule", sorted(OLD_KEYS))
def test_state_dict_keys_are_those_of_saved_checkpoints(schedule: str) -> None:
    """Checkpoints saved before the plain-argument constructor load: same names and shapes."""
    m = SamuelUNet(
        in_channels=4,
        channels=[8, 16],
        time_dim=16,
        time_hidden=32,
        heads=2,
        groups=2,
        window=4,
        mix_schedule=schedule,
        cond_concat=True,
        train_steps=100,
        alpha_bar=CosineSchedule(100, 0.02).alpha_bar,
    )
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in m.state_dict().items())
    assert hashlib.sha1(lines.encode()).hexdigest() == OLD_KEYS[schedule]


def test_the_model_config_is_the_constructor_arguments() -> None:
    """``SamuelUNet(**asdict(model))``: every config field is an argument, with its default."""
    params = inspect.signature(SamuelUNet).parameters
    for f in dataclasses.fields(ModelConfig):
        default = f.default_factory() if callable(f.default_factory) else f.default
        assert f.name in params, f.name
        got = params[f.name].default
        if f.name != "in_channels":  # 0 in the config: filled in from the codec
            assert (list(got) if isinstance(got, tuple) else got) == default, f.name


def test_alpha_bar_mix_needs_the_noise_level() -> None:
    with pytest.raises(ValueError, match="alpha_bar"):
        SamuelUNet(**tiny_config(mix_schedule="alpha_bar"))
