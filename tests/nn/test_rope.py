"""RoPE: relative-position property, parity with the complex-rotation formula, buffers."""

from __future__ import annotations

import torch

from samuel_pl.nn.rope import RotaryEmbedding


def direct_rope(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """x: (..., T, d). Pair (k, k + d/2) at position p rotated by p * base^(-2k/d)."""
    t, d = x.shape[-2:]
    half = d // 2
    out = torch.empty_like(x)
    for p in range(t):
        for kk in range(half):
            theta = p * base ** (-2 * kk / d)
            z = complex(1.0, 0.0) * torch.complex(x[..., p, kk], x[..., p, kk + half])
            z = z * complex(torch.cos(torch.tensor(theta)), torch.sin(torch.tensor(theta)))
            out[..., p, kk], out[..., p, kk + half] = z.real, z.imag
    return out


def test_parity_with_direct_formula() -> None:
    rope = RotaryEmbedding(8, max_len=4)  # the table must grow to 20
    x = torch.randn(2, 3, 20, 8)
    torch.testing.assert_close(rope(x), direct_rope(x), atol=1e-5, rtol=1e-5)


def test_scores_depend_only_on_offset() -> None:
    rope = RotaryEmbedding(16)
    t = 24
    q = torch.randn(16).expand(1, 1, t, 16)  # same vector at every position
    k = torch.randn(16).expand(1, 1, t, 16)
    s = (rope(q) @ rope(k).transpose(-1, -2))[0, 0]  # (T, T)
    for i in range(1, t):
        for j in range(1, t):
            assert torch.allclose(s[i, j], s[i - 1, j - 1], atol=1e-4)
    assert not torch.allclose(s[0, 0], s[0, 5])  # position actually matters


def test_tables_are_not_in_state_dict() -> None:
    rope = RotaryEmbedding(8)
    assert len(rope.state_dict()) == 0
    names = {n for n, _ in rope.named_buffers()}
    assert {"cos_cached", "sin_cached"} <= names
