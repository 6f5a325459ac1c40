"""LightningDataModule: aligned (vocal, accompaniment) latent crops from the latent cache."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from samuel_pl.config import FitConfig
from samuel_pl.errors import DataError


def _crop(arr: np.ndarray, start: int, length: int, pad: np.ndarray) -> np.ndarray:
    """Crop (C, T) to (C, length) from ``start``; frames past the end are ``pad`` (C,), the
    encoded silence that generation pads vocals with."""
    out = np.repeat(np.asarray(pad, dtype=np.float32)[:, None], length, axis=1)  # (C, length)
    piece = np.asarray(arr[:, start : start + length], dtype=np.float32)
    out[:, : piece.shape[1]] = piece
    return out


def shift_channels(z: np.ndarray, n: int, fill: float) -> np.ndarray:
    """Raw latents (..., C, T) shifted up by ``n`` channels (down when negative): with a
    log-frequency codec, a transposition. Vacated channels get ``fill``."""
    if n == 0:
        return z
    out = np.full_like(z, fill)
    if n > 0:
        out[..., n:, :] = z[..., :-n, :]
    else:
        out[..., :n, :] = z[..., -n:, :]
    return out


class LatentCrops(Dataset):
    """Normalised latent crops; random (train) or evenly spaced (val/test).

    Items are dicts ``{"vocals": (C, T), "accompaniment": (C, T), "song": str, "start": int}``.

    Args:
        cache: an opened :class:`samuel_pl.data.cache.LatentCache`.
        songs: song ids to draw from.
        crop_frames: T, frames per crop.
        mean, std: per-channel statistics (C,) from the train split.
        pad: (C,) codec latent past a song's end (the cache's encoded silence).
        random_crops: number of random crops per epoch; 0 means deterministic crops.
        crops_per_song: deterministic crops per song (when ``random_crops`` is 0).
        seed: seed of the random crops (combined with the index and ``epoch``).
        shift_bins: train only: transpose each random crop (vocal and accompaniment together) by
            k * ``shift_step`` channels, k uniform in [-shift_bins, shift_bins] (a log-frequency
            codec's transposition); vacated channels get ``shift_fill``.
        shift_step: channels per semitone.
        shift_fill: raw latent value for channels shifted in from outside the band.
    """

    def __init__(
        self,
        cache: Any,
        songs: list[str],
        crop_frames: int,
        mean: np.ndarray,
        std: np.ndarray,
        pad: np.ndarray,
        random_crops: int = 0,
        crops_per_song: int = 1,
        seed: int = 0,
        shift_bins: int = 0,
        shift_step: int = 1,
        shift_fill: float = 0.0,
    ) -> None:
        if not songs:
            raise DataError(f"{cache.path}: no songs in this split of the latent cache")
        self.cache = cache
        self.songs = list(songs)
        self.crop = crop_frames
        self.mean = mean.astype(np.float32)[:, None]  # (C, 1)
        self.std = np.maximum(std.astype(np.float32), 1e-5)[:, None]  # (C, 1)
        self.pad = np.asarray(pad, dtype=np.float32).reshape(-1)  # (C,)
        self.random_crops = random_crops
        self.seed = seed
        self.shift_bins, self.shift_step, self.shift_fill = shift_bins, shift_step, shift_fill
        self.epoch = 0
        self.frames = np.array([cache.frames(s) for s in self.songs], dtype=np.int64)
        if random_crops:
            # Draw songs in proportion to their length so every frame is equally likely.
            self.weights = self.frames / self.frames.sum()
            self.index: list[tuple[int, int]] = []
        else:
            self.index = []
            for i, n in enumerate(self.frames):
                last = max(int(n) - crop_frames, 0)
                k = max(1, crops_per_song)
                starts = np.linspace(0, last, k).round().astype(int) if k > 1 else [last // 2]
                self.index.extend((i, int(s)) for s in starts)

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops for a new epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.random_crops or len(self.index)

    def _locate(self, idx: int) -> tuple[int, int, int]:
        """(song index, start frame, transposition in semitones) of item ``idx``."""
        if not self.random_crops:
            return (*self.index[idx], 0)
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        i = int(rng.choice(len(self.songs), p=self.weights))
        last = max(int(self.frames[i]) - self.crop, 0)
        start = int(rng.integers(0, last + 1))
        k = int(rng.integers(-self.shift_bins, self.shift_bins + 1)) if self.shift_bins else 0
        return i, start, k

    def _transpose(self, crop: np.ndarray, semitones: int) -> np.ndarray:
        """Shift a raw (C, T) crop by ``semitones * shift_step`` channels (up = higher bins)."""
        return shift_channels(crop, semitones * self.shift_step, self.shift_fill)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        i, start, k = self._locate(idx)
        vocals, accomp = self.cache.load(self.songs[i])  # (C, N) each, memory-mapped
        v = (self._transpose(_crop(vocals, start, self.crop, self.pad), k) - self.mean) / self.std
        a = (self._transpose(_crop(accomp, start, self.crop, self.pad), k) - self.mean) / self.std
        return {
            "vocals": torch.from_numpy(v),
            "accompaniment": torch.from_numpy(a),
            "song": self.songs[i],
            "start": start,
        }


class SamuelDataModule(pl.LightningDataModule):
    """Renders/encodes in ``prepare_data`` when missing, serves normalised latent crops.

    Args:
        config: the full :class:`FitConfig` (data, codec and seed are used).
    """

    def __init__(self, config: FitConfig) -> None:
        super().__init__()
        self.config = config
        self.cache: Any = None
        self.train_set: LatentCrops | None = None
        self.val_set: LatentCrops | None = None
        self.test_set: LatentCrops | None = None

    def prepare_data(self) -> None:
        from samuel_pl.data.cache_build import ensure_cache

        ensure_cache(self.config)

    def setup(self, stage: str | None = None) -> None:
        if self.cache is None:
            from samuel_pl.data.cache_build import ensure_cache

            self.cache = ensure_cache(self.config)
        d = self.config.data
        mean, std = np.asarray(self.cache.mean), np.asarray(self.cache.std)
        if self.cache.silence is None:
            raise DataError(f"{self.cache.path}: the latent cache carries no encoded silence")
        common = {
            "cache": self.cache,
            "crop_frames": d.crop_frames,
            "mean": mean,
            "std": std,
            "pad": self.cache.silence,
        }
        if self.train_set is None:
            self.train_set = LatentCrops(
                songs=self.cache.songs("train"),
                random_crops=d.crops_per_epoch,
                seed=self.config.seed,
                **common,
                **self._shift_args(),
            )
        if self.val_set is None and self.cache.songs("val"):
            self.val_set = LatentCrops(
                songs=self.cache.songs("val"), crops_per_song=d.val_crops_per_song, **common
            )
        if self.test_set is None and self.cache.songs("test"):
            self.test_set = LatentCrops(
                songs=self.cache.songs("test"), crops_per_song=d.val_crops_per_song, **common
            )

    def _shift_args(self) -> dict[str, Any]:
        """LatentCrops' transposition arguments from ``data.pitch_shift`` (log codec only)."""
        d, c = self.config.data, self.config.codec
        if d.pitch_shift <= 0:
            return {}
        problem = self.config.pitch_shift_problem()
        if problem:
            raise DataError(problem)
        from samuel_pl.codecs.mel import LOG_FLOOR

        step = c.bins_per_octave // 12
        return {
            "shift_bins": d.pitch_shift,
            "shift_step": step,
            "shift_fill": float(np.log(LOG_FLOOR)),
        }

    @property
    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (mean, std), shape (C,) each, from the train split."""
        return np.asarray(self.cache.mean), np.asarray(self.cache.std)

    @property
    def temporal_spectrum(self) -> Any:
        """(C, crop_frames // 2 + 1) temporal power of the z-scored train accompaniments
        (:func:`samuel_pl.data.spectrum.cache_spectrum`), measured once."""
        if getattr(self, "_spectrum", None) is None:
            from samuel_pl.data.spectrum import cache_spectrum

            self._spectrum = cache_spectrum(self.cache, self.config.data.crop_frames)
        return self._spectrum

    def _sampler(self, ds: Dataset, train: bool) -> DistributedSampler | None:
        """This rank's shard of ``ds`` when the trainer runs several processes, else None.

        Train: an even split with the tail dropped (no crop is seen twice in a step). Val/test:
        every item exactly once across ranks (uneven shards), unless there are fewer items than
        ranks, where Lightning-style padding keeps every rank busy (a rank without batches
        would hang the epoch-end metric sync).
        """
        trainer = self.trainer
        world = int(getattr(trainer, "world_size", 1) or 1) if trainer is not None else 1
        if world <= 1:
            return None
        rank = int(trainer.global_rank)  # type: ignore[union-attr]
        n = len(ds)  # type: ignore[arg-type]
        if train or n < world:
            return DistributedSampler(
                ds, num_replicas=world, rank=rank, shuffle=False, drop_last=train and n >= world
            )
        from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

        return UnrepeatedDistributedSampler(ds, num_replicas=world, rank=rank, shuffle=False)

    def _loader(self, ds: Dataset | None, shuffle: bool, train: bool = False) -> DataLoader:
        if ds is None:
            raise DataError("this split is empty in the latent cache (add songs or change splits)")
        d = self.config.data
        sampler = self._sampler(ds, train)
        return DataLoader(
            ds,
            batch_size=d.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=d.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=d.num_workers > 0,
            drop_last=shuffle and len(ds) >= d.batch_size,  # type: ignore[arg-type]
        )

    def train_dataloader(self) -> DataLoader:
        if self.train_set is not None and self.trainer is not None:
            self.train_set.set_epoch(self.trainer.current_epoch)
        return self._loader(self.train_set, shuffle=False, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set or self.train_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set or self.val_set, shuffle=False)
