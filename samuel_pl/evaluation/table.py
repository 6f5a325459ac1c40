"""table.md of an evaluation result: the headline table (generators, then control rows), the
further metrics, the validate section; and the atomic write of metrics.json + table.md."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from samuel_pl.evaluation.example_clips import examples_markdown
from samuel_pl.evaluation.metric_validity import validate_markdown
from samuel_pl.files import write_json, write_text

# Headline columns, in this order after params/rtf and the Frechet distances; every other
# metric goes to the "further metrics" table. Measured on 33 demo test songs (README): the
# CQT chroma cosine, key agreement and mixture key clarity separate the ground truth from fewer
# controls than the consonance metrics and are fooled by a copy of the vocal and a static triad;
# tempo agreement does not separate the ground truth from shuffled pairs (d 0.5).
HARMONIC_HEADLINE = (
    "consonance_share",
    "consonance_gain",
    "consonance_share_no_unison",
    "consonance_gain_no_unison",
    "key_fit",
    "silent_outputs",  # count of silent accompaniments (scored as failures in the means above)
)
# Realism beside FD-mel, in units a reader can interpret (samuel_pl.metrics.realism).
REALISM_HEADLINE = ("band_error_db", "hf_level_db", "onset_sharpness", "harmonic_share")
RHYTHM_HEADLINE = (
    "align_beat_f_measure",
    "align_onset_f_measure",
    "align_mix_beat_f_measure",
)


def _columns(found: set[str]) -> tuple[list[str], list[str]]:
    """(headline columns, further columns) of the metric names ``found``."""
    head = [c for c in ("params", "rtf") if c in found]
    head += sorted(c for c in found if c.startswith(("fd_", "fad_")))
    head += [c for c in REALISM_HEADLINE if c in found]
    head += [c for c in (*HARMONIC_HEADLINE, *RHYTHM_HEADLINE) if c in found]
    head += sorted(c for c in found if c.startswith("aes_"))
    return head, sorted(found - set(head))


def _cell(result: dict[str, Any], key: str) -> str:
    if key not in result["metrics"]:
        return ""
    v, (lo, hi) = result["metrics"][key], result["ci95"][key]
    if not math.isfinite(v):
        return "n/a"  # the reason is in the notes
    return f"{v:.4g}" if lo == hi else f"{v:.4g} [{lo:.3g}, {hi:.3g}]"


def _rows_table(result: dict[str, Any], rows: list[str], cols: list[str]) -> list[str]:
    unavailable = result["unavailable"]
    lines = [
        "| generator | availability | " + " | ".join(cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for g in rows:
        reason = str(unavailable.get(g, "")).replace("|", "/").replace("\n", " ")
        cells = [f"unavailable: {reason}" if g in unavailable else "available"]
        cells += [_cell(result, f"{g}/{c}") for c in cols]
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    return lines


def table_markdown(result: dict[str, Any]) -> str:
    """One row per generator (unavailable ones too, with the reason), then the control rows;
    one column per headline metric: ``value [low, high]``; then the further metrics and the
    validate section (when the result has controls)."""
    metric_gens = sorted({k.split("/", 1)[0] for k in result["metrics"]})
    controls = list(result.get("controls") or [])
    gens = result.get("generators") or [g for g in metric_gens if g not in controls]
    rows = list(dict.fromkeys([*gens, *controls, *metric_gens]))
    found = {k.split("/", 1)[1] for k in result["metrics"]}
    head, further = _columns(found)
    unavailable = result["unavailable"]
    lines = [
        f"# Evaluation: {result['suite']} ({result['songs']} songs of the {result['split']} "
        f"split, {result['clip_seconds']} s clips)",
        "",
        *_rows_table(result, rows, head),
    ]
    if further:
        lines += ["", "## further metrics (not headline: see validate)", ""]
        lines += _rows_table(result, rows, further)
    lines += ["", f"- reference set: {result['reference_set']}"]
    lines += ["- FD on the mel embedder is FD-mel (weight-free), not FAD-VGGish"]
    lines += ["- [low, high]: 95% bootstrap interval over songs"]
    lines += ["- params: parameter count; rtf: generation seconds per second of audio"]
    if any(r.startswith("codec_round_trip") for r in rows):
        lines += [
            "- codec_round_trip: the real accompaniment encoded and decoded by the model's codec"
            " and decoder: the ceiling of any model in that latent space"
        ]
    if any(c in found for c in REALISM_HEADLINE):
        lines += [
            "- band_error_db: octave-band balance vs the real accompaniment (dB, each normalised"
            " to its own level); hf_level_db: level above 4 kHz vs real (dB); onset_sharpness:"
            " flux of the 10% strongest onsets (dB); harmonic_share: HPSS sustained share"
        ]
    if controls:
        lines += ["- control_*: real accompaniments altered in one known way (see validate)"]
    lines += [f"- unavailable: {k}: {v}" for k, v in unavailable.items() if k not in rows]
    lines += [f"- note: {g}: {n}" for g, ns in result["notes"].items() for n in ns]
    checks = result.get("validation") or {}
    if checks:
        lines += ["", *validate_markdown(checks, result["songs"])]
    if result.get("examples"):
        lines += ["", *examples_markdown(result["examples"])]
    return "\n".join(lines) + "\n"


def write_result(out: Path, result: dict[str, Any]) -> None:
    """``out/metrics.json`` and ``out/table.md``, each written atomically."""
    write_json(out / "metrics.json", result, indent=2, default=str, newline=True)
    write_text(out / "table.md", table_markdown(result))
