"""The embedded demo set: Bach chorales rendered into (vocals, accompaniment, parts) stems.

The soprano (found by name) is the "vocal", sung by a voice-like GM program; the other parts are
the accompaniment with an instrumentation drawn per song. Everything drawn per song (tempo,
tempo jitter, transposition, programs, velocities) comes from a generator seeded by
``(seed, song_id)``, so a song renders the same whatever else is rendered and in whichever process.

Layout of ``out``: ``<song_id>/{vocals,accompaniment}.wav``, ``<song_id>/parts/<name>.wav`` (44.1
kHz stereo PCM_16, equal length, one common gain per song, peak at -1 dBFS), ``<song_id>/song.json``
(the done marker, written last) and ``manifest.json`` (all finished songs; rewritten atomically
after each song). Every file is written under a temporary name and renamed.

Splits are by chorale tune (:mod:`samuel_pl.data.demo_plan`): every piece harmonising one
melody is in one split. The manifest's ``split_by`` names the rule; a set rendered under an older
rule gets its splits rewritten without rendering (:func:`ensure_demo`, or ``python -m
samuel_pl.data demo --resplit``).
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.audio import write_audio
from samuel_pl.data.chorales import Piece, corpus_paths, load_piece, piece_id, unique_pieces
from samuel_pl.data.demo_plan import SPLIT_BY, demo_splits, piece_order, resplit_demo, set_split
from samuel_pl.data.synth import Renderer, TimedNote, resolve_soundfont
from samuel_pl.data.workers import default_workers, parallel_map
from samuel_pl.errors import DataError
from samuel_pl.files import write_json

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
FORMAT_VERSION = 1
PEAK = 0.891  # -1 dBFS: the loudest stem of a song peaks here
TAIL_S = 1.5
VOICE_PROGRAMS = (52, 53, 54)  # Choir Aahs, Voice Oohs, Synth Voice
INSTRUMENTATIONS: dict[str, dict[str, int]] = {
    "piano": {"alto": 0, "tenor": 0, "bass": 0},
    "strings": {"alto": 40, "tenor": 41, "bass": 42},
    "string_ensemble": {"alto": 48, "tenor": 48, "bass": 43},
    "organ": {"alto": 19, "tenor": 19, "bass": 19},
    "guitar_bass": {"alto": 24, "tenor": 25, "bass": 32},
    "woodwinds": {"alto": 68, "tenor": 71, "bass": 70},
    "brass": {"alto": 60, "tenor": 57, "bass": 58},
    "electric_piano": {"alto": 4, "tenor": 4, "bass": 33},
}
_NAMED_PROGRAMS = (  # instrumental parts of cantata chorales keep an instrument of their kind
    ("timpani", 47), ("trumpet", 56), ("cornet", 56), ("horn", 60), ("corno", 60),
    ("oboe d", 69), ("oboe", 68), ("violin", 40), ("viola", 41), ("cello", 42),
    ("recorder", 74), ("flute", 73), ("flauto", 73), ("bassoon", 70), ("organ", 19),
)  # fmt: skip
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def settings_of(seed: int, backend: str, soundfont: str | Path | None) -> dict[str, Any]:
    """What makes two renders of a song identical; a folder holds songs of one setting only."""
    sf = resolve_soundfont(soundfont)
    return {"format": FORMAT_VERSION, "seed": int(seed), "backend": backend, "soundfont": sf.name}


def _song_rng(seed: int, song_id: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(song_id.encode())])


def _transpose_key(key: str, semitones: int) -> str:
    if not key:
        return ""
    tonic, _, mode = key.partition(" ")
    pc = _PC.get(tonic[:1].upper(), 0) + tonic[1:].count("#") - tonic[1:].count("-")
    return f"{_NAMES[(pc + semitones) % 12]} {mode}".strip()


def _program_for(role: str, label: str, scheme: dict[str, int]) -> int:
    if role in scheme:
        return scheme[role]
    low = label.lower()
    for word, program in _NAMED_PROGRAMS:
        if word in low:
            return program
    return scheme["alto"]


def plan_song(piece: Piece, song_id: str, seed: int) -> dict[str, Any]:
    """Draw tempo (with jitter and fermatas), transposition and programs; notes in seconds."""
    rng = _song_rng(seed, song_id)
    bpm = float(rng.uniform(66.0, 96.0))
    transpose = int(rng.integers(-3, 4))
    scheme_name = sorted(INSTRUMENTATIONS)[int(rng.integers(len(INSTRUMENTATIONS)))]
    scheme = INSTRUMENTATIONS[scheme_name]
    vocal_program = int(rng.choice(VOICE_PROGRAMS))
    # Quarter-note grid of beat lengths: smooth +-4% jitter, fermatas held, final ritardando.
    n_q = int(math.ceil(piece.quarters)) + 1
    walk = np.convolve(rng.normal(0.0, 1.0, n_q + 8), np.ones(8) / 8.0, mode="valid")[:n_q]
    beat = (60.0 / bpm) * np.exp(0.04 * walk / max(walk.std(), 1e-6))
    for end in piece.fermatas:
        beat[min(max(int(math.ceil(end)) - 1, 0), n_q - 1)] *= 1.75
    beat[max(n_q - 3, 0) :] *= 1.2
    grid = np.concatenate([[0.0], np.cumsum(beat)])

    def seconds(q: float) -> float:
        return float(np.interp(q, np.arange(len(grid)), grid))

    def timed(part_notes: list, base_velocity: float) -> list[TimedNote]:
        out = []
        for n in part_notes:
            start, end = seconds(n.start), seconds(n.start + n.length)
            vel = int(np.clip(base_velocity + rng.normal(0.0, 5.0), 30, 120))
            pitch = int(np.clip(n.pitch + transpose, 0, 127))
            out.append(TimedNote(start, max(start + 0.05, end - 0.02), pitch, vel))
        return out

    stems = {"vocals": (vocal_program, timed(piece.soprano.notes, rng.uniform(84, 100)))}
    for part in piece.others:
        program = _program_for(part.role, part.name, scheme)
        stems[part.stem] = (program, timed(part.notes, rng.uniform(64, 84)))
    return {
        "tempo_bpm": round(bpm, 2),
        "transpose": transpose,
        "instrumentation": scheme_name,
        "vocal_program": vocal_program,
        "stems": stems,
        "duration_s": seconds(piece.quarters) + TAIL_S,
    }


def _done(folder: Path) -> dict[str, Any] | None:
    """The song record when ``folder`` holds a finished song (marker and both main stems)."""
    marker = folder / "song.json"
    if not (marker.is_file() and (folder / "vocals.wav").is_file()):
        return None
    if not (folder / "accompaniment.wav").is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def render_song(
    piece: Piece,
    song_id: str,
    split: str,
    out: Path,
    seed: int,
    renderer: Renderer,
    write_parts: bool = True,
) -> dict[str, Any]:
    """Render one song into ``out/<song_id>`` and write its marker last; returns the record."""
    plan = plan_song(piece, song_id, seed)
    n = int(math.ceil(plan["duration_s"] * renderer.sample_rate))
    audio = {name: renderer.render(notes, prog, n) for name, (prog, notes) in plan["stems"].items()}
    parts = [p.stem for p in piece.others]
    audio["accompaniment"] = np.sum([audio[p] for p in parts], axis=0, dtype=np.float32)
    peak = max(float(np.abs(a).max()) for a in audio.values())
    if peak <= 0.0:
        raise DataError(f"{piece.path}: rendered silence")
    gain = PEAK / peak  # one gain for every stem keeps the natural vocal/accompaniment balance
    record = {
        "song_id": song_id,
        "source_piece": piece.piece_id,
        "split": split,
        "duration_s": round(n / renderer.sample_rate, 3),
        "samples": n,
        "sample_rate": renderer.sample_rate,
        "key": _transpose_key(piece.key, plan["transpose"]),
        "original_key": piece.key,
        "transpose": plan["transpose"],
        "tempo_bpm": plan["tempo_bpm"],
        "instrumentation": plan["instrumentation"],
        "vocal_part": piece.soprano.name,
        "programs": {name: prog for name, (prog, _) in plan["stems"].items()},
        "parts": parts if write_parts else [],
        "gain": round(gain, 6),
        "settings": settings_of(seed, renderer.backend, renderer.soundfont),
    }
    names = ["vocals", "accompaniment", *(parts if write_parts else [])]
    write_song(
        out / song_id, {k: audio[k] * np.float32(gain) for k in names}, renderer.sample_rate, record
    )
    return record


def write_song(
    folder: Path, audio: dict[str, np.ndarray], sample_rate: int, record: dict[str, Any]
) -> None:
    """Write stems (vocals/accompaniment at the top, others under parts/) and song.json last;
    an interrupted write leaves nothing that looks finished."""
    for stale in list(folder.glob(".*.tmp")) + list(folder.glob("parts/.*.tmp")):
        stale.unlink(missing_ok=True)  # left by a killed process
    written: list[Path] = []
    try:
        for name, wav in audio.items():
            top = name in ("vocals", "accompaniment")
            dest = folder / f"{name}.wav" if top else folder / "parts" / f"{name}.wav"
            written.append(write_audio(dest, wav, sample_rate))
        write_json(folder / "song.json", record)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


_RENDERER: dict[tuple, Renderer] = {}


def _render_task(task: tuple) -> tuple[str, dict[str, Any] | None, str]:
    """Worker: parse and render one piece; returns (song_id, record or None, skip reason)."""
    path, song_id, split, out, seed, backend, soundfont, write_parts = task
    piece, reason = load_piece(path)
    if piece is None:
        return song_id, None, reason
    key = (backend, str(soundfont))
    if key not in _RENDERER:
        _RENDERER[key] = Renderer(backend, soundfont, SAMPLE_RATE)
    try:
        rec = render_song(piece, song_id, split, Path(out), seed, _RENDERER[key], write_parts)
        return song_id, rec, ""
    except DataError as exc:
        return song_id, None, str(exc)


def _parse_task(path: Path) -> tuple[str, str]:
    return piece_id(path), load_piece(path)[1]


def render_demo(
    out: str | Path,
    limit: int = 24,
    seed: int = 0,
    backend: str = "tinysoundfont",
    soundfont: str | Path | None = None,
    workers: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    progress: bool = True,
    parts: bool = True,
) -> dict[str, Any]:
    """Render the first ``limit`` renderable chorales of the seeded order that are missing.

    Idempotent: finished songs are skipped; the manifest is rewritten after every song.
    ``parts=False`` writes only vocals and accompaniment (40% of the disk space).
    Returns the manifest dict (``songs``: records sorted by order; ``skipped``: piece -> reason).
    """
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_of(seed, backend, soundfont)
    soundfont = resolve_soundfont(soundfont)
    order = piece_order(seed)
    splits = demo_splits(order, val_fraction, test_fraction)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text())
        except ValueError as exc:
            raise DataError(f"{manifest_path}: unreadable manifest ({exc})") from exc
        if old.get("settings") != settings:
            raise DataError(
                f"{out} holds a demo set rendered with {old.get('settings')}, not {settings};"
                " use another --out"
            )
    records: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    position = {piece_id(p): i for i, p in enumerate(order)}

    def write_manifest() -> None:
        songs = sorted(records.values(), key=lambda r: position.get(r["source_piece"], 1 << 30))
        doc = {"format": FORMAT_VERSION, "settings": settings, "sample_rate": SAMPLE_RATE}
        doc["split_by"] = SPLIT_BY
        doc.update(val_fraction=val_fraction, test_fraction=test_fraction, songs=songs)
        doc["skipped"] = dict(sorted(skipped.items()))
        write_json(manifest_path, doc)

    for path in order:  # songs done in earlier runs count towards the limit
        rec = _done(out / piece_id(path))
        if rec is not None:
            if rec.get("settings") != settings:
                raise DataError(f"{out / piece_id(path)} was rendered with other settings")
            records[rec["song_id"]] = set_split(out, rec, splits[piece_id(path)])
    bar = tqdm(total=limit, desc="demo songs", unit="song", disable=not progress)
    bar.update(min(limit, len(records)))
    try:
        cursor, taken = 0, 0  # taken: renderable songs at positions < cursor
        while cursor < len(order) and taken < limit:
            batch = []
            while cursor < len(order) and taken + len(batch) < limit:
                path, sid = order[cursor], piece_id(order[cursor])
                if sid in records:
                    taken += 1
                else:
                    args = (splits[sid], str(out), seed, backend, soundfont, parts)
                    batch.append((str(path), sid, *args))
                cursor += 1
            for sid, rec, reason in parallel_map(_render_task, batch, workers or default_workers()):
                if rec is None:
                    skipped[sid] = reason
                    log.info("demo: skipped %s: %s", sid, reason)
                else:
                    records[sid] = rec
                    taken += 1
                    bar.update(1)
                    write_manifest()
    finally:
        bar.close()
    write_manifest()
    return json.loads(manifest_path.read_text())


def ensure_demo(root: str | Path, songs: int, seed: int, **kwargs: Any) -> Path:
    """Render the demo set into ``root`` when missing or smaller than ``songs``; returns root.

    Idempotent and cheap when everything is there (reads the manifest only; re-splits a set made
    under an older split rule, no audio touched). Writes no
    per-part stems unless ``parts=True`` (training needs none). ``kwargs`` go to
    :func:`render_demo` (backend, soundfont, workers, val/test_fraction, progress, parts).
    """
    root = Path(root)
    manifest = root / "manifest.json"
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text())
        except ValueError:
            doc = {}
        have = [s for s in doc.get("songs", []) if _done(root / s["song_id"]) is not None]
        if len(have) >= songs and doc.get("settings", {}).get("seed") == seed:
            if doc.get("split_by") != SPLIT_BY:  # rendered under an older split rule
                resplit_demo(
                    root, kwargs.get("val_fraction", 0.1), kwargs.get("test_fraction", 0.1)
                )
            return root
    kwargs.setdefault("parts", False)  # training reads vocals + accompaniment only
    render_demo(root, limit=songs, seed=seed, **kwargs)
    return root


def list_renderable(workers: int | None = None, progress: bool = True) -> tuple[list, list]:
    """Parse every corpus chorale without rendering: (renderable ids, [(id, reason)] skipped)."""
    from tqdm import tqdm

    paths = unique_pieces(corpus_paths())
    ok, bad = [], []
    it = parallel_map(_parse_task, paths, workers or default_workers())
    for pid, reason in tqdm(it, total=len(paths), desc="parsing", disable=not progress):
        (bad.append((pid, reason)) if reason else ok.append(pid))
    return ok, bad
