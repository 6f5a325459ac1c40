"""Audio crops for training the waveform networks (``task: vae`` | ``vocoder``).

The stems of every song are read once (soundfile), resampled (soxr) to ``data.sample_rate`` with
``data.channels`` channels and stored as float32 ``.npy`` files, then read memory-mapped::

    <data.cache_dir, or $XDG_CACHE_HOME/samuel_pl/<fingerprint>/audio-<rate>hz-<channels>ch>/
        manifest.json               written last (source fingerprint, rate, channels, songs)
        songs/<name>.<stem>.npy     (channels, samples)

A cache whose source fingerprint, rate or channel count differ is rebuilt. Unusable songs are
skipped and listed with their reason in the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from samuel_pl.config import FitConfig
from samuel_pl.data.cache import STEMS, user_cache_root
from samuel_pl.data.sources import song_file_stem
from samuel_pl.errors import DataError, SamuelError
from samuel_pl.files import write_json, write_npy

CACHE_VERSION = 1


def audio_cache_path(cfg: FitConfig, fingerprint: str) -> Path:
    """``data.cache_dir`` if set, else ``<user cache>/<fingerprint>/audio-<rate>hz-<channels>ch``
    (outside the dataset; see :func:`samuel_pl.data.cache.user_cache_root`)."""
    if cfg.data.cache_dir:
        return Path(cfg.data.cache_dir).expanduser()
    name = f"audio-{cfg.data.sample_rate}hz-{cfg.data.channels}ch"
    return user_cache_root() / fingerprint / name


def ensure_audio_cache(cfg: FitConfig) -> tuple[Path, dict[str, Any]]:
    """Render the demo set if needed, then reuse or build the audio cache; (folder, manifest)."""
    from samuel_pl.data.sources import prepare_source

    d = cfg.data
    source = prepare_source(d)
    path = audio_cache_path(cfg, source.fingerprint())
    key = {
        "version": CACHE_VERSION,
        "fingerprint": source.fingerprint(),
        "sample_rate": d.sample_rate,
        "channels": d.channels,
    }
    mpath = path / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except ValueError:
            manifest = {}
        if all(manifest.get(k) == v for k, v in key.items()) and all(
            (path / f).is_file() for s in manifest["songs"] for f in s["files"].values()
        ):
            return path, manifest
    (path / "songs").mkdir(parents=True, exist_ok=True)
    songs, skipped = [], []
    for song in source.songs():
        try:
            stems = dict(zip(STEMS, source.load_pair(song, d.sample_rate, d.channels)))
        except SamuelError as exc:
            skipped.append({"id": song.song_id, "reason": str(exc)})
            continue
        files = {}
        for stem, audio in stems.items():
            files[stem] = f"songs/{song_file_stem(song.song_id)}.{stem}.npy"
            write_npy(path / files[stem], audio)  # (C, N)
        n = int(stems["vocals"].shape[-1])
        songs.append({"id": song.song_id, "split": song.split, "samples": n, "files": files})
    manifest = {**key, "songs": songs, "skipped": skipped}
    write_json(mpath, manifest)
    return path, manifest


class AudioCrops(Dataset):
    """Fixed-length crops (C, segment) of memory-mapped stems; random (train) or evenly spaced.

    Items: ``{"audio": (C, segment) float32, "song": str, "stem": str, "start": int}``.

    Args:
        tracks: (song id, stem, array (C, N)) triples.
        segment: samples per crop.
        random_crops: crops per epoch when random (0: deterministic crops).
        crops_per_track: deterministic crops per track.
        seed: seed of the random crops (with the epoch and index).
        min_rms: random crops quieter than this are redrawn (up to 8 times).
    """

    def __init__(
        self,
        tracks: list[tuple[str, str, np.ndarray]],
        segment: int,
        random_crops: int = 0,
        crops_per_track: int = 1,
        seed: int = 0,
        min_rms: float = 0.0,
    ) -> None:
        if not tracks:
            raise DataError("no audio tracks for this split (add songs or change the split)")
        self.tracks, self.segment = tracks, int(segment)
        self.random_crops, self.seed, self.min_rms = int(random_crops), int(seed), float(min_rms)
        self.epoch = 0
        lengths = np.array([t[2].shape[-1] for t in tracks], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.index: list[tuple[int, int]] = []
        if not random_crops:
            for i, n in enumerate(lengths.astype(int)):
                last, k = max(n - self.segment, 0), max(1, crops_per_track)
                starts = np.linspace(0, last, k + 2)[1:-1] if k > 0 else [last // 2]
                self.index += [(i, int(round(s))) for s in starts]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.random_crops or len(self.index)

    def _crop(self, i: int, start: int) -> np.ndarray:
        arr = self.tracks[i][2]
        out = np.zeros((arr.shape[0], self.segment), dtype=np.float32)
        piece = np.asarray(arr[:, start : start + self.segment], dtype=np.float32)
        out[:, : piece.shape[1]] = piece
        return out

    def __getitem__(self, idx: int) -> dict[str, Any]:
        if self.random_crops:
            rng = np.random.default_rng([self.seed, self.epoch, idx])
            for _ in range(8):
                i = int(rng.choice(len(self.tracks), p=self.weights))
                start = int(rng.integers(0, max(self.tracks[i][2].shape[-1] - self.segment, 0) + 1))
                crop = self._crop(i, start)
                if float(np.sqrt(np.mean(crop**2))) >= self.min_rms:
                    break
        else:
            i, start = self.index[idx]
            crop = self._crop(i, start)
        song, stem, _ = self.tracks[i]
        return {"audio": torch.from_numpy(crop), "song": song, "stem": stem, "start": start}


class AudioDataModule(pl.LightningDataModule):
    """Train / val crops of the ``stems`` of ``vae`` or ``vocoder`` (the task's section).

    Args:
        config: the full config (data, the task section's stems and seed are used).
        segment: samples per crop (``data.crop_frames`` x the VAE's hop).
    """

    def __init__(self, config: FitConfig, segment: int) -> None:
        super().__init__()
        self.config, self.segment = config, int(segment)
        self.path: Path | None = None
        self.manifest: dict[str, Any] = {}
        self.train_set: AudioCrops | None = None
        self.val_set: AudioCrops | None = None

    def prepare_data(self) -> None:
        self.path, self.manifest = ensure_audio_cache(self.config)

    def tracks(self, split: str) -> list[tuple[str, str, np.ndarray]]:
        """(song, stem, memory-mapped (C, N)) of one split."""
        if self.path is None:
            self.prepare_data()
        assert self.path is not None
        section = self.config.audio_train()
        stems = [s for s in section.stems if s in STEMS]
        if not stems:
            raise DataError(
                f"{self.config.task}.stems={section.stems}: use vocals and/or accompaniment"
            )
        return [
            (s["id"], stem, np.load(self.path / s["files"][stem], mmap_mode="r"))
            for s in self.manifest["songs"]
            if s["split"] == split
            for stem in stems
        ]

    def setup(self, stage: str | None = None) -> None:
        d, v = self.config.data, self.config.audio_train()
        if self.train_set is None:
            self.train_set = AudioCrops(
                self.tracks("train"),
                self.segment,
                random_crops=d.crops_per_epoch,
                seed=self.config.seed,
                min_rms=v.min_crop_rms,
            )
        if self.val_set is None:
            val = self.tracks("val") or self.tracks("train")
            self.val_set = AudioCrops(val, self.segment, crops_per_track=d.val_crops_per_song)

    def _loader(self, ds: Dataset | None, train: bool) -> DataLoader:
        if ds is None:
            raise DataError("the audio data module was not set up")
        d = self.config.data
        return DataLoader(
            ds,
            batch_size=d.batch_size,
            shuffle=False,
            num_workers=d.num_workers,
            persistent_workers=d.num_workers > 0,
            drop_last=train and len(ds) >= d.batch_size,  # type: ignore[arg-type]
        )

    def train_dataloader(self) -> DataLoader:
        if self.train_set is not None and self.trainer is not None:
            self.train_set.set_epoch(self.trainer.current_epoch)
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)
