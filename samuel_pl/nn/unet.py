"""SAMUeL denoiser: a 1-D U-Net with soft alignment attention to the vocal latent (v-prediction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from samuel_pl.nn.attention import SoftAlignmentAttention
from samuel_pl.nn.blocks import Downsample, ResBlock, Upsample
from samuel_pl.nn.embeddings import TimeEmbedding
from samuel_pl.nn.interval import IntervalFeatures


class SamuelUNet(nn.Module):
    """(x_t, t, vocal latent) -> v.

    Time embedding (sinusoidal + MLP) feeds FiLM in every block. x and the vocal latent get their
    own input Conv1d(k=3) (with ``cond_concat``, x's conv also sees the vocal latent, a direct
    frame-aligned path); soft alignment attention (queries: latent features, keys/values: vocal
    features) makes an aligned context, carried to every level by strided convs and applied by
    per-frame FiLM. U-Net over ``channels`` (``blocks_per_level`` blocks per encoder level,
    one more per decoder level, the first taking the concatenated skip); at the bottleneck a
    residual soft alignment cross-attention to the downsampled context between two residual
    blocks; zero-init 1x1 output conv.

    Keyword arguments are the ``model`` config section's fields (``SamuelUNet(**model, ...)``),
    defaults the paper configuration (~15M parameters at ``in_channels=64``):

    Args:
        in_channels: latent channels of x_t, the vocal condition and the output.
        channels: width of each U-Net level; the last is the bottleneck.
        time_dim, time_hidden: sinusoidal time embedding width (and MLP output), MLP hidden width.
        heads, window: attention heads; local attention window in frames.
        mix_schedule: local/global mixing (:data:`~samuel_pl.nn.attention_mixing.MIX_SCHEDULES`).
        groups, dropout: GroupNorm groups; dropout inside residual blocks.
        blocks_per_level: residual blocks per U-Net level.
        cond_concat: also concatenate the vocal latent with x_t at the input conv.
        interval_features: feature maps per semitone of a pitch-shared convolution over the
            stacked (x_t, vocal) semitone channels (:class:`~samuel_pl.nn.interval.
            IntervalFeatures`), concatenated at the input conv; 0 disables it.
        interval_pitch_channels: leading latent channels that are semitones (0: all).
        interval_span: pitch extent of the interval convolutions in semitones (odd).
        train_steps: T_train (t is in step units, [0, train_steps - 1]).
        alpha_bar: ``alpha_bar(t (B,)) -> (B,)`` of the noise schedule; needed (only) by the
            ``alpha_bar`` mix schedule (the network itself knows no schedule).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        channels: list[int] | tuple[int, ...] = (64, 128, 256, 512),
        time_dim: int = 512,
        time_hidden: int = 2048,
        heads: int = 8,
        window: int = 16,
        mix_schedule: str = "reference",
        groups: int = 8,
        dropout: float = 0.0,
        blocks_per_level: int = 1,
        cond_concat: bool = False,
        interval_features: int = 0,
        interval_pitch_channels: int = 0,
        interval_span: int = 25,
        train_steps: int = 800,
        alpha_bar: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        ch = list(channels)
        if not ch:
            raise ValueError("model.channels must list at least one width")
        if in_channels < 1:
            raise ValueError(f"model.in_channels must be >= 1, got {in_channels}")
        if mix_schedule == "alpha_bar" and alpha_bar is None:
            raise ValueError("the alpha_bar mix schedule needs the noise schedule's alpha_bar(t)")
        self.levels = len(ch)
        self.train_steps = train_steps
        self.alpha_bar = alpha_bar
        cin, td, g, nb = in_channels, time_dim, groups, max(1, blocks_per_level)

        def attn(c: int) -> SoftAlignmentAttention:
            return SoftAlignmentAttention(c, heads, window, mix_schedule, train_steps, td, g)

        def block(i: int, o: int) -> ResBlock:
            return ResBlock(i, o, td, o, g, dropout)

        self.time_embed = TimeEmbedding(td, time_hidden)
        self.null_cond = nn.Parameter(torch.zeros(cin))
        self.cond_concat = bool(cond_concat)
        self.interval: IntervalFeatures | None = None
        extra = 0
        if interval_features > 0:
            pitch = interval_pitch_channels or cin
            self.interval = IntervalFeatures(min(pitch, cin), interval_features, interval_span)
            extra = self.interval.out_channels
        self.in_x = nn.Conv1d(cin * (2 if self.cond_concat else 1) + extra, ch[0], 3, padding=1)
        self.in_cond = nn.Conv1d(cin, ch[0], 3, padding=1)
        self.in_attn = attn(ch[0])
        self.ctx_down = nn.ModuleList(
            nn.Sequential(
                nn.SiLU(),
                Downsample(ch[i], ch[i + 1]),
                nn.SiLU(),
                nn.Conv1d(ch[i + 1], ch[i + 1], 3, padding=1),
            )
            for i in range(len(ch) - 1)
        )
        self.down_blocks = nn.ModuleList(
            nn.ModuleList(block(c, c) for _ in range(nb)) for c in ch[:-1]
        )
        self.downs = nn.ModuleList(Downsample(ch[i], ch[i + 1]) for i in range(len(ch) - 1))
        self.mid_block1 = block(ch[-1], ch[-1])
        self.mid_attn = attn(ch[-1])
        self.mid_block2 = block(ch[-1], ch[-1])
        self.ups = nn.ModuleList(Upsample(ch[i + 1], ch[i]) for i in range(len(ch) - 1))
        self.up_blocks = nn.ModuleList(
            nn.ModuleList([block(2 * c, c)] + [block(c, c) for _ in range(nb)]) for c in ch[:-1]
        )
        self.out = nn.Sequential(nn.GroupNorm(g, ch[0]), nn.SiLU(), nn.Conv1d(ch[0], cin, 1))
        out_conv = self.out[-1]
        assert isinstance(out_conv, nn.Conv1d)
        nn.init.zeros_(out_conv.weight)
        nn.init.zeros_(out_conv.bias)  # type: ignore[arg-type]

    @property
    def time_multiple(self) -> int:
        """T must be divisible by this (2 ** (levels - 1))."""
        return 2 ** (self.levels - 1)

    def noise_level(self, t: Tensor) -> Tensor | None:
        """alpha_bar(t) (B,) where the mix schedule needs it, else None."""
        if self.alpha_bar is None or not self.in_attn.mixer.needs_alpha_bar:
            return None
        return self.alpha_bar(t.float())

    def mixing_weights(self, t: Tensor) -> dict[str, dict[str, Tensor]]:
        """Local/global mixing weights of both attention layers at steps t (B,), for plots."""
        with torch.no_grad():
            temb, a = self.time_embed(t), self.noise_level(t)
            return {
                "in_attn": self.in_attn.mixer.weights(t, temb, a),
                "mid_attn": self.mid_attn.mixer.weights(t, temb, a),
            }

    def forward(
        self, x: Tensor, t: Tensor, cond: Tensor, drop_cond: Tensor | None = None
    ) -> Tensor:
        """x: (B, C, T) noisy latent; t: (B,) float steps; cond: (B, C, T) vocal latent;
        drop_cond: (B,) bool, True -> learned null condition, or (B, T) bool per frame (a
        stream's unknown future, ``diffusion.future_mask_prob``). Returns v: (B, C, T)."""
        if x.shape[-1] % self.time_multiple:
            raise ValueError(
                f"sequence length T={x.shape[-1]} must be divisible by {self.time_multiple} "
                f"(2 ** (len(model.channels) - 1)); crop or pad the latent"
            )
        if cond.shape != x.shape:
            raise ValueError(f"cond shape {tuple(cond.shape)} != x shape {tuple(x.shape)}")
        t = t.reshape(-1).expand(x.shape[0]) if t.numel() == 1 else t
        if drop_cond is not None:
            null = self.null_cond.to(cond.dtype)[None, :, None].expand_as(cond)  # (B, C, T)
            mask = drop_cond[:, None, :] if drop_cond.dim() == 2 else drop_cond.reshape(-1, 1, 1)
            cond = torch.where(mask, null, cond)  # (B, C, T)
        temb = self.time_embed(t)  # (B, time_dim)
        a = self.noise_level(t)  # (B,) alpha_bar(t) for the alpha_bar mix, else None

        inputs = [x, cond] if self.cond_concat else [x]
        if self.interval is not None:
            inputs.append(self.interval(x, cond))  # (B, F * P, T) interval features
        h = self.in_x(torch.cat(inputs, dim=1))  # (B, c0, T)
        c = self.in_cond(cond)  # (B, c0, T)
        ctx = c + self.in_attn(h, c, t, temb, a)  # aligned context (B, c0, T)
        ctxs = [ctx]
        for down in self.ctx_down:
            ctxs.append(down(ctxs[-1]))  # (B, c_l, T / 2**l)

        skips = []
        for lvl, (blocks, down) in enumerate(zip(self.down_blocks, self.downs)):
            for blk in cast(nn.ModuleList, blocks):
                h = blk(h, temb, ctxs[lvl])
            skips.append(h)
            h = down(h)

        h = self.mid_block1(h, temb, ctxs[-1])
        h = h + self.mid_attn(h, ctxs[-1], t, temb, a)
        h = self.mid_block2(h, temb, ctxs[-1])

        for lvl in reversed(range(self.levels - 1)):
            h = self.ups[lvl](h)  # (B, c_lvl, T / 2**lvl)
            h = torch.cat([h, skips[lvl]], dim=1)  # (B, 2 c_lvl, T / 2**lvl)
            for blk in cast(nn.ModuleList, self.up_blocks[lvl]):
                h = blk(h, temb, ctxs[lvl])
        return self.out(h)  # (B, C, T)


def parameter_table(model: nn.Module) -> list[tuple[str, int]]:
    """[(top-level module or direct parameter name, parameter count), ...] in definition order."""
    rows = [(name, p.numel()) for name, p in model.named_parameters(recurse=False)]
    rows += [(name, sum(p.numel() for p in m.parameters())) for name, m in model.named_children()]
    return rows
