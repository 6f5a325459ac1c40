"""Generation planning: the window settings of a loaded model, resolved and checked once, and
the windows and latent frames one clip needs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from samuel_pl.codecs import LatentCodec
from samuel_pl.errors import SamuelError
from samuel_pl.generation.windows import WindowPlan, plan_clip


@dataclass(frozen=True)
class Windowing:
    """How clips are cut into windows (:func:`~samuel_pl.generation.windows.plan_clip`).

    Args:
        window: frames per window (a multiple of ``multiple``).
        overlap: frames each window shares with the previous one (0 <= overlap < window).
        crossfade: frames of the overlap blended with a raised cosine (0 <= crossfade <= overlap).
        crop: the training crop (shorter clips are padded to it).
        multiple: the U-Net's time stride.
    """

    window: int
    overlap: int
    crossfade: int
    crop: int
    multiple: int

    @classmethod
    def resolve(
        cls,
        default_window: int,
        crop: int,
        multiple: int,
        *,
        window: int | None = None,
        overlap: int | None = None,
        crossfade: int | None = None,
    ) -> Windowing:
        """``window`` (default ``default_window``, else ``crop``) rounded up to ``multiple``;
        ``overlap`` (default window // 4) and ``crossfade`` (default overlap // 2) checked."""
        w = int(default_window or crop if window is None else window)
        if w < 1:
            raise SamuelError(f"window must be >= 1 frame, got {w}")
        w = math.ceil(w / multiple) * multiple
        lap = w // 4 if overlap is None else int(overlap)
        if not 0 <= lap < w:
            raise SamuelError(f"overlap must be in [0, {w}), got {lap}")
        fade = lap // 2 if crossfade is None else int(crossfade)
        if not 0 <= fade <= lap:
            raise SamuelError(f"crossfade must be in [0, overlap={lap}]")
        return cls(w, lap, fade, int(crop), int(multiple))

    def plan(self, frames: int) -> WindowPlan:
        """Windows for ``frames`` latent frames."""
        return plan_clip(
            frames, self.window, self.overlap, self.crossfade, self.crop, self.multiple
        )


def frames_needed(codec: LatentCodec, n_out: int) -> int:
    """Smallest T whose decoded length covers ``n_out`` samples of ``codec``."""
    t = max(1, codec.num_frames(n_out))
    while codec.num_samples(t) < n_out:
        t += 1
    return t
