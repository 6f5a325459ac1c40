"""Evaluation clips: one clip of each song of a split, the same for every generator and metric."""

from __future__ import annotations

import numpy as np

from samuel_pl.config.suite import SuiteConfig
from samuel_pl.data.sources import data_limits, load_pair, prepare_source
from samuel_pl.errors import DataError


def load_clips(suite: SuiteConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(vocals, accompaniments): song id -> mono clip (1, N) at ``suite.sample_rate``, the
    ``suite.clip_seconds`` from the middle of each song of ``suite.split`` (the first
    ``suite.max_songs`` when > 0); the demo set is rendered first when needed."""
    songs = prepare_source(suite.data, progress=False).songs(suite.split)
    if suite.max_songs > 0:
        songs = songs[: suite.max_songs]
    if not songs:
        raise DataError(f"{suite.data.root}: no songs in split '{suite.split}'")
    n = int(round(suite.clip_seconds * suite.sample_rate))
    vocals, accs = {}, {}
    for song in songs:
        d = suite.data
        v, a = load_pair(song, suite.sample_rate, 1, d.max_length_mismatch_s, data_limits(d))
        start = max(0, (v.shape[1] - n) // 2)
        vocals[song.song_id] = v[:, start : start + n]
        accs[song.song_id] = a[:, start : start + n]
    return vocals, accs
