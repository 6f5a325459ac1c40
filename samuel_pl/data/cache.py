"""Versioned latent cache: every song of a stem source encoded once by a codec, read memory-mapped.

Layout of a cache folder (``data.cache_dir``, default ``$XDG_CACHE_HOME/samuel_pl/<data
fingerprint>/<codec_id>``, i.e. ``~/.cache/samuel_pl/...``: outside the dataset, which may be
read-only, and keyed by the data so two configs over one root never share a folder)::

    manifest.json                 written last; its presence means the cache is complete
    manifest.partial.json         progress of an unfinished build (used to resume it)
    songs/<name>.vocals.npy       (latent_channels, T) float32 per stem
    songs/<name>.accompaniment.npy

Normalisation statistics: per latent channel, mean and (population) std over all frames of BOTH
stems of the TRAIN split, pooled, so the denoiser's input, its vocal condition and its output share
one z-score and decoding needs one inverse (``.mean`` / ``.std``); per-stem figures are also kept
in ``manifest["stats"]["per_stem"]`` for analysis. Every file is written atomically
(:mod:`samuel_pl.files`).
"""

from __future__ import annotations

import io
import json
import os
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
from samuel_pl.data.sources import data_limits, song_file_stem
from samuel_pl.errors import AudioError, DataError, SamuelError
from samuel_pl.files import ensure_writable_dir, write_bytes, write_json

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL = "manifest.partial.json"
STEMS = ("vocals", "accompaniment")
SPLITS = ("train", "val", "test")


def _write_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32))
    write_bytes(path, buf.getvalue())


def _load_npy(path: Path) -> np.ndarray:
    """A latent file, memory-mapped; never unpickles (object arrays are refused)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        hint = _rebuild_hint(path.parent.parent)
        raise DataError(f"{path}: unreadable latent file ({exc}); {hint}") from exc


def _remove_temps(path: Path) -> None:
    """Temporary files of a build that was killed mid-write (never complete files)."""
    for folder in (path, path / "songs"):
        for f in folder.glob(".*.tmp"):
            f.unlink(missing_ok=True)


# -- statistics ---------------------------------------------------------------------------------
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


# -- the cache ----------------------------------------------------------------------------------
def _rebuild_hint(path: Path) -> str:
    return (
        f"run `python -m samuel_pl.encode --config CONFIG --force` (same config as training) "
        f"or delete {path}"
    )


class LatentCache:
    """A complete latent cache folder (see the module docstring). Open with :meth:`open`.

    Attributes:
        path: the cache folder.
        manifest: the parsed ``manifest.json``.
        codec_id: id of the codec that made the latents.
        reused: True when :func:`build_cache` found this cache already complete.
        silence: (latent_channels,) float32 latent of encoded silence, the padding past a song's
            end (set by :func:`build_cache` from the codec; None when opened without one).
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.codec_id: str = manifest["codec_id"]
        self.fingerprint: str = manifest["fingerprint"]
        self.reused = False
        self.silence: np.ndarray | None = None
        self._songs = {s["id"]: s for s in manifest["songs"]}

    @classmethod
    def open(cls, path: str | Path, codec_id: str, fingerprint: str) -> LatentCache:
        """Open a complete cache made by ``codec_id`` from data with ``fingerprint``.

        Raises:
            DataError: missing/unfinished cache, other format version, codec or data fingerprint,
                or a missing latent file; the message says how to rebuild.
        """
        path = Path(path)
        mpath = path / MANIFEST
        if not mpath.is_file():
            state = "an interrupted build" if (path / PARTIAL).exists() else "no latent cache"
            raise DataError(f"{path}: {state} (no {MANIFEST}); {_rebuild_hint(path)}")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{mpath}: unreadable manifest ({exc}); {_rebuild_hint(path)}") from exc
        checks = [
            ("format version", manifest.get("format_version"), FORMAT_VERSION),
            ("codec", manifest.get("codec_id"), codec_id),
            ("data fingerprint", manifest.get("fingerprint"), fingerprint),
        ]
        for what, found, expected in checks:
            if found != expected:
                raise DataError(
                    f"{path}: latent cache {what} {found!r} does not match the current "
                    f"{expected!r}; {_rebuild_hint(path)}"
                )
        cache = cls(path, manifest)
        for song in manifest["songs"]:
            for stem in STEMS:
                if not (path / song["files"][stem]).is_file():
                    raise DataError(
                        f"{path / song['files'][stem]}: latent file missing; {_rebuild_hint(path)}"
                    )
        return cache

    def songs(self, split: str | None = None) -> list[str]:
        """Song ids of ``split`` (all splits when None), in manifest order."""
        return [s["id"] for s in self.manifest["songs"] if split is None or s["split"] == split]

    def frames(self, song_id: str) -> int:
        """Latent frames T of a song."""
        return int(self._entry(song_id)["frames"])

    def split(self, song_id: str) -> str:
        """Split of a song."""
        return str(self._entry(song_id)["split"])

    def load(self, song_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, accompaniment) latents, each memory-mapped float32 (latent_channels, T)."""
        entry = self._entry(song_id)
        out = [_load_npy(self.path / entry["files"][stem]) for stem in STEMS]
        return out[0], out[1]

    @property
    def latent_channels(self) -> int:
        return int(self.manifest["codec"]["latent_channels"])

    @property
    def stats(self) -> dict[str, Any]:
        stats = self.manifest.get("stats")
        if not stats:
            raise DataError(
                f"{self.path}: the cache has no train songs, so no normalisation statistics"
            )
        return stats

    @property
    def mean(self) -> np.ndarray:
        """Per-channel mean (C,) over both stems of the train split."""
        return np.asarray(self.stats["mean"], dtype=np.float32)

    @property
    def std(self) -> np.ndarray:
        """Per-channel population std (C,) over both stems of the train split (not floored)."""
        return np.asarray(self.stats["std"], dtype=np.float32)

    def _entry(self, song_id: str) -> dict[str, Any]:
        try:
            return self._songs[song_id]
        except KeyError:
            raise DataError(f"{self.path}: song {song_id!r} is not in the latent cache") from None

    def __repr__(self) -> str:
        counts = {s: len(self.songs(s)) for s in SPLITS}
        return f"LatentCache({str(self.path)!r}, codec_id={self.codec_id!r}, songs={counts})"


# -- building -----------------------------------------------------------------------------------
def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME/samuel_pl`` (an absolute XDG_CACHE_HOME only), else
    ``~/.cache/samuel_pl``: where caches go when ``data.cache_dir`` is empty."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "samuel_pl"


def cache_path(cfg: FitConfig, codec: LatentCodec, fingerprint: str) -> Path:
    """``cfg.data.cache_dir`` if set, else ``<user cache>/<fingerprint>/<codec_id>``
    (:func:`user_cache_root`; ``fingerprint`` is the stem source's)."""
    if cfg.data.cache_dir:
        return Path(cfg.data.cache_dir).expanduser()
    return user_cache_root() / fingerprint / codec.codec_id


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
                _write_npy(path / files[stem], lat)
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
            x = _load_npy(path / e["files"][stem])  # (C, T)
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
    from samuel_pl.data.sources import build_source

    if cfg.data.source == "demo":
        from samuel_pl.data.demo import ensure_demo

        ensure_demo(
            Path(cfg.data.root),
            cfg.data.demo_songs,
            cfg.data.demo_seed,
            val_fraction=cfg.data.val_fraction,
            test_fraction=cfg.data.test_fraction,
        )
    codec = build_codec(cfg.codec)
    source = build_source(cfg.data)
    return build_cache(cfg, codec, source, force=force)
