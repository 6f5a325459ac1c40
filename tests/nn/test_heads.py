"""Head split/merge keeps time in place; the whole soft alignment attention vs a loop reference."""

from __future__ import annotations

import math

import pytest
import torch

from samuel_pl.nn.attention import SoftAlignmentAttention
from samuel_pl.nn.attention_global import global_attention, merge_heads, split_heads


def test_merge_inverts_split_and_layout() -> None:
    x = torch.randn(2, 12, 7)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 4, 7)
    torch.testing.assert_close(merge_heads(h), x, rtol=0, atol=0)
    torch.testing.assert_close(h[:, 1, 2, :], x[:, 1 * 4 + 2, :], rtol=0, atol=0)


def test_global_branch_without_rope_is_time_permutation_equivariant() -> None:
    q, k, v = (torch.randn(2, 4, 8, 30, dtype=torch.float64) for _ in range(3))
    perm = torch.randperm(30)
    out = merge_heads(global_attention(q, k, v, rope=None))
    out_p = merge_heads(global_attention(q[..., perm], k[..., perm], v[..., perm], rope=None))
    torch.testing.assert_close(out_p, out[..., perm])


def reference_module(m: SoftAlignmentAttention, x: torch.Tensor, c: torch.Tensor, t: torch.Tensor):
    """Loop-over-heads reference: explicit projections, masked local softmax, RoPE'd global."""
    heads, window = m.heads, m.window
    xn, cn = m.norm_x(x), m.norm_ctx(c)
    q = torch.einsum("oc,bct->bot", m.to_q.weight[..., 0], xn) + m.to_q.bias[:, None]
    kv = torch.einsum("oc,bct->bot", m.to_kv.weight[..., 0], cn) + m.to_kv.bias[:, None]
    ch, t_len = x.shape[1], x.shape[2]
    k, v = kv[:, :ch], kv[:, ch:]
    d = ch // heads
    tau = t / 799.0
    wl, wg = tau.sqrt(), (1 - tau).sqrt()
    out = torch.zeros_like(q)
    pos = torch.arange(t_len, dtype=x.dtype)
    half = d // 2
    freqs = 10000.0 ** (-torch.arange(half, dtype=x.dtype) * 2 / d)
    ang = pos[:, None] * freqs[None, :]  # (T, d/2)

    def rot(z: torch.Tensor) -> torch.Tensor:  # z: (B, d, T)
        a, b_ = z[:, :half], z[:, half:]
        cos, sin = ang.T.cos(), ang.T.sin()
        return torch.cat([a * cos - b_ * sin, a * sin + b_ * cos], dim=1)

    for hh in range(heads):
        sl = slice(hh * d, (hh + 1) * d)
        qh, kh, vh = q[:, sl], k[:, sl], v[:, sl]  # (B, d, T)
        s = torch.einsum("bdi,bdj->bij", qh, kh) / math.sqrt(d)
        i = torch.arange(t_len)
        rel = i[None, :] - i[:, None]
        band = (rel >= -(window // 2)) & (rel <= window - window // 2 - 1)
        loc = torch.einsum("bij,bdj->bdi", s.masked_fill(~band, -math.inf).softmax(-1), vh)
        sg = torch.einsum("bdi,bdj->bij", rot(qh), rot(kh)) / math.sqrt(d)
        glo = torch.einsum("bij,bdj->bdi", sg.softmax(-1), vh)
        out[:, sl] = wl[:, None, None] * loc + wg[:, None, None] * glo
    return torch.einsum("oc,bct->bot", m.to_out.weight[..., 0], out) + m.to_out.bias[:, None]


@pytest.mark.parametrize("t_len", [24, 33])
def test_soft_alignment_attention_matches_loop_reference(t_len: int) -> None:
    torch.manual_seed(0)
    m = SoftAlignmentAttention(16, heads=4, window=6, mix_schedule="reference", groups=4).double()
    x, c = torch.randn(2, 16, t_len).double(), torch.randn(2, 16, t_len).double()
    t = torch.tensor([100.0, 650.0], dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(m(x, c, t), reference_module(m, x, c, t), atol=1e-6, rtol=0)


def test_local_only_module_output_frame_depends_only_on_window() -> None:
    torch.manual_seed(1)
    m = SoftAlignmentAttention(8, heads=2, window=4, mix_schedule="local_only", groups=1).double()
    x = torch.randn(1, 8, 20, dtype=torch.float64)
    # GroupNorm mixes statistics over time, so perturb after the norm: bypass it for this check
    m.norm_ctx = torch.nn.Identity()  # type: ignore[assignment]
    c = torch.randn(1, 8, 20, dtype=torch.float64, requires_grad=True)
    out = m(x, c, torch.tensor([300.0]))
    (g,) = torch.autograd.grad(out[..., 10].sum(), c)
    nz = (g.abs().sum(dim=(0, 1)) > 0).nonzero().flatten().tolist()
    assert nz == [8, 9, 10, 11]
