"""U-Net building blocks: FiLM residual block, strided down / transposed up convolutions."""

from __future__ import annotations

from torch import Tensor, nn


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv(k=3) x2 residual block with FiLM (1 + gamma, beta).

    FiLM comes from the time embedding (per sample) and, when ``ctx_channels > 0``, from the
    aligned vocal context at this resolution (per frame, 1x1 conv).

    Args:
        in_ch, out_ch: channels in / out (1x1 skip conv when they differ).
        time_dim: time-embedding width.
        ctx_channels: channels of the context features (0: no context FiLM).
        groups: GroupNorm groups.
        dropout: dropout before the second conv.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        time_dim: int,
        ctx_channels: int = 0,
        groups: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv1d(in_ch, out_ch, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.time_film = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, 2 * out_ch))
        self.ctx_film = nn.Conv1d(ctx_channels, 2 * out_ch, 1) if ctx_channels > 0 else None
        self.act = nn.SiLU()
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor, ctx: Tensor | None = None) -> Tensor:
        """x: (B, in_ch, T); temb: (B, time_dim); ctx: (B, ctx_channels, T) -> (B, out_ch, T)."""
        h = self.conv1(self.act(self.norm1(x)))  # (B, out_ch, T)
        h = self.norm2(h)
        gamma, beta = self.time_film(temb)[:, :, None].chunk(2, dim=1)  # (B, out_ch, 1) each
        h = h * (1 + gamma) + beta
        if self.ctx_film is not None and ctx is not None:
            cg, cb = self.ctx_film(ctx).chunk(2, dim=1)  # (B, out_ch, T) each
            h = h * (1 + cg) + cb
        h = self.conv2(self.dropout(self.act(h)))
        return h + self.skip(x)


class Downsample(nn.Module):
    """Strided Conv1d(k=4, s=2, p=1): (B, in_ch, T) -> (B, out_ch, T/2)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, 4, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """ConvTranspose1d(k=4, s=2, p=1): (B, in_ch, T) -> (B, out_ch, 2T)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_ch, out_ch, 4, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)
