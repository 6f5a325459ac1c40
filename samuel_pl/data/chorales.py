"""Bach chorales from the music21 corpus as note lists: soprano by name, roles of the other parts.

music21 is imported lazily (it is slow to import and only the demo renderer needs it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SOPRANO = re.compile(r"^(soprano|sopran|soprani|cantus|discantus|discant|superius|treble|s\.?)\b")
_VOICE_ROLES = (
    ("alto", re.compile(r"^(alto|alt|altus|contralto|a\.?)\b")),
    ("tenor", re.compile(r"^(tenor|tenore|t\.?)\b")),
    ("bass", re.compile(r"^(bass|basso|bassus|b\.?|continuo|bc)\b")),
)


@dataclass(frozen=True)
class Note:
    """One note: start and length in quarter notes from the piece start, MIDI pitch."""

    start: float
    length: float
    pitch: int


@dataclass
class PartNotes:
    """A part's notes, display name, stem file name and role (soprano/alto/tenor/bass/other)."""

    name: str
    stem: str
    role: str
    notes: list[Note] = field(default_factory=list)


@dataclass
class Piece:
    """A parsed chorale: soprano, the other parts, fermata ends, length (quarters) and key."""

    piece_id: str
    path: str
    soprano: PartNotes
    others: list[PartNotes]
    fermatas: list[float]
    quarters: float
    key: str


def part_label(part: Any) -> str:
    """The most descriptive name music21 has for a part (name, id or instrument name)."""
    for cand in (getattr(part, "partName", None), getattr(part, "id", None)):
        if isinstance(cand, str) and cand.strip() and not cand.startswith("spine_"):
            return cand
    inst = part.getInstrument(returnDefault=False) if hasattr(part, "getInstrument") else None
    name = getattr(inst, "instrumentName", None) or getattr(inst, "partName", None)
    return str(name) if name else ""


def _norm(label: str) -> str:
    return " ".join(label.replace("\r", " ").replace("\n", " ").lower().split())


def find_soprano(parts: list[Any]) -> int | None:
    """Index of the soprano part chosen by name/id ('Soprano', 'S.', 'Sopran', 'Cantus', ...).

    Never by position: a part is a candidate only when its label names the soprano. Among
    several candidates ('Soprano 1', 'Soprano 2') an unnumbered or first-numbered one wins.
    """
    candidates: list[tuple[int, int]] = []
    for i, part in enumerate(parts):
        label = _norm(part_label(part))
        labels = [label] + [_norm(str(getattr(part, "partAbbreviation", "") or ""))]
        if any(_SOPRANO.match(x) for x in labels if x):
            digits = re.findall(r"\d+", label)
            rank = 0 if not digits or digits[0] == "1" else int(digits[0])
            candidates.append((rank, i))
    return min(candidates)[1] if candidates else None


def part_role(label: str) -> str:
    """alto/tenor/bass for voice (and continuo) parts, else 'other' (an instrumental part)."""
    norm = _norm(label)
    for role, pattern in _VOICE_ROLES:
        if pattern.match(norm):
            return role
    return "other"


def stem_name(label: str, taken: set[str]) -> str:
    """A file-safe unique stem name from a part label ('Horn 1' -> 'horn_1')."""
    first = label.replace("\r", "\n").split("\n")[0]
    base = re.sub(r"[^a-z0-9]+", "_", first.lower()).strip("_") or "part"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def part_notes(part: Any) -> tuple[list[Note], list[float]]:
    """Notes of a music21 part with ties merged, plus the end offsets of notes under fermatas."""
    out: list[Note] = []
    fermatas: list[float] = []
    open_notes: dict[int, int] = {}  # pitch -> index in out of a note whose tie continues
    flat = part.flatten()
    for n in flat.notes:
        ql = float(n.quarterLength)
        if ql <= 0:  # grace notes
            continue
        start = float(flat.elementOffset(n))
        if any(type(e).__name__ == "Fermata" for e in getattr(n, "expressions", [])):
            fermatas.append(start + ql)
        members = list(n.notes) if n.isChord else [n]
        for m in members:
            pitch = int(m.pitch.midi)
            tie = getattr(m, "tie", None) or getattr(n, "tie", None)
            kind = tie.type if tie is not None else None
            j = open_notes.get(pitch)
            if kind in ("stop", "continue") and j is not None:
                prev = out[j]
                out[j] = Note(prev.start, start + ql - prev.start, pitch)
            else:
                out.append(Note(start, ql, pitch))
                j = len(out) - 1
            if kind in ("start", "continue"):
                open_notes[pitch] = j
            else:
                open_notes.pop(pitch, None)
    out.sort(key=lambda x: (x.start, x.pitch))
    return out, fermatas


def corpus_paths() -> list[Path]:
    """All Bach pieces of the music21 corpus that carry parts (Roman-numeral files excluded)."""
    from music21 import corpus

    paths = [Path(p) for p in corpus.getComposer("bach")]
    return sorted(p for p in paths if p.suffix.lower() in (".mxl", ".xml", ".musicxml", ".krn"))


def piece_id(path: Path) -> str:
    """Stable id of a corpus piece, e.g. 'bwv10.7'."""
    return path.name.removesuffix(path.suffix)


_FORMAT_RANK = {".mxl": 0, ".xml": 1, ".musicxml": 1, ".krn": 2}


def unique_pieces(paths: list[Path]) -> list[Path]:
    """One file per piece id, in the order of ``paths``: of copies in several formats (bwv277
    is in .krn and .mxl) the MusicXML one, which names its parts; each kept at its own position."""
    best: dict[str, Path] = {}
    for p in paths:
        old = best.get(piece_id(p))
        if old is None or _FORMAT_RANK.get(p.suffix.lower(), 3) < _FORMAT_RANK.get(
            old.suffix.lower(), 3
        ):
            best[piece_id(p)] = p
    return [p for p in paths if best[piece_id(p)] == p]


def load_piece(path: str | Path) -> tuple[Piece | None, str]:
    """Parse a chorale; returns (piece, '') or (None, reason) when it cannot be used."""
    from music21 import converter

    path = Path(path)
    try:
        score = converter.parse(str(path))
    except Exception as exc:  # music21 raises many kinds
        return None, f"music21 cannot parse it ({type(exc).__name__})"
    return piece_from_score(score, piece_id(path), str(path))


def piece_from_score(score: Any, pid: str, path: str = "") -> tuple[Piece | None, str]:
    """Turn a music21 Score into a Piece; (None, reason) without a soprano or 2 other parts."""
    parts = list(score.parts)
    s_idx = find_soprano(parts)
    if s_idx is None:
        return None, "no part named as the soprano"
    taken: set[str] = {"vocals", "accompaniment"}
    sop_notes, fermatas = part_notes(parts[s_idx])
    if not sop_notes:
        return None, "the soprano part has no notes"
    soprano = PartNotes(part_label(parts[s_idx]), "soprano", "soprano", sop_notes)
    others = []
    for i, part in enumerate(parts):
        if i == s_idx:
            continue
        notes, _ = part_notes(part)
        if not notes:
            continue
        label = part_label(part) or f"part {i + 1}"
        others.append(PartNotes(label, stem_name(label, taken), part_role(label), notes))
    if len(others) < 2:
        return None, f"only {len(others)} accompanying part(s) with notes"
    quarters = max(n.start + n.length for p in [soprano, *others] for n in p.notes)
    try:
        key = score.analyze("key")
        key_name = f"{key.tonic.name} {key.mode}"
    except Exception:  # key analysis is informative only
        key_name = ""
    return Piece(pid, path, soprano, others, sorted(set(fermatas)), quarters, key_name), ""
