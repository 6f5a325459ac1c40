"""Validity of every per-song metric: Cohen's d of the ground truth against each control row.

d is oriented so that a positive value means the ground truth scores better (lower-is-better
metrics are negated). What a metric must do depends on what it measures:

- harmonic metrics must separate the ground truth from every control (d >= 1);
- rhythm metrics of the accompaniment must separate it from the shuffled pairing and the static
  triad (no beats) (d >= 1) and must ignore the pitch shifts (|d| < 0.3): a transposed
  accompaniment has the same rhythm. A copy of the vocal has the vocal's own rhythm: no
  expectation. The mixture's beats (``align_mix_beat_f_measure``) are the vocal's own beats
  when the accompaniment has none: no expectation against the static triad either.
- realism metrics (``samuel_pl.metrics.realism``) must see the control made to lack what they
  measure: the band balance and the level above 4 kHz must separate the ground truth from the
  4 kHz low-pass (the band balance from the Griffin-Lim round trip too); the onset sharpness and
  the sustained share from the Griffin-Lim round trip (smeared attacks, lost phase coherence).
  The harmonic controls change no band level: no expectation. ``hf_share`` is descriptive (it
  varies more between songs than a low-pass moves it; ``hf_level_db`` is its validated form).

A metric that fails its expectation is flagged; it must not headline a table.

A d that is not a finite number is reported as null with its reason in ``d_notes`` (too few
defined scores; or both rows without variance and different means, where d is +-infinite: the
verdict then follows its sign, a perfect separation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from samuel_pl.evaluation.controls import ROLES
from samuel_pl.evaluation.scores import LOWER
from samuel_pl.metrics import HARMONY_KEYS, effect_size

CONTROLS = ROLES[1:]
SEPARATES, IGNORES = 1.0, 0.3
HARMONIC = frozenset(
    {*HARMONY_KEYS, "align_chroma_cosine", "align_key_agreement", "align_mix_key_clarity"}
)
MIXTURE_RHYTHM = frozenset({"align_mix_beat_f_measure"})
HARMONIC_CONTROLS = ("shuffled", "pitch+1", "pitch+6", "vocal_copy", "tonic_triad")
REALISM_FAMILY = {
    "band_error_db": "realism: band balance",
    "hf_share": "realism: descriptive",
    "hf_level_db": "realism: high band",
    "hf_level_error_db": "realism: high band",
    "onset_sharpness": "realism: texture",
    "harmonic_share": "realism: texture",
}
EXPECT = {
    "harmonic": dict.fromkeys(HARMONIC_CONTROLS, "separate"),
    "realism: band balance": {"lowpass": "separate", "griffin_lim": "separate"},
    "realism: high band": {"lowpass": "separate"},
    "realism: descriptive": {},
    "realism: texture": {"griffin_lim": "separate"},
    "rhythm": {
        "shuffled": "separate",
        "pitch+1": "ignore",
        "pitch+6": "ignore",
        "tonic_triad": "separate",
    },
    "mixture rhythm": {"shuffled": "separate", "pitch+1": "ignore", "pitch+6": "ignore"},
}


def family(metric: str) -> str:
    """harmonic | rhythm | mixture rhythm | realism: ... (the keys of ``EXPECT``)."""
    if metric in REALISM_FAMILY:
        return REALISM_FAMILY[metric]
    if metric in HARMONIC:
        return "harmonic"
    return "mixture rhythm" if metric in MIXTURE_RHYTHM else "rhythm"


def cohen_d(truth: list[float], control: list[float]) -> float:
    """Cohen's d (pooled SD) of ground-truth over control scores, NaN scores left out."""
    t, c = (np.asarray(x, float) for x in (truth, control))
    t, c = t[np.isfinite(t)], c[np.isfinite(c)]
    return effect_size(t, c) if len(t) >= 2 and len(c) >= 2 else float("nan")


def _why_undefined(truth: list[float], control: list[float] | None, d: float) -> str:
    """Why the d of these scores is not a finite number."""
    if control is None:
        return "no such control row"
    n_t, n_c = (int(np.isfinite(np.asarray(x, float)).sum()) for x in (truth, control))
    if n_t < 2 or n_c < 2:
        return f"fewer than 2 defined scores (ground truth {n_t}, control {n_c})"
    better = "ground truth" if d > 0 else "control"
    return (
        f"both rows have zero variance and different means: d is {'+' if d > 0 else '-'}"
        f"infinite ({better} better)"
    )


def meets(want: str, d: float | None) -> bool:
    if d is None or np.isnan(d):
        return False
    return bool(d >= SEPARATES) if want == "separate" else bool(abs(d) < IGNORES)


def validation(per_song: dict[str, dict[str, list[float]]], roles: dict[str, str]) -> dict:
    """``{metric: {"family", "d": {control: d or None}, "fails": [control, ...]}}`` plus
    ``"d_notes": {control: reason}`` for every d that is None (not a finite number).

    ``per_song``: row name -> metric -> per-song scores (songs in the same order in every row);
    ``roles``: role of ``ROLES`` -> row name.
    """
    truth = per_song.get(roles.get("ground_truth", ""), {})
    out: dict[str, dict[str, Any]] = {}
    for metric, scores in truth.items():
        sign = -1.0 if metric in LOWER else 1.0
        ds: dict[str, float] = {}
        notes: dict[str, str] = {}
        for role in CONTROLS:
            other = per_song.get(roles.get(role, ""), {}).get(metric)
            ds[role] = sign * cohen_d(scores, other) if other is not None else float("nan")
            if not np.isfinite(ds[role]):
                notes[role] = _why_undefined(scores, other, ds[role])
        fam = family(metric)
        fails = [r for r, want in EXPECT[fam].items() if not meets(want, ds[r])]
        finite = {r: (d if np.isfinite(d) else None) for r, d in ds.items()}
        out[metric] = {"family": fam, "d": finite, "fails": fails}
        if notes:
            out[metric]["d_notes"] = notes
    return out


def validate_markdown(checks: dict[str, dict[str, Any]], n_songs: int) -> list[str]:
    """The ``validate`` section of table.md: one row per metric, one column per control."""
    if not checks:
        return []
    lines = [
        f"## validate: Cohen's d of ground truth against each control ({n_songs} songs)",
        "",
        "| metric | family | " + " | ".join(CONTROLS) + " | verdict |",
        "|---|---|" + "---|" * (len(CONTROLS) + 1),
    ]
    for metric, c in checks.items():
        cells = []
        for role in CONTROLS:
            d, want = c["d"][role], EXPECT[c["family"]].get(role)
            flag = "" if want is None or role not in c["fails"] else " !"
            cells.append(f"{'n/a' if d is None else format(d, '.2f')}{flag}")
        verdict = "ok" if not c["fails"] else "fails: " + ", ".join(c["fails"])
        lines.append(f"| {metric} | {c['family']} | " + " | ".join(cells) + f" | {verdict} |")
    undefined = [(m, r, why) for m, c in checks.items() for r, why in c.get("d_notes", {}).items()]
    lines += [""] + [f"- n/a: {m} against {r}: {why}" for m, r, why in undefined]
    lines += [
        f"- d > 0: the ground truth scores better; `!`: d < {SEPARATES:g} where the metric must"
        f" separate (harmonic: every control; rhythm: shuffled and tonic_triad; mixture rhythm:"
        f" shuffled; realism: the control that lacks what it measures), or |d| >= {IGNORES:g}"
        " where it must not see the difference (rhythm against a pitch shift); cells without an"
        " expectation are not flagged",
        "- pitch+1 / pitch+6: the true accompaniment transposed by librosa.effects.pitch_shift;"
        " vocal_copy: the vocal as accompaniment; tonic_triad: a held tonic triad of the "
        "vocal's key; lowpass: the true accompaniment low-passed at 4 kHz; griffin_lim: its "
        "STFT magnitude inverted by 32 Griffin-Lim iterations",
    ]
    return lines
