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
in ``manifest["stats"]["per_stem"]`` for analysis. Built (resumably, every file written
atomically) by :func:`samuel_pl.data.cache_build.build_cache`; read here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.codecs.base import LatentCodec
from samuel_pl.config.schema import FitConfig
from samuel_pl.data.splits import SPLITS
from samuel_pl.errors import DataError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL = "manifest.partial.json"
STEMS = ("vocals", "accompaniment")


def load_latent(path: Path) -> np.ndarray:
    """A latent file, memory-mapped; never unpickles (object arrays are refused)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        hint = _rebuild_hint(path.parent.parent)
        raise DataError(f"{path}: unreadable latent file ({exc}); {hint}") from exc


# -- the cache -------------------------------------------------------------------------------------
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
        out = [load_latent(self.path / entry["files"][stem]) for stem in STEMS]
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


# -- where caches live -----------------------------------------------------------------------------
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
