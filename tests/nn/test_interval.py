"""Interval features: transposition equivariance, and the U-Net path that carries them."""

from __future__ import annotations

import pytest
import torch

from samuel_pl.nn import SamuelUNet
from samuel_pl.nn.interval import IntervalFeatures


def _features(seed: int = 0) -> IntervalFeatures:
    torch.manual_seed(seed)
    return IntervalFeatures(pitch_channels=36, features=2, span=7, hidden=4)


def test_a_transposition_of_both_inputs_shifts_the_features_by_as_many_channels() -> None:
    """Shared weights along pitch: shifting x_t and the vocal by k semitones shifts the output.

    Compared away from the pitch edges: there zero padding differs from the biased hidden maps
    of silent channels (two convolutions of span 7 reach 3 channels in each)."""
    f, k = _features(), 5
    x, c = torch.zeros(2, 40, 12), torch.zeros(2, 40, 12)
    x[:, 10:18], c[:, 12:20] = torch.randn(2, 8, 12), torch.randn(2, 8, 12)
    base = f(x, c).reshape(2, 2, 36, 12)  # (B, F, P, T)
    moved = f(x.roll(k, dims=1), c.roll(k, dims=1)).reshape(2, 2, 36, 12)
    e = 3  # edge reach of one span-7 convolution after the first
    torch.testing.assert_close(
        moved[:, :, k + e : -e], base[:, :, e : -k - e], atol=1e-5, rtol=1e-5
    )
    # not trivially so: the features depend on where the vocal sits relative to x_t
    other = f(x, c.roll(k, dims=1)).reshape(2, 2, 36, 12)
    assert (other - base).abs().max() > 1e-3


def test_only_the_pitch_channels_are_read() -> None:
    f = _features()
    x, c = torch.randn(1, 40, 8), torch.randn(1, 40, 8)
    x2, c2 = x.clone(), c.clone()
    x2[:, 36:], c2[:, 36:] = 0.0, 0.0
    torch.testing.assert_close(f(x, c), f(x2, c2))
    assert f(x, c).shape == (1, 2 * 36, 8)


@pytest.mark.parametrize(("pitch", "span"), [(1, 25), (12, 4), (12, 1)])
def test_bad_shapes_are_refused(pitch: int, span: int) -> None:
    with pytest.raises(ValueError, match="interval"):
        IntervalFeatures(pitch, 2, span)


def test_the_unet_concatenates_interval_features_at_its_input() -> None:
    """With the vocal's own input conv and concat silenced, only the interval path carries it."""
    torch.manual_seed(0)
    kw = dict(in_channels=8, channels=[16, 32], time_dim=16, time_hidden=32, heads=2, groups=2)
    m = SamuelUNet(**kw, window=4, interval_features=2, interval_span=5)
    assert m.in_x.in_channels == 8 + 2 * 8
    plain = SamuelUNet(**kw, window=4)
    assert set(m.state_dict()) - set(plain.state_dict()) == {
        k for k in m.state_dict() if k.startswith("interval.")
    }
    with torch.no_grad():
        m.in_cond.weight.zero_()
        m.in_cond.bias.zero_()  # type: ignore[union-attr]
        for p in m.out[-1].parameters():
            p.normal_(std=0.1)
    x, c, t = torch.randn(2, 8, 16), torch.randn(2, 8, 16), torch.tensor([5.0, 600.0])
    assert (m(x, t, c) - m(x, t, c + torch.randn_like(c))).abs().max() > 1e-4
