"""Stem sources: aligned (vocals, accompaniment) songs from the demo set, MUSDB18-HQ, a folder of
songs or a CSV manifest, with train/val/test splits by song.

Layouts (``DataConfig.source``):
  * ``demo``: ``root/manifest.json`` written by ``python -m samuel_pl.data demo``.
  * ``musdb``: ``root/{train,test}/<song>/{vocals,drums,bass,other}.wav``; accompaniment =
    drums + bass + other; ``validation_songs`` move train songs to val (else ``val_fraction``
    of train, seeded); the test folder is the test split.
  * ``folder``: ``root/<song>/vocals.<ext>`` + ``root/<song>/accompaniment.<ext>``; seeded split.
  * ``manifest``: ``root`` is a CSV ``song_id,vocals,accompaniment[,split]``; several
    accompaniment paths are joined with ``;`` (summed); relative paths resolve against the CSV's
    folder; rows without a split get a seeded one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samuel_pl.audio import AUDIO_EXTENSIONS, DEFAULT_LIMITS, DecodeLimits, read_audio
from samuel_pl.config.schema import DataConfig
from samuel_pl.data.splits import SPLITS, norm_split, split_songs
from samuel_pl.errors import AudioError, DataError
from samuel_pl.files import write_text

log = logging.getLogger(__name__)

SOURCES = ("demo", "musdb", "folder", "manifest")
"""``data.source`` values (the config asks this list: ``samuel_pl.config.checks.DATA_SOURCE``)."""
MUSDB_ACCOMPANIMENT = ("drums", "bass", "other")
SILENCE_PEAK = 1e-4  # -80 dBFS: a stem quieter than this everywhere counts as silent


@dataclass(frozen=True)
class Song:
    """One song: id, split and stem paths (several accompaniment paths are summed)."""

    song_id: str
    split: str
    vocals: Path
    accompaniment: tuple[Path, ...]


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of a name that may hold undecodable file-name bytes (kept as they were)."""
    return text.encode("utf-8", "surrogateescape")


def song_file_stem(song_id: str) -> str:
    """Filesystem-safe, collision-free name for a song id (ids may contain '/', spaces, bytes
    that are not UTF-8, ...): the id's safe characters and 8 hex digits of its hash."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", song_id).strip("._")[:80] or "song"
    return f"{safe}-{hashlib.sha1(_utf8(song_id)).hexdigest()[:8]}"


def _audio_files(folder: Path) -> list[Path]:
    """Audio files (by extension, any case) directly in ``folder``, sorted by name."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [f for f in entries if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file()]


def _find_stem(folder: Path, name: str) -> Path:
    """The stem file ``name.<ext>`` in ``folder``, matching name and extension in any case
    (``Vocals.WAV``); by extension order when several exist; else the ``.wav`` path (missing:
    the scan reports it)."""
    found = {f.suffix.lower(): f for f in reversed(_audio_files(folder)) if f.stem.lower() == name}
    for ext in AUDIO_EXTENSIONS:
        if ext in found:
            return found[ext]
    return folder / f"{name}.wav"


def _check_root(root: Path, kind: str) -> None:
    if not root.exists():
        raise DataError(f"{root}: {kind} root does not exist")


class StemSource:
    """A fixed list of songs with splits. Build one with :func:`build_source`."""

    def __init__(
        self,
        name: str,
        root: Path,
        songs: list[Song],
        max_mismatch_s: float = 0.05,
        limits: DecodeLimits = DEFAULT_LIMITS,
    ):
        self.name = name
        self.root = root
        self._songs = sorted(songs, key=lambda s: (SPLITS.index(s.split), s.song_id))
        self.max_mismatch_s = max_mismatch_s
        self.limits = limits
        if not self._songs:
            raise DataError(f"{root}: no songs found for source {name!r}")

    def songs(self, split: str | None = None) -> list[Song]:
        """Songs of one split (train/val/test) or all, sorted by split then id."""
        if split is None:
            return list(self._songs)
        split = norm_split(split, str(self.root))
        return [s for s in self._songs if s.split == split]

    def fingerprint(self) -> str:
        """Hash of song ids, splits, file names, sizes and mtimes (no audio is read)."""
        h = hashlib.sha256(_utf8(self.name))
        for song in self._songs:
            h.update(_utf8(f"|{song.song_id}|{song.split}"))
            for path in (song.vocals, *song.accompaniment):
                try:
                    st = path.stat()
                    h.update(_utf8(f"|{path.name}:{st.st_size}:{st.st_mtime_ns}"))
                except OSError:
                    h.update(_utf8(f"|{path.name}:missing"))
        return h.hexdigest()[:16]

    def load_pair(
        self, song: Song, sample_rate: int, channels: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`load_pair` with this source's length tolerance and decode limits."""
        return load_pair(song, sample_rate, channels, self.max_mismatch_s, self.limits)

    def __repr__(self) -> str:
        counts = {s: len(self.songs(s)) for s in SPLITS}
        return f"StemSource({self.name!r}, root={str(self.root)!r}, {counts})"


def data_limits(cfg: DataConfig) -> DecodeLimits:
    """What a stem of this data config may be (``data.max_seconds``; rate and channel limits)."""
    return DecodeLimits(
        max_seconds=float(cfg.max_seconds), hint=f"data.max_seconds={cfg.max_seconds:g}"
    )


def load_pair(
    song: Song,
    sample_rate: int,
    channels: int,
    max_mismatch_s: float = 0.05,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> tuple[np.ndarray, np.ndarray]:
    """Read (vocals, accompaniment) as float32 ``(C, N)`` each, equal length.

    Accompaniment files are summed. Lengths within ``max_mismatch_s`` are trimmed to the
    shortest; a larger difference raises AudioError naming the files. Each file is checked
    against ``limits`` on its header before it is decoded.
    """
    tol = int(round(max_mismatch_s * sample_rate))
    vocals, _ = read_audio(song.vocals, sample_rate, channels, limits)
    stems = [read_audio(p, sample_rate, channels, limits)[0] for p in song.accompaniment]
    if not stems:
        raise AudioError(f"{song.vocals}: song {song.song_id} has no accompaniment stem")
    lengths = [vocals.shape[1]] + [s.shape[1] for s in stems]
    if max(lengths) - min(lengths) > tol:
        paths = [song.vocals, *song.accompaniment]
        detail = ", ".join(f"{p.name}={n / sample_rate:.2f}s" for p, n in zip(paths, lengths))
        raise AudioError(
            f"{song.vocals.parent}: stem lengths differ by more than {max_mismatch_s}s ({detail})"
        )
    n = min(lengths)
    accompaniment = np.sum([s[:, :n] for s in stems], axis=0, dtype=np.float32)
    return np.ascontiguousarray(vocals[:, :n]), accompaniment


def scan_songs(
    songs: list[Song],
    sample_rate: int,
    channels: int,
    report_path: Path | None,
    max_mismatch_s: float = 0.05,
    progress: bool = False,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> tuple[list[Song], list[tuple[Song, str]]]:
    """Validate each song by loading it; returns (good songs, [(song, reason)] skipped).

    Catches missing stems, unreadable/truncated/zero-length files, NaN/inf samples, stem length
    mismatch and silent stems. Never stops half way. Skips go to ``report_path`` as JSON lines
    (song_id, split, path, reason), written atomically (an empty file when all are good).
    """
    from tqdm import tqdm

    good: list[Song] = []
    skipped: list[tuple[Song, str]] = []
    for song in tqdm(songs, desc="scanning", unit="song", disable=not progress):
        missing = [p for p in (song.vocals, *song.accompaniment) if not p.is_file()]
        try:
            if missing:
                raise AudioError(f"{missing[0]}: missing stem")
            vocals, accompaniment = load_pair(song, sample_rate, channels, max_mismatch_s, limits)
            if float(np.abs(vocals).max()) < SILENCE_PEAK:
                raise AudioError(f"{song.vocals}: all-silent vocals")
            if float(np.abs(accompaniment).max()) < SILENCE_PEAK:
                raise AudioError(f"{song.accompaniment[0]}: all-silent accompaniment")
        except AudioError as exc:
            skipped.append((song, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is reported, not fatal
            skipped.append((song, f"{song.vocals}: {type(exc).__name__}: {exc}"))
            continue
        good.append(song)
    if report_path is not None:
        lines = []
        for song, reason in skipped:
            path, _, why = reason.partition(": ")
            row = {"song_id": song.song_id, "split": song.split, "path": path, "reason": why}
            lines.append(json.dumps(row) + "\n")
        write_text(report_path, "".join(lines))
    log.info("scanned %d songs: %d usable, %d skipped", len(songs), len(good), len(skipped))
    return good, skipped


def _demo_songs(cfg: DataConfig, root: Path) -> list[Song]:
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise DataError(
            f"{manifest}: demo manifest not found; render it with "
            f"`python -m samuel_pl.data demo --out {root}`"
        )
    try:
        records = json.loads(manifest.read_text())["songs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{manifest}: unreadable demo manifest ({exc})") from exc
    if cfg.demo_songs > 0:
        # The first N songs of the seeded order: rendering more songs into the same folder
        # (e.g. for a larger evaluation set) leaves an N-song training set unchanged.
        records = records[: cfg.demo_songs]
    return [
        Song(
            r["song_id"],
            norm_split(r["split"], str(manifest)),
            root / r["song_id"] / "vocals.wav",
            (root / r["song_id"] / "accompaniment.wav",),
        )
        for r in records
    ]


def _musdb_songs(cfg: DataConfig, root: Path) -> list[Song]:
    found = {name: root / name for name in ("train", "test") if (root / name).is_dir()}
    if not found:
        raise DataError(f"{root}: not a MUSDB18-HQ root (no train/ or test/ folder)")
    dirs = {sub: sorted(p for p in d.iterdir() if p.is_dir()) for sub, d in found.items()}
    train_ids = [p.name for p in dirs.get("train", [])]
    unknown = sorted(set(cfg.validation_songs) - set(train_ids))
    if unknown:
        raise DataError(f"{root / 'train'}: validation_songs not found there: {unknown[:3]}")
    if cfg.validation_songs:
        splits = {i: ("val" if i in set(cfg.validation_songs) else "train") for i in train_ids}
    else:
        splits = split_songs(train_ids, cfg.val_fraction, 0.0, cfg.split_seed)
    songs = []
    for sub, folders in dirs.items():
        for folder in folders:
            split = "test" if sub == "test" else splits[folder.name]
            acc = tuple(_find_stem(folder, n) for n in MUSDB_ACCOMPANIMENT)
            songs.append(Song(folder.name, split, _find_stem(folder, "vocals"), acc))
    return songs


def _folder_songs(cfg: DataConfig, root: Path) -> list[Song]:
    folders = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        names = {f.stem.lower() for f in _audio_files(d)}
        if names & {"vocals", "accompaniment"}:  # a song folder; a missing stem is scanned
            folders.append(d)
    splits = split_songs([d.name for d in folders], cfg.val_fraction, cfg.test_fraction,
                         cfg.split_seed)  # fmt: skip
    return [
        Song(d.name, splits[d.name], _find_stem(d, "vocals"), (_find_stem(d, "accompaniment"),))
        for d in folders
    ]


def _manifest_songs(cfg: DataConfig, csv_path: Path) -> list[Song]:
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: manifest source expects a CSV file as data.root")
    base = csv_path.parent
    rows: list[tuple[str, str, str, str]] = []
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"song_id", "vocals", "accompaniment"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise DataError(
                    f"{csv_path}: header must hold song_id,vocals,accompaniment[,split]"
                )
            for line, row in enumerate(reader, start=2):
                sid = (row.get("song_id") or "").strip()
                if not sid:
                    raise DataError(f"{csv_path}:{line}: empty song_id")
                split = (row.get("split") or "").strip()
                rows.append((sid, row["vocals"] or "", row["accompaniment"] or "", split))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: unreadable manifest ({exc})") from exc
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise DataError(f"{csv_path}: duplicate song_id {dup[0]!r}")
    drawn = split_songs([r[0] for r in rows if not r[3]], cfg.val_fraction, cfg.test_fraction,
                        cfg.split_seed)  # fmt: skip

    def resolve(p: str) -> Path:
        path = Path(p.strip()).expanduser()
        return path if path.is_absolute() else base / path

    return [
        Song(
            sid,
            norm_split(split, str(csv_path)) if split else drawn[sid],
            resolve(voc),
            tuple(resolve(a) for a in acc.split(";") if a.strip()),
        )
        for sid, voc, acc, split in rows
    ]


def build_source(cfg: DataConfig) -> StemSource:
    """The stem source named by ``cfg.source`` over ``cfg.root`` (DataError if missing/empty)."""
    root = Path(cfg.root).expanduser()
    builders = {
        "demo": _demo_songs,
        "musdb": _musdb_songs,
        "folder": _folder_songs,
        "manifest": _manifest_songs,
    }
    if cfg.source not in builders:
        raise DataError(f"unknown data.source {cfg.source!r} (use {', '.join(SOURCES)})")
    _check_root(root, cfg.source)
    if cfg.source != "manifest" and not root.is_dir():
        raise DataError(f"{root}: {cfg.source} root is not a folder")
    songs = builders[cfg.source](cfg, root)
    return StemSource(cfg.source, root, songs, cfg.max_length_mismatch_s, data_limits(cfg))


def prepare_source(cfg: DataConfig, progress: bool = True) -> StemSource:
    """:func:`build_source`, rendering the demo set into ``cfg.root`` first when
    ``cfg.source == "demo"`` and it is missing or smaller than ``cfg.demo_songs`` (cheap when
    it is there: :func:`samuel_pl.data.demo.ensure_demo` reads the manifest only)."""
    if cfg.source == "demo" and cfg.demo_set != "bach":
        from samuel_pl.data.varied import ensure_varied

        ensure_varied(
            Path(cfg.root),
            cfg.demo_set,
            cfg.demo_songs,
            cfg.demo_seed,
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            progress=progress,
        )
    elif cfg.source == "demo":
        from samuel_pl.data.demo import ensure_demo

        ensure_demo(
            Path(cfg.root),
            cfg.demo_songs,
            cfg.demo_seed,
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            progress=progress,
        )
    return build_source(cfg)
