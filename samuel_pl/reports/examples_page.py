"""``examples.html`` of an evaluation: each example song's spectrogram picture and ``<audio>``
players linked relative to the evaluation folder (the clips of
:func:`samuel_pl.evaluation.example_clips.write_examples`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samuel_pl.files import write_text
from samuel_pl.reports.document import Audio, Block, Heading, Image, Para, to_html


def write_examples_page(out: Path, result: dict[str, Any]) -> Path | None:
    """``out/examples.html`` from ``result["examples"]``; None when the result has none."""
    examples = result.get("examples") or []
    if not examples:
        return None
    blocks: list[Block] = [
        Heading(f"Examples: {result['suite']} ({result['split']} split)", 1),
        Para(
            "Log-mel spectrograms (80 dB range, one colour scale for every panel of a song): the "
            "vocal, each generator's accompaniment (codec_round_trip: the real one through the "
            "model's codec and decoder), the real accompaniment. Below each, the clips."
        ),
    ]
    for ex in examples:
        blocks.append(Heading(ex["song"], 2))
        blocks.append(Image(out / ex["picture"], f"{ex['song']}: " + " / ".join(ex["clips"])))
        blocks += [Audio(out / path, label) for label, path in ex["clips"].items()]
    return write_text(out / "examples.html", to_html(blocks, "Examples", root=out))
