"""Pure-torch network modules of SAMUeL (no Lightning, no data)."""

from samuel_pl.nn.attention import SoftAlignmentAttention
from samuel_pl.nn.attention_global import global_attention, merge_heads, split_heads
from samuel_pl.nn.attention_local import (
    dense_local_attention,
    local_attention,
    unfold_windows,
    window_mask,
    window_offsets,
)
from samuel_pl.nn.attention_mixing import MIX_SCHEDULES, TimestepMixer
from samuel_pl.nn.blocks import Downsample, ResBlock, Upsample
from samuel_pl.nn.ema import EMA
from samuel_pl.nn.embeddings import TimeEmbedding, sinusoidal_embedding
from samuel_pl.nn.rope import RotaryEmbedding, rotate_half
from samuel_pl.nn.unet import SamuelUNet, parameter_table

__all__ = [
    "EMA",
    "MIX_SCHEDULES",
    "Downsample",
    "ResBlock",
    "RotaryEmbedding",
    "SamuelUNet",
    "SoftAlignmentAttention",
    "TimeEmbedding",
    "TimestepMixer",
    "Upsample",
    "dense_local_attention",
    "global_attention",
    "local_attention",
    "merge_heads",
    "parameter_table",
    "rotate_half",
    "sinusoidal_embedding",
    "split_heads",
    "unfold_windows",
    "window_mask",
    "window_offsets",
]
