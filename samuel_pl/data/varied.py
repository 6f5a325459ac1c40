"""The varied demo set: several corpora, SoundFonts, keys, tempi and rooms, plus a held-out style.

``varied``: Bach chorales, string quartets and chamber music/songs of the music21 corpus
(:data:`~samuel_pl.data.score_corpus.GROUPS` but the held-out group), each song rendered with one of
:data:`TRAIN_SOUNDFONTS`, a drawn key (transposed at render time) and tempo, GM programs drawn
from families that fit each part's role (bass / inner; the melody with one of
:data:`VOCAL_PROGRAMS`), humanised velocities and onsets, a tilt EQ and a synthetic room. Splits
are by tune (chorales) or by movement (excerpts of one movement stay together).
``varied_heldout``: the held-out style for transfer figures: the :data:`HELD_OUT_GROUP` pieces
rendered with :data:`HELD_OUT_SOUNDFONT`, never used by ``varied``; every song is ``test``.
Same folder layout and manifest as :mod:`samuel_pl.data.demo`; resumable; seeded per song id.
Palestrina and Monteverdi are reserved and never planned (:mod:`samuel_pl.data.score_corpus`).
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.data.chorales import load_piece
from samuel_pl.data.demo import PEAK, SAMPLE_RATE, TAIL_S, _done, write_song
from samuel_pl.data.score_corpus import GROUPS, group_paths, load_excerpt, score_id
from samuel_pl.data.splits import split_groups
from samuel_pl.data.synth import Renderer, TimedNote, default_soundfont
from samuel_pl.data.tunes import load_tunes, tune_labels
from samuel_pl.data.workers import default_workers, parallel_map
from samuel_pl.errors import DataError
from samuel_pl.files import write_json

log = logging.getLogger(__name__)

FORMAT = 1
SETS = ("varied", "varied_heldout")
HELD_OUT_GROUP = "polyphony"
SF2_DIR = Path("/usr/share/sounds/sf2")
TRAIN_SOUNDFONTS = ("TimGM6mb.sf2", "FluidR3_GM.sf2", "sf_GMbank.sf2")
HELD_OUT_SOUNDFONT = "OPL-3_FM_128M.sf2"
APT = "apt-get install fluid-soundfont-gm csound-soundfont opl3-soundfont"
EXCERPTS = 3  # excerpts planned per non-chorale movement (shorter movements skip the rest)
VOCAL_PROGRAMS = (52, 53, 54, 85, 91)  # choir aahs, voice oohs, synth voice, lead voice, choir pad
BASS_PROGRAMS = (32, 33, 42, 43, 58, 70, 0, 19)
INNER_PROGRAMS = (0, 4, 6, 11, 19, 21, 24, 25, 40, 41, 46, 48, 49, 56, 60, 61, 68, 71, 73, 89)
ENSEMBLES = (0, 19, 48, 24, 4)  # one program for all accompanying parts (piano, organ, ...)


def soundfont_path(name: str) -> Path:
    """Path of a SoundFont by file name; DataError with the install line when missing."""
    if name == "TimGM6mb.sf2":
        return default_soundfont()
    path = SF2_DIR / name
    if not path.is_file():
        raise DataError(f"{path}: SoundFont missing; install the fonts with `{APT}`")
    return path


def settings_of(demo_set: str, seed: int) -> dict[str, Any]:
    """What makes two renders of a song identical; a folder holds songs of one setting only."""
    if demo_set not in SETS:
        raise DataError(f"unknown demo set {demo_set!r} (use bach, {' or '.join(SETS)})")
    fonts = (HELD_OUT_SOUNDFONT,) if demo_set == "varied_heldout" else TRAIN_SOUNDFONTS
    return {"format": FORMAT, "set": demo_set, "seed": int(seed), "soundfonts": list(fonts)}


def varied_plan(demo_set: str, seed: int, val: float = 0.1, test: float = 0.1) -> list[dict]:
    """Every song the set can hold, in render order: {song_id, path, excerpt, group, split}.

    Groups take turns (any prefix mixes them); within a group a seeded shuffle of movements
    (excerpts of one movement follow each other, so a worker parses it once). Splits by
    :func:`split_groups` over tunes (chorales) or movements (other scores)."""
    settings_of(demo_set, seed)
    names = [HELD_OUT_GROUP] if demo_set == "varied_heldout" else [
        g for g in GROUPS if g != HELD_OUT_GROUP
    ]  # fmt: skip
    rng = np.random.default_rng([int(seed), 4241])
    labels = tune_labels(load_tunes())
    queues = []
    for g in names:
        paths = group_paths(g)
        items = []  # movements in a seeded order, the excerpts of one movement in a row
        for p in (paths[i] for i in rng.permutation(len(paths))):
            sid = score_id(p)
            if g == "chorales":
                items.append({"song_id": sid, "path": str(p), "excerpt": 0, "tune": labels[sid]})
            else:
                items += [
                    {"song_id": f"{sid}-e{k}", "path": str(p), "excerpt": k, "tune": sid}
                    for k in range(EXCERPTS)
                ]
        queues.append([dict(it, group=g) for it in items])
    order = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
    if demo_set == "varied_heldout":
        splits = ["test"] * len(order)
    else:
        splits = split_groups([it["tune"] for it in order], val, test)
    return [dict(it, split=s) for it, s in zip(order, splits)]


def _transpose(piece: Any, rng: np.random.Generator) -> int:
    """Drawn key change (-5..+6) plus whole octaves that bring the melody's median pitch into
    a singing range (55..76)."""
    shift = int(rng.integers(-5, 7))
    median = float(np.median([n.pitch for n in piece.soprano.notes])) + shift
    while median > 76:
        shift, median = shift - 12, median - 12
    while median < 55:
        shift, median = shift + 12, median + 12
    return shift


def plan_song(piece: Any, song_id: str, seed: int, fonts: tuple[str, ...]) -> dict[str, Any]:
    """Draw SoundFont, tempo, key, programs, humanisation and room; notes in seconds."""
    rng = np.random.default_rng([int(seed), zlib.crc32(song_id.encode())])
    font = fonts[int(rng.integers(len(fonts)))]
    bpm = float(rng.uniform(60.0, 126.0))
    shift = _transpose(piece, rng)
    ensemble = int(rng.choice(ENSEMBLES)) if rng.random() < 0.4 else None
    n_q = int(np.ceil(piece.quarters)) + 1
    walk = np.convolve(rng.normal(0.0, 1.0, n_q + 8), np.ones(8) / 8.0, mode="valid")[:n_q]
    beat = (60.0 / bpm) * np.exp(0.05 * walk / max(walk.std(), 1e-6))
    for end in piece.fermatas:
        beat[min(max(int(np.ceil(end)) - 1, 0), n_q - 1)] *= 1.6
    grid = np.concatenate([[0.0], np.cumsum(beat)])

    def timed(notes: list, base: float, jitter: float) -> list[TimedNote]:
        out, swell = [], float(rng.uniform(0, 2 * np.pi))
        for n in notes:
            start = float(np.interp(n.start, np.arange(len(grid)), grid))
            end = float(np.interp(n.start + n.length, np.arange(len(grid)), grid))
            start = max(0.0, start + float(np.clip(rng.normal(0.0, jitter), -0.03, 0.03)))
            vel = base + 8 * np.sin(swell + 0.3 * n.start) + rng.normal(0.0, 6.0)
            pitch = int(np.clip(n.pitch + shift, 24, 108))
            out.append(
                TimedNote(start, max(start + 0.05, end - 0.02), pitch, int(np.clip(vel, 25, 124)))
            )
        return out

    stems = {
        "vocals": (
            int(rng.choice(VOCAL_PROGRAMS)),
            timed(piece.soprano.notes, rng.uniform(80, 100), 0.008),
        )
    }
    for part in piece.others:
        pool = BASS_PROGRAMS if part.role == "bass" else INNER_PROGRAMS
        program = ensemble if ensemble is not None else int(rng.choice(pool))
        stems[part.stem] = (program, timed(part.notes, rng.uniform(58, 86), 0.012))
    return {
        "soundfont": font,
        "tempo_bpm": round(bpm, 2),
        "transpose": shift,
        "stems": stems,
        "duration_s": float(grid[-1]) + TAIL_S,
        "room": {
            "rt60_s": round(float(rng.uniform(0.2, 1.0)), 3),
            "wet": round(float(rng.uniform(0.03, 0.25)), 3),
        },
        "eq_db": {
            "low": round(float(rng.uniform(-4, 4)), 2),
            "high": round(float(rng.uniform(-5, 3)), 2),
        },
        "room_seed": int(rng.integers(1 << 31)),
    }


def room_and_eq(
    audio: dict[str, np.ndarray], plan: dict[str, Any], sr: int
) -> dict[str, np.ndarray]:
    """The same tilt EQ (two-band shelf at ~500 Hz) and synthetic room (decaying stereo noise
    impulse response) on every stem (2, N) of a song, so stems still sum to the mixture."""
    from scipy.signal import lfilter, oaconvolve

    rt60, wet = plan["room"]["rt60_s"], plan["room"]["wet"]
    rng = np.random.default_rng(plan["room_seed"])
    t = np.arange(int(rt60 * sr)) / sr
    ir = rng.normal(0.0, 1.0, (2, t.size)) * np.exp(-6.91 * t / rt60)
    ir /= np.sqrt((ir**2).sum(axis=1, keepdims=True))
    kernel = np.zeros((2, t.size + 2048))  # dry + wet room, then the EQ (both LTI: one kernel)
    kernel[:, 0] = 1.0 - wet
    kernel[:, : t.size] += wet * ir
    a = float(np.exp(-2 * np.pi * 500.0 / sr))
    low = lfilter([1 - a], [1, -a], kernel, axis=1)
    g_low, g_high = 10 ** (plan["eq_db"]["low"] / 20), 10 ** (plan["eq_db"]["high"] / 20)
    kernel = (g_low * low + g_high * (kernel - low)).astype(np.float32)
    out = {}
    for name, x in audio.items():
        wet_x = [oaconvolve(x[c], kernel[c])[: x.shape[1]] for c in range(2)]
        out[name] = np.stack(wet_x).astype(np.float32)
    return out


_RENDERERS: dict[str, Renderer] = {}


def _render_task(task: tuple) -> tuple[str, dict[str, Any] | None, str]:
    """Worker: parse one entry, render, apply room/EQ, write; (song_id, record or None, reason)."""
    entry, out, demo_set, seed, parts = task
    sid = entry["song_id"]
    if entry["group"] == "chorales":
        piece, reason = load_piece(entry["path"])
    else:
        piece, reason = load_excerpt(entry["path"], entry["excerpt"], sid)
    if piece is None:
        return sid, None, reason
    settings = settings_of(demo_set, seed)
    plan = plan_song(piece, sid, seed, tuple(settings["soundfonts"]))
    font = plan["soundfont"]
    if font not in _RENDERERS:
        _RENDERERS[font] = Renderer("tinysoundfont", soundfont_path(font), SAMPLE_RATE)
    n = int(np.ceil(plan["duration_s"] * SAMPLE_RATE))
    audio = {
        k: _RENDERERS[font].render(notes, prog, n) for k, (prog, notes) in plan["stems"].items()
    }
    stems = [p.stem for p in piece.others]
    audio["accompaniment"] = np.sum([audio[p] for p in stems], axis=0, dtype=np.float32)
    names = ["vocals", "accompaniment", *(stems if parts else [])]
    audio = room_and_eq({k: audio[k] for k in names}, plan, SAMPLE_RATE)  # linear: sums hold
    peak = max(float(np.abs(a).max()) for a in audio.values())
    if peak <= 0.0:
        return sid, None, "rendered silence"
    gain = PEAK / peak
    record = {
        "song_id": sid, "source_piece": score_id(Path(entry["path"])), "group": entry["group"],
        "excerpt": entry["excerpt"], "split": entry["split"],
        "duration_s": round(n / SAMPLE_RATE, 3), "samples": n, "sample_rate": SAMPLE_RATE,
        "transpose": plan["transpose"], "tempo_bpm": plan["tempo_bpm"], "soundfont": font,
        "room": plan["room"], "eq_db": plan["eq_db"],
        "vocal_part": piece.soprano.name, "programs": {k: p for k, (p, _) in plan["stems"].items()},
        "parts": stems if parts else [], "gain": round(gain, 6), "settings": settings,
    }  # fmt: skip
    write_song(
        Path(out) / sid, {k: audio[k] * np.float32(gain) for k in names}, SAMPLE_RATE, record
    )
    return sid, record, ""


def render_varied(
    out: str | Path,
    demo_set: str = "varied",
    limit: int = 24,
    seed: int = 0,
    workers: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    progress: bool = True,
    parts: bool = False,
) -> dict[str, Any]:
    """Render the first ``limit`` renderable songs of :func:`varied_plan` that are missing.

    Idempotent and resumable like :func:`samuel_pl.data.demo.render_demo`; returns the manifest."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_of(demo_set, seed)
    for font in settings["soundfonts"]:
        soundfont_path(font)  # fail early with the install line
    plan = varied_plan(demo_set, seed, val_fraction, test_fraction)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old.get("settings") != settings:
            raise DataError(
                f"{out} holds songs rendered with {old.get('settings')}, not {settings}"
            )
    position = {e["song_id"]: i for i, e in enumerate(plan)}
    records = {}
    for e in plan:
        rec = _done(out / e["song_id"])
        if rec is not None:
            records[e["song_id"]] = {**rec, "split": e["split"]}
    skipped: dict[str, str] = {}

    def write_manifest() -> None:
        songs = sorted(records.values(), key=lambda r: position[r["song_id"]])
        doc = {"format": FORMAT, "settings": settings, "sample_rate": SAMPLE_RATE}
        doc.update(
            split_by="tune or movement", val_fraction=val_fraction, test_fraction=test_fraction
        )
        doc.update(songs=songs, skipped=dict(sorted(skipped.items())))
        write_json(manifest_path, doc)

    bar = tqdm(total=limit, desc=f"{demo_set} songs", unit="song", disable=not progress)
    bar.update(min(limit, len(records)))
    cursor, taken = 0, 0
    try:
        while cursor < len(plan) and taken < limit:
            batch = []
            while cursor < len(plan) and taken + len(batch) < limit:
                e = plan[cursor]
                if e["song_id"] in records:
                    taken += 1
                else:
                    batch.append((e, str(out), demo_set, seed, parts))
                cursor += 1
            for sid, rec, reason in parallel_map(_render_task, batch, workers or default_workers()):
                if rec is None:
                    skipped[sid] = reason
                    log.info("%s: skipped %s: %s", demo_set, sid, reason)
                else:
                    records[sid] = rec
                    taken += 1
                    bar.update(1)
                    write_manifest()
    finally:
        bar.close()
    write_manifest()
    return json.loads(manifest_path.read_text())


def ensure_varied(root: str | Path, demo_set: str, songs: int, seed: int, **kwargs: Any) -> Path:
    """Render the set into ``root`` when missing or smaller than ``songs`` (cheap when there:
    reads the manifest only); ``kwargs`` go to :func:`render_varied`. Returns root."""
    root = Path(root)
    try:
        doc = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        doc = {}
    have = [s for s in doc.get("songs", []) if _done(root / s["song_id"]) is not None]
    if len(have) >= songs and doc.get("settings") == settings_of(demo_set, seed):
        return root
    render_varied(root, demo_set, limit=songs, seed=seed, **kwargs)
    return root
