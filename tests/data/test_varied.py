"""The varied demo set: reserved composers excluded, groups and SoundFonts, clean splits, draws."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samuel_pl.data import score_corpus as scores
from samuel_pl.data import varied
from samuel_pl.data.chorales import Note, PartNotes, Piece
from samuel_pl.errors import DataError

pytest.importorskip("music21")


@pytest.fixture(scope="module")
def plans() -> dict[str, list[dict]]:
    return {s: varied.varied_plan(s, 0) for s in varied.SETS}


def test_plans_exclude_the_reserved_composers(plans, monkeypatch):
    for plan in plans.values():
        assert not [e for e in plan if "palestrina" in e["path"].lower()]
        assert not [e for e in plan if "monteverdi" in e["path"].lower()]
    from music21 import corpus

    reserved = [Path(p) for c in ("palestrina", "monteverdi") for p in corpus.getComposer(c)]
    assert len(reserved) > 100  # the corpus holds them: the exclusion is doing something
    monkeypatch.setitem(scores.GROUPS, "polyphony", ("trecento", "palestrina", "monteverdi"))
    assert not [p for p in scores.group_paths("polyphony") if scores.is_reserved(p)]
    assert all(scores.is_reserved(p) for p in reserved)


def test_groups_soundfonts_and_held_out_style(plans):
    train, held = plans["varied"], plans["varied_heldout"]
    assert len({e["group"] for e in train[:60]}) >= 3  # any prefix mixes the groups
    assert {e["group"] for e in held} == {varied.HELD_OUT_GROUP}
    assert varied.HELD_OUT_GROUP not in {e["group"] for e in train}
    fonts = varied.settings_of("varied", 0)["soundfonts"]
    assert len(set(fonts)) >= 3 and varied.HELD_OUT_SOUNDFONT not in fonts
    assert {e["split"] for e in held} == {"test"}
    assert not {e["path"] for e in train} & {e["path"] for e in held}


@pytest.mark.parametrize("songs", [100, 400])
def test_no_tune_or_movement_in_two_splits(plans, songs):
    plan = plans["varied"][:songs]
    by_tune: dict[str, set[str]] = {}
    for e in plan:
        by_tune.setdefault(e["tune"], set()).add(e["split"])
        by_tune.setdefault(e["path"], set()).add(e["split"])  # excerpts of one movement
    assert all(len(v) == 1 for v in by_tune.values())
    counts = Counter(e["split"] for e in plan)
    assert counts["val"] >= 0.05 * songs and counts["test"] >= 0.05 * songs


def _piece(melody_pitch: int = 79) -> Piece:
    line = [Note(float(i), 1.0, melody_pitch + (i % 3)) for i in range(16)]
    bass = [Note(float(i), 2.0, 40) for i in range(0, 16, 2)]
    return Piece(
        "x", "", PartNotes("Violin 1", "soprano", "melody", line),
        [PartNotes("Cello", "cello", "bass", bass)], [8.0], 16.0, "",
    )  # fmt: skip


def test_plan_song_draws_key_tempo_font_and_programs():
    plans = [varied.plan_song(_piece(), f"s{i}", 0, varied.TRAIN_SOUNDFONTS) for i in range(40)]
    assert len({p["transpose"] % 12 for p in plans}) >= 8  # keys vary
    tempi = [p["tempo_bpm"] for p in plans]
    assert max(tempi) - min(tempi) > 40
    assert {p["soundfont"] for p in plans} == set(varied.TRAIN_SOUNDFONTS)
    assert {p["stems"]["vocals"][0] for p in plans} <= set(varied.VOCAL_PROGRAMS)
    assert len({p["stems"]["vocals"][0] for p in plans}) >= 3
    assert len({p["stems"]["cello"][0] for p in plans}) >= 4
    for p in plans:  # the melody lands in a singing range whatever the key
        median = np.median([n.pitch for n in p["stems"]["vocals"][1]])
        assert 54 <= median <= 78
    again = varied.plan_song(_piece(), "s3", 0, varied.TRAIN_SOUNDFONTS)
    assert again["stems"]["vocals"][1] == plans[3]["stems"]["vocals"][1]  # seeded by song id


def test_melody_chosen_by_role_not_position():
    high = [Note(float(i), 1.0, 84) for i in range(20)]
    mid = [Note(float(i), 1.0, 67) for i in range(20)]
    sparse = [Note(0.0, 1.0, 96)]
    assert scores.melody_index([("Piano RH", high), ("Voice", mid)], 20.0) == 1
    assert scores.melody_index([("Viola", mid), ("Violin I", high)], 20.0) == 1
    assert scores.melody_index([("Flute", sparse), ("Violin I", mid)], 20.0) == 1
    assert scores.melody_index([("a", []), ("b", [])], 20.0) is None


def test_room_and_eq_keep_stems_summing_to_the_mix():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 20000)).astype(np.float32), rng.normal(size=(2, 20000))
    plan = {"room": {"rt60_s": 0.5, "wet": 0.2}, "eq_db": {"low": 3, "high": -4}, "room_seed": 1}
    out = varied.room_and_eq({"a": a, "b": b.astype(np.float32), "ab": a + b}, plan, 22050)
    np.testing.assert_allclose(out["a"] + out["b"], out["ab"], atol=1e-4)
    assert np.abs(out["a"] - a).mean() > 0.05  # it changes the sound


def test_missing_soundfont_names_the_install_line(monkeypatch, tmp_path):
    monkeypatch.setattr(varied, "SF2_DIR", tmp_path)
    with pytest.raises(DataError, match="apt-get install"):
        varied.soundfont_path("FluidR3_GM.sf2")
    with pytest.raises(DataError, match="unknown demo set"):
        varied.settings_of("folk", 0)


def test_render_one_song(monkeypatch, tmp_path):
    monkeypatch.setattr(varied, "TRAIN_SOUNDFONTS", ("TimGM6mb.sf2",))  # pip-only font
    manifest = varied.render_varied(tmp_path, "varied", limit=1, workers=1, progress=False)
    (song,) = manifest["songs"]
    assert song["soundfont"] == "TimGM6mb.sf2" and song["group"] == "chorales"
    assert (tmp_path / song["song_id"] / "vocals.wav").is_file()
    assert json.loads((tmp_path / song["song_id"] / "song.json").read_text())["room"]
    again = varied.render_varied(tmp_path, "varied", limit=1, workers=1, progress=False)
    assert again["songs"] == manifest["songs"]  # resumable: nothing re-rendered
