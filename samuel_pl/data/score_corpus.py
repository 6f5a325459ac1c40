"""Multi-part scores of the music21 corpus beyond the Bach chorales, grouped by style, as notes.

The melody ("vocal") part is chosen by role, not position: a part named as a singing voice
(Voice, Soprano, Cantus, Singstimme ...) wins; otherwise the part with the highest median pitch
among those that sound through most of the excerpt (the first violin of a quartet, the triplum of
a motet). Long movements give several excerpts (``EXCERPT_Q`` quarters each).

**Reserved**: the corpus's Palestrina and Monteverdi pieces are kept for an independent
evaluation; :func:`group_paths` never returns them and :data:`GROUPS` does not name them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from samuel_pl.data.chorales import (
    Note,
    PartNotes,
    Piece,
    corpus_paths,
    part_label,
    part_notes,
    piece_id,
    stem_name,
    unique_pieces,
)
from samuel_pl.errors import DataError

RESERVED = ("palestrina", "monteverdi")  # never trained, validated or tuned on
GROUPS: dict[str, tuple[str, ...]] = {  # style group -> music21 corpus composer folders
    "chorales": ("bach",),
    "polyphony": ("trecento", "luca", "ciconia", "lusitano"),
    "quartets": ("beethoven", "mozart", "haydn"),
    "chamber": ("schumann_robert", "schumann_clara", "schubert", "handel", "corelli", "cpebach"),
}
FORMATS = (".mxl", ".xml", ".musicxml", ".krn")
EXCERPT_Q = 96.0  # quarters per excerpt (about 40-90 s at the drawn tempi)
MIN_EXCERPT_Q = 24.0  # a shorter tail is no excerpt
_VOICE = re.compile(
    r"^(voice|vocal|voce|singstimme|gesang|soprano|sopran|cantus|canto|superius|discantus|"
    r"treble|s\.?)\b"
)


def group_paths(group: str) -> list[Path]:
    """Score files of a style group, sorted, one per piece id; never a reserved composer's."""
    from music21 import corpus

    if group not in GROUPS:
        raise DataError(f"unknown score group {group!r} (use one of {', '.join(GROUPS)})")
    if group == "chorales":
        paths = corpus_paths()
    else:
        paths = [Path(p) for c in GROUPS[group] for p in corpus.getComposer(c)]
    paths = sorted(
        p
        for p in paths
        if p.suffix.lower() in FORMATS and not is_reserved(p) and not p.stem.endswith("_bak")
    )
    if group == "chorales":
        return unique_pieces(paths)
    seen: dict[str, Path] = {}  # one file per score id (a .krn copy beside an .mxl dropped)
    for p in sorted(paths, key=lambda p: (FORMATS.index(p.suffix.lower()), str(p))):
        seen.setdefault(score_id(p), p)
    return sorted(seen.values())


def is_reserved(path: str | Path) -> bool:
    """Whether a corpus file belongs to a reserved composer (by any folder or name part)."""
    low = str(path).lower()
    return any(name in low for name in RESERVED)


def score_id(path: Path) -> str:
    """File-safe id of a corpus file from its path below the corpus folder, e.g.
    'beethoven-opus18no1-movement1'; a Bach chorale keeps its piece id ('bwv10.7')."""
    parts = list(Path(path).parts)
    below = parts[parts.index("corpus") + 1 :] if "corpus" in parts else parts[-2:]
    if below and below[0] == "bach":
        return piece_id(Path(path))
    below[-1] = piece_id(Path(below[-1]))
    return "-".join(re.sub(r"[^A-Za-z0-9.]+", "_", b).strip("_") for b in below)


def melody_index(parts: list[tuple[str, list[Note]]], quarters: float) -> int | None:
    """Index of the melody part: a part named as a singing voice (first such), else the highest
    median pitch among parts sounding >= 40% of ``quarters``; None when no part has notes."""
    for i, (label, notes) in enumerate(parts):
        if notes and _VOICE.match(" ".join(label.lower().split())):
            return i
    best: tuple[float, int] | None = None
    for i, (_, notes) in enumerate(parts):
        if not notes or sum(n.length for n in notes) < 0.4 * quarters:
            continue
        pitches = sorted(n.pitch for n in notes)
        cand = (float(pitches[len(pitches) // 2]), -i)
        best = max(best, cand) if best else cand
    return -best[1] if best else None


def _window(notes: list[Note], start: float, end: float) -> list[Note]:
    out = []
    for n in notes:
        if n.start >= start and n.start < end:
            out.append(Note(n.start - start, min(n.length, end - n.start), n.pitch))
    return out


@functools.lru_cache(maxsize=4)  # excerpts of one movement parse it once per process
def _score_parts(path: str) -> tuple[list[tuple[str, list[Note], list[float]]], str]:
    """(label, notes, fermata ends) of every part of a score, or ([], reason)."""
    from music21 import converter

    try:
        score: Any = converter.parse(path)
    except Exception as exc:  # music21 raises many kinds
        return [], f"music21 cannot parse it ({type(exc).__name__})"
    if hasattr(score, "scores"):  # an Opus: its first score
        score = score.scores[0] if len(score.scores) else None
    if score is None or not hasattr(score, "parts"):
        return [], "no parts"
    out = []
    for i, part in enumerate(score.parts):
        notes, ferm = part_notes(part)
        out.append((part_label(part) or f"part {i + 1}", notes, ferm))
    return out, ""


def load_excerpt(path: str | Path, excerpt: int, song_id: str) -> tuple[Piece | None, str]:
    """Excerpt ``excerpt`` (0-based, ``EXCERPT_Q`` quarters) of a score as a Piece whose
    ``soprano`` is the melody chosen by role; (None, reason) when it cannot be used."""
    parts, reason = _score_parts(str(path))
    if not parts:
        return None, reason or "no parts"
    start = excerpt * EXCERPT_Q
    labelled, fermatas = [], []
    for label, notes, ferm in parts:
        labelled.append((label, _window(notes, start, start + EXCERPT_Q)))
        fermatas += [f - start for f in ferm if start < f <= start + EXCERPT_Q]
    quarters = max((n.start + n.length for _, ns in labelled for n in ns), default=0.0)
    if quarters < MIN_EXCERPT_Q:
        return None, f"excerpt {excerpt} is shorter than {MIN_EXCERPT_Q:g} quarters"
    m = melody_index(labelled, quarters)
    if m is None:
        return None, "no melody part"
    taken: set[str] = {"vocals", "accompaniment"}
    others = [
        PartNotes(label, stem_name(label, taken), "other", notes)
        for i, (label, notes) in enumerate(labelled)
        if i != m and notes
    ]
    if not others:
        return None, "no accompanying part with notes"
    by_pitch = sorted(others, key=lambda p: sorted(n.pitch for n in p.notes)[len(p.notes) // 2])
    by_pitch[0].role = "bass"
    for p in by_pitch[1:]:
        p.role = "inner"
    melody = PartNotes(labelled[m][0], "soprano", "melody", labelled[m][1])
    return Piece(song_id, str(path), melody, others, sorted(set(fermatas)), quarters, ""), ""
