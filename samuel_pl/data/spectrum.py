"""The training latents' per-channel temporal power spectrum, measured from a latent cache.

What the spectral prior (:mod:`samuel_pl.diffusion.spectral_prior`) needs: the accompaniment
latents of the train split, z-scored with the cache's statistics (what the denoiser sees), cut
into crops of the training length (half-overlapping), each crop's per-channel rfft power
(``norm="ortho"``) averaged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from samuel_pl.data.cache import LatentCache
from samuel_pl.data.cache_build import ensure_cache
from samuel_pl.diffusion.spectral_prior import temporal_spectrum
from samuel_pl.errors import DataError

__all__ = ["cache_spectrum", "ensure_cache"]


def cache_spectrum(
    cache: LatentCache, crop_frames: int, split: str = "train", stem: str = "accompaniment"
) -> Tensor:
    """(C, crop_frames // 2 + 1) mean temporal power of ``stem``'s z-scored crops of ``split``."""
    if crop_frames < 2:
        raise DataError(f"{cache.path}: crop_frames must be >= 2 to measure a spectrum")
    mean = np.asarray(cache.mean, dtype=np.float32)[:, None]  # (C, 1)
    std = np.asarray(cache.std, dtype=np.float32)[:, None]  # (C, 1)
    total: Tensor | None = None
    count, hop = 0, max(1, crop_frames // 2)
    for song in cache.songs(split):
        vocals, accomp = cache.load(song)
        z = ((vocals if stem == "vocals" else accomp) - mean) / np.maximum(std, 1e-5)  # (C, T)
        starts = range(0, z.shape[-1] - crop_frames + 1, hop)
        if not starts:
            continue
        crops = torch.from_numpy(np.stack([z[:, s : s + crop_frames] for s in starts]))
        part = temporal_spectrum(crops) * len(starts)  # (C, F) summed over the crops
        total = part if total is None else total + part
        count += len(starts)
    if total is None:
        raise DataError(f"{cache.path}: no {split} song has {crop_frames} frames to measure")
    return total / count
