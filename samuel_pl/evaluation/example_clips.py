"""Listen and look: for the first songs of a suite, the vocal, each generator's accompaniment and
the real one as clips, and one spectrogram picture per song (one colour scale for every panel),
written to ``<out>/examples/``. ``table.md`` links them; the evaluate command renders them as
``examples.html`` with audio players (:mod:`samuel_pl.reports.examples_page`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.audio import write_audio
from samuel_pl.plots import mel_spectrograms, printable

EXAMPLE_SONGS = 2


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)


def write_examples(
    out: Path,
    vocals: dict[str, np.ndarray],
    references: dict[str, np.ndarray],
    rows: dict[str, dict[str, np.ndarray]],
    sample_rate: int,
    songs: int = EXAMPLE_SONGS,
) -> list[dict[str, Any]]:
    """Clips and pictures of the first ``songs`` songs.

    Args:
        out: the evaluation folder (``examples/`` is made inside it).
        vocals, references: song id -> (1, N) vocal / real accompaniment.
        rows: row name -> song id -> (1, N) accompaniment (generators, not control rows).
        sample_rate: rate of every clip.

    Returns:
        one ``{"song", "picture", "clips": {label: path}}`` per song, paths relative to ``out``;
        labels: ``vocal``, each row name, ``real``.
    """
    folder = out / "examples"
    made = []
    for song in list(vocals)[:songs]:
        signals = {"vocal": vocals[song]}
        signals |= {name: clips[song] for name, clips in rows.items() if song in clips}
        signals["real"] = references[song]
        png = mel_spectrograms(signals, sample_rate, folder / f"{_safe(song)}.png", song, dpi=72)
        clips = {}
        for name, clip in signals.items():
            peak = float(np.max(np.abs(clip))) if clip.size else 0.0
            wav = folder / f"{_safe(song)}_{_safe(name)}.wav"
            write_audio(wav, clip / peak if peak > 1.0 else clip, sample_rate)
            clips[name] = str(wav.relative_to(out))
        made.append({"song": printable(song), "picture": str(png.relative_to(out)), "clips": clips})
    return made


def examples_markdown(examples: list[dict[str, Any]]) -> list[str]:
    """The ``examples`` section of table.md: each song's picture and its clips (relative links)."""
    if not examples:
        return []
    lines = ["## examples: vocal / generated / real (log-mel, 80 dB, one scale per song)", ""]
    for ex in examples:
        lines += [f"![{ex['song']}]({ex['picture']})", ""]
        lines += [" · ".join(f"[{label}]({path})" for label, path in ex["clips"].items()), ""]
    return lines
