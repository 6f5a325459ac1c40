"""Soft alignment attention (SAMUeL): local window + global RoPE cross-attention, mixed by t."""

from __future__ import annotations

from torch import Tensor, nn

from samuel_pl.nn.attention_global import global_attention, merge_heads, split_heads
from samuel_pl.nn.attention_local import local_attention
from samuel_pl.nn.attention_mixing import TimestepMixer
from samuel_pl.nn.rope import RotaryEmbedding


class SoftAlignmentAttention(nn.Module):
    """Cross-attention: queries from ``x``, keys/values from ``context``; two branches mixed by t.

    Both branches share the q/k/v projections; the local branch has no position encoding, the
    global branch uses RoPE. Inputs are GroupNorm-ed; the output goes through a 1x1 projection.

    Args:
        channels: C of x and context.
        heads: attention heads (C divisible by heads, C / heads even for RoPE).
        window: local window W in frames.
        mix_schedule: see :class:`~samuel_pl.nn.attention_mixing.TimestepMixer`.
        train_steps: T_train (for the tau mixes).
        time_dim: time-embedding width (learned mix).
        groups: GroupNorm groups of the input norms.
    """

    def __init__(
        self,
        channels: int,
        heads: int = 8,
        window: int = 16,
        mix_schedule: str = "reference",
        train_steps: int = 800,
        time_dim: int = 0,
        groups: int = 8,
    ) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels {channels} not divisible by heads {heads}")
        self.heads = heads
        self.window = window
        self.norm_x = nn.GroupNorm(groups, channels)
        self.norm_ctx = nn.GroupNorm(groups, channels)
        self.to_q = nn.Conv1d(channels, channels, 1)
        self.to_kv = nn.Conv1d(channels, 2 * channels, 1)
        self.to_out = nn.Conv1d(channels, channels, 1)
        self.rope = RotaryEmbedding(channels // heads)
        self.mixer = TimestepMixer(mix_schedule, train_steps, time_dim)

    def forward(
        self,
        x: Tensor,
        context: Tensor,
        t: Tensor,
        temb: Tensor | None = None,
        alpha_bar: Tensor | None = None,
    ) -> Tensor:
        """x, context: (B, C, T); t: (B,) step units; temb: (B, time_dim); alpha_bar: (B,)
        alpha_bar(t) for the alpha_bar mix -> (B, C, T)."""
        q = split_heads(self.to_q(self.norm_x(x)), self.heads)  # (B, h, d, T)
        k, v = self.to_kv(self.norm_ctx(context)).chunk(2, dim=1)  # (B, C, T) each
        k, v = split_heads(k, self.heads), split_heads(v, self.heads)  # (B, h, d, T)
        w_local, w_global = self.mixer(t, temb, alpha_bar)  # (B,) each
        out = None
        if self.mixer.schedule != "global_only":
            loc = local_attention(q, k, v, self.window)  # (B, h, d, T)
            out = w_local.to(loc.dtype)[:, None, None, None] * loc
        if self.mixer.schedule != "local_only":
            glo = global_attention(q, k, v, self.rope)  # (B, h, d, T)
            g = w_global.to(glo.dtype)[:, None, None, None] * glo
            out = g if out is None else out + g
        assert out is not None
        return self.to_out(merge_heads(out))  # (B, C, T)
