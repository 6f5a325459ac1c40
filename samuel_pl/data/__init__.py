"""Data: stem sources (demo, MUSDB18-HQ, folder, CSV manifest), the demo renderer, validation.

``samuel_pl.data.datamodule`` and ``samuel_pl.data.cache`` (latent cache) are imported on their
own, so that importing this package stays light (no Lightning, no music21).
"""

from samuel_pl.data.demo import ensure_demo, render_demo
from samuel_pl.data.sources import (
    SOURCES,
    Song,
    StemSource,
    build_source,
    load_pair,
    prepare_source,
    scan_songs,
)
from samuel_pl.data.splits import SPLITS, assign_splits, split_songs

__all__ = [
    "SOURCES",
    "SPLITS",
    "Song",
    "StemSource",
    "assign_splits",
    "build_source",
    "ensure_demo",
    "load_pair",
    "prepare_source",
    "render_demo",
    "scan_songs",
    "split_songs",
]
