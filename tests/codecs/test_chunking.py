"""Overlapping windows with a raised-cosine crossfade (the chunked encode/decode helper)."""

from __future__ import annotations

import pytest
import torch

from samuel_pl.codecs.chunking import fade_regions, overlap_add, window_starts


@pytest.mark.parametrize("total", [1, 63, 64, 65, 200, 257, 646, 1000, 1024])
@pytest.mark.parametrize(("size", "overlap"), [(64, 0), (64, 16), (64, 32), (256, 64)])
def test_windows_cover_with_the_overlap_and_bounded_size(total: int, size: int, overlap: int):
    starts, length = window_starts(total, size, overlap)
    assert length <= size and starts[0] == 0 and starts[-1] + length == total
    for a, b in zip(starts, starts[1:]):
        assert b - a > 0 and a + length - b >= overlap  # neighbours share at least `overlap`
    # the fades sit inside the shared spans and leave a margin of overlap / 4 on either side
    for (f0, f1), a, b in zip(fade_regions(starts, length, overlap), starts, starts[1:]):
        assert b + overlap / 4 - 1e-9 <= f0 <= f1 <= a + length - overlap / 4 + 1e-9


@pytest.mark.parametrize(
    ("size", "overlap", "ratio_in", "ratio_out"), [(50, 20, 1, 8), (40, 8, 4, 1)]
)
def test_crossfade_weights_sum_to_one(size: int, overlap: int, ratio_in: int, ratio_out: int):
    x = torch.randn(2, 3, 333 * ratio_in, generator=torch.Generator().manual_seed(0))

    def pointwise(chunk: torch.Tensor) -> torch.Tensor:  # the same output as on the whole
        frames = chunk.reshape(2, 3, -1, ratio_in).mean(-1)  # (B, C, units)
        return frames.repeat_interleave(ratio_out, dim=-1) * 2.0

    whole = pointwise(x)
    torch.testing.assert_close(overlap_add(pointwise, x, size, overlap, ratio_in, ratio_out), whole)


def test_invalid_overlap_and_lengths_are_errors() -> None:
    with pytest.raises(ValueError, match="overlap"):
        window_starts(100, 32, 17)
    with pytest.raises(ValueError, match="multiple"):
        overlap_add(lambda t: t, torch.zeros(1, 1, 10), 2, 0, 4, 1)
