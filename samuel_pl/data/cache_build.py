"""Building the latent cache (:mod:`samuel_pl.data.cache`): every song of a stem source encoded
once by a codec, resumable after an interruption, with the train-split normalisation statistics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from samuel_pl.codecs.base import LatentCodec
from samuel_pl.config.schema import FitConfig
from samuel_pl.data.cache import (
    FORMAT_VERSION,
    MANIFEST,
    PARTIAL,
    STEMS,
    LatentCache,
    cache_path,
    load_latent,
)
from samuel_pl.data.sources import data_limits, song_file_stem
from samuel_pl.data.splits import SPLITS
from samuel_pl.errors import AudioError, SamuelError
from samuel_pl.files import ensure_writable_dir, write_json, write_npy


def _remove_temps(path: Path) -> None:
    """Temporary files of a build that was killed mid-write (never complete files)."""
    for folder in (path, path / "songs"):
        for f in folder.glob(".*.tmp"):
            f.unlink(missing_ok=True)


# -- statistics ------------------------------------------------------------------------------------
class _Moments:
    """Per-channel count/mean/M2, merged song by song (Chan et al.'s parallel variance)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(()), np.zeros(())  # broadcast to (C,) on add

    def add(self, x: np.ndarray) -> None:
        """Add frames x (C, T)."""
        x = np.asarray(x, dtype=np.float64)
        n_b, n = x.shape[1], self.n + x.shape[1]
        if n_b == 0:
            return
        mean_b = x.mean(axis=1)  # (C,)
        delta = mean_b - self.mean
        self.m2 = self.m2 + ((x - mean_b[:, None]) ** 2).sum(axis=1) + delta**2 * (self.n * n_b / n)
        self.mean = self.mean + delta * (n_b / n)
        self.n = n

    def result(self) -> dict[str, Any]:
        std = np.sqrt(self.m2 / self.n)
        return {"frames": self.n, "mean": self.mean.tolist(), "std": std.tolist()}


# -- building --------------------------------------------------------------------------------------
def _codec_device(codec: LatentCodec) -> torch.device:
    for t in [*codec.parameters(), *codec.buffers()]:
        return t.device
    return torch.device("cpu")


def _read_partial(path: Path, codec_id: str, fingerprint: str) -> dict[str, dict[str, Any]]:
    """Songs finished by an interrupted build with the same codec and data (else empty)."""
    try:
        data = json.loads((path / PARTIAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if (data.get("format_version"), data.get("codec_id"), data.get("fingerprint")) != (
        FORMAT_VERSION,
        codec_id,
        fingerprint,
    ):
        return {}
    return {e["id"]: e for e in data.get("songs", []) if isinstance(e, dict) and "id" in e}


def _reusable(path: Path, entry: dict[str, Any], split: str, channels: int) -> bool:
    if entry.get("split") != split:
        return False
    for stem in STEMS:
        try:
            arr = np.load(path / entry["files"][stem], mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, KeyError):
            return False
        if arr.shape != (channels, entry["frames"]):
            return False
    return True


def _load_checked(
    song: Any, sample_rate: int, channels: int, max_mismatch_s: float, limits: Any
) -> tuple[np.ndarray, np.ndarray] | str:
    """(vocals, accompaniment) (C, N) each, or the reason the song cannot be used.

    The same checks as ``sources.scan_songs`` (missing, unreadable, length mismatch, silent
    stems) in the same single read that feeds the encoder.
    """
    from samuel_pl.data import sources

    missing = [p for p in (song.vocals, *song.accompaniment) if not Path(p).is_file()]
    if missing:
        return f"{missing[0]}: missing stem"
    try:
        vocals, accomp = sources.load_pair(song, sample_rate, channels, max_mismatch_s, limits)
    except AudioError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - like scan_songs: reported as a skip, not fatal
        return f"{song.vocals}: {type(exc).__name__}: {exc}"
    for name, x in (("vocals", vocals), ("accompaniment", accomp)):
        if not np.isfinite(x).all():
            return f"{song.vocals.parent}: NaN or infinite samples in {name}"
        if float(np.abs(x).max(initial=0.0)) < sources.SILENCE_PEAK:
            return f"{song.vocals.parent}: all-silent {name}"
    return vocals, accomp


@torch.inference_mode()
def _encode_song(codec: LatentCodec, vocals: np.ndarray, accomp: np.ndarray, sr: int) -> np.ndarray:
    """Encode both stems (C, N) in one batch -> latents (2, latent_channels, T)."""
    audio = torch.from_numpy(np.stack([vocals, accomp]).astype(np.float32))  # (2, C, N)
    latent = codec.encode(audio.to(_codec_device(codec)), sr)  # (2, L, T)
    return latent.float().cpu().numpy()


def build_cache(
    cfg: FitConfig, codec: LatentCodec, source: Any, force: bool = False
) -> LatentCache:
    """Encode every song of ``source`` with ``codec`` into :func:`cache_path`; return it opened.

    A complete cache is reused as is (and refused with a DataError when it was made by another
    codec or from other data, unless ``force``). Songs finished by an interrupted build with the
    same codec and data are reused. Songs that fail to load are skipped and listed with their
    reason in ``manifest["skipped"]``.
    """
    t0 = time.perf_counter()
    fingerprint = source.fingerprint()
    path = cache_path(cfg, codec, fingerprint)
    if not force and (path / MANIFEST).is_file():
        cache = LatentCache.open(path, codec.codec_id, fingerprint)
        cache.reused = True
        cache.silence = codec.silence().numpy()
        return cache
    ensure_writable_dir(path, "latent cache folder")
    (path / "songs").mkdir(parents=True, exist_ok=True)
    _remove_temps(path)
    # The old manifest must not outlive the files this build replaces.
    (path / MANIFEST).unlink(missing_ok=True)
    done = {} if force else _read_partial(path, codec.codec_id, fingerprint)
    partial: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "codec_id": codec.codec_id,
        "fingerprint": fingerprint,
        "songs": [],
    }
    d = cfg.data
    skipped: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for song in tqdm(source.songs(), desc=f"encode {codec.codec_id}", unit="song", disable=None):
        prev = done.get(song.song_id)
        if prev is not None and _reusable(path, prev, song.split, codec.latent_channels):
            entry = prev
        else:
            loaded = _load_checked(
                song, d.sample_rate, d.channels, d.max_length_mismatch_s, data_limits(d)
            )
            try:
                if isinstance(loaded, str):
                    raise AudioError(loaded)
                latents = _encode_song(codec, *loaded, d.sample_rate)  # (2, L, T)
            except SamuelError as exc:
                skipped.append({"id": song.song_id, "split": song.split, "reason": str(exc)})
                continue
            name = song_file_stem(song.song_id)
            files = {stem: f"songs/{name}.{stem}.npy" for stem in STEMS}
            for stem, lat in zip(STEMS, latents):
                write_npy(path / files[stem], lat)
            entry = {
                "id": song.song_id,
                "split": song.split,
                "frames": int(latents.shape[-1]),
                "files": files,
            }
        entries.append(entry)
        partial["songs"].append(entry)
        write_json(path / PARTIAL, partial)
    _remove_unreferenced(path, entries)
    manifest = _manifest(cfg, codec, source, fingerprint, entries, skipped, path, t0)
    write_json(path / MANIFEST, manifest)
    (path / PARTIAL).unlink(missing_ok=True)
    cache = LatentCache.open(path, codec.codec_id, fingerprint)
    cache.silence = codec.silence().numpy()
    return cache


def _remove_unreferenced(path: Path, entries: list[dict[str, Any]]) -> None:
    """Delete latent files of earlier builds that this manifest does not list."""
    keep = {e["files"][stem] for e in entries for stem in STEMS}
    for f in (path / "songs").glob("*.npy"):
        if f"songs/{f.name}" not in keep:
            f.unlink(missing_ok=True)


def _train_stats(path: Path, entries: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    pooled, per_stem = _Moments(), {stem: _Moments() for stem in STEMS}
    for e in entries:
        if e["split"] != "train":
            continue
        for stem in STEMS:
            x = load_latent(path / e["files"][stem])  # (C, T)
            pooled.add(x)
            per_stem[stem].add(x)
    if pooled.n == 0:
        return None
    return {
        "split": "train",
        "pooled": "vocals+accompaniment",
        **pooled.result(),
        "per_stem": {stem: m.result() for stem, m in per_stem.items()},
    }


def _manifest(
    cfg: FitConfig,
    codec: LatentCodec,
    source: Any,
    fingerprint: str,
    entries: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
    path: Path,
    t0: float,
) -> dict[str, Any]:
    from samuel_pl.config.loader import to_dict

    return {
        "format_version": FORMAT_VERSION,
        "complete": True,
        "codec_id": codec.codec_id,
        "codec": codec.describe(),
        "codec_config": to_dict(cfg.codec),
        "fingerprint": fingerprint,
        "data": {
            "source": cfg.data.source,
            "root": str(cfg.data.root),
            "source_class": type(source).__name__,
            "sample_rate": cfg.data.sample_rate,
            "channels": cfg.data.channels,
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - t0, 3),
        "splits": {s: sum(e["split"] == s for e in entries) for s in SPLITS},
        "songs": entries,
        "skipped": skipped,
        "stats": _train_stats(path, entries),
    }


def ensure_cache(cfg: FitConfig, force: bool = False) -> LatentCache:
    """Build codec and stem source from ``cfg`` (rendering the demo set when
    ``data.source == "demo"``), then reuse or build the latent cache."""
    from samuel_pl.codecs import build_codec
    from samuel_pl.data.sources import prepare_source

    source = prepare_source(cfg.data)
    codec = build_codec(cfg.codec)
    return build_cache(cfg, codec, source, force=force)
