"""Local attention branch: window support, masking, parity with a dense reference."""

from __future__ import annotations

import pytest
import torch

from samuel_pl.nn.attention_local import local_attention, unfold_windows, window_offsets


def dense_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Per-query softmax over keys j with i - W//2 <= j <= i + W - W//2 - 1 inside [0, T)."""
    b, h, d, t = q.shape
    lo_off, hi_off = window // 2, window - window // 2 - 1
    out = torch.zeros_like(q)
    for i in range(t):
        lo, hi = max(0, i - lo_off), min(t, i + hi_off + 1)
        s = torch.einsum("bhd,bhdj->bhj", q[..., i], k[..., lo:hi]) / d**0.5  # (B, h, n)
        p = s.softmax(-1)
        out[..., i] = torch.einsum("bhj,bhdj->bhd", p, v[..., lo:hi])
    return out


@pytest.mark.parametrize(("t", "window"), [(37, 16), (40, 5), (8, 16), (16, 1)])
def test_matches_dense_masked_reference_float64(t: int, window: int) -> None:
    g = torch.Generator().manual_seed(t + window)
    q, k, v = (torch.randn(2, 3, 4, t, generator=g, dtype=torch.float64) for _ in range(3))
    out = local_attention(q, k, v, window)
    ref = dense_reference(q, k, v, window)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_gradient_outside_window_is_exactly_zero() -> None:
    t, window = 40, 16
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 2, 4, t, generator=g, dtype=torch.float64)
    k = torch.randn(1, 2, 4, t, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 2, 4, t, generator=g, dtype=torch.float64, requires_grad=True)
    for i in (0, 5, 20, 39):
        out = local_attention(q, k, v, window)
        gk, gv = torch.autograd.grad(out[..., i].sum(), (k, v))
        inside = torch.zeros(t, dtype=torch.bool)
        inside[max(0, i - window // 2) : min(t, i + window - window // 2)] = True
        assert (gk[..., ~inside] == 0).all() and (gv[..., ~inside] == 0).all()
        assert (gv[..., inside].abs().sum(dim=(0, 1, 2)) > 0).all()  # every window frame is used


def test_out_of_range_slots_are_masked_not_zero_filled() -> None:
    # With keys all zero, zero-filled padding would get weight too: the output at frame 0 must
    # be the mean of the valid values only.
    t, window = 12, 8
    q = torch.randn(1, 1, 2, t, dtype=torch.float64)
    k = torch.zeros(1, 1, 2, t, dtype=torch.float64)
    v = torch.randn(1, 1, 2, t, dtype=torch.float64)
    out = local_attention(q, k, v, window)
    left, right = window_offsets(window)
    torch.testing.assert_close(out[..., 0], v[..., : right + 1].mean(-1))
    torch.testing.assert_close(out[..., t - 1], v[..., t - 1 - left :].mean(-1))


def test_shift_equivariance_away_from_edges() -> None:
    t, window, s = 48, 8, 5
    q, k, v = (torch.randn(1, 2, 4, t, dtype=torch.float64) for _ in range(3))
    out = local_attention(q, k, v, window)
    out_s = local_attention(*(z.roll(s, dims=-1) for z in (q, k, v)), window)
    inner = slice(window + s, t - window)
    torch.testing.assert_close(out_s[..., inner], out.roll(s, dims=-1)[..., inner])


def test_unfold_windows_layout() -> None:
    x = torch.arange(10, dtype=torch.float64).reshape(1, 1, 1, 10)
    w = unfold_windows(x, 4)  # left 2, right 1
    assert w.shape == (1, 1, 1, 10, 4)
    assert w[0, 0, 0, 5].tolist() == [3.0, 4.0, 5.0, 6.0]
    assert w[0, 0, 0, 0].tolist() == [0.0, 0.0, 0.0, 1.0]  # two padded slots, then frames 0, 1
