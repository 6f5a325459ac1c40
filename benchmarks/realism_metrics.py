"""Do the realism metrics separate real accompaniments from degraded ones? Real accompaniments of
the demo render against a real recording of another piece (the reference), the 4 kHz low-pass
and the Griffin-Lim-only round trip (the control rows of the evaluation suite), and the demo
codec's own round trip (log, 64 semitone bins from 110 Hz, Griffin-Lim 32: the ceiling of the
demo models); Cohen's d of the real accompaniment against each (positive: real scores better).

Writes ``results/realism_metrics.{json,md}``.

    python benchmarks/realism_metrics.py                        # 40 songs, 20 s clips
    python benchmarks/realism_metrics.py --songs 160 --split all
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402

DEMO_CODEC = {"n_mels": 64, "scale": "log", "f_min": 110.0}
ROWS = {
    "real accompaniment": "ground_truth",
    "real accompaniment of another piece": "shuffled",
    "real, low-passed at 4 kHz": "lowpass",
    "real, Griffin-Lim only (32 it.)": "griffin_lim",
    "demo codec round trip (log 110 Hz-4.2 kHz, GL 32)": "codec",
}


def clips(root: str, demo_songs: int, split: str, songs: int, seconds: float) -> dict:
    """song id -> real accompaniment (1, N) at 22.05 kHz, the middle ``seconds`` of each."""
    from samuel_pl.config.schema import DataConfig
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips

    data = DataConfig(source="demo", root=root, demo_songs=demo_songs)
    refs: dict[str, np.ndarray] = {}
    for part in ("train", "val", "test") if split == "all" else (split,):
        suite = SuiteConfig(data=data, split=part, clip_seconds=seconds, max_songs=songs)
        refs.update(load_clips(suite)[1])
    return dict(list(refs.items())[:songs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default="data/demo")
    ap.add_argument("--demo-songs", type=int, default=160)
    ap.add_argument("--split", default="train", help="train | val | test | all")
    ap.add_argument("--songs", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()

    from samuel_pl.baselines import GroundTruth, RandomPairing
    from samuel_pl.baselines.codec import CodecRoundTrip
    from samuel_pl.codecs.mel import MelCodec
    from samuel_pl.evaluation.controls import GriffinLimOnly, LowPassed
    from samuel_pl.evaluation.metric_validity import EXPECT, cohen_d, family, meets
    from samuel_pl.metrics.realism import LOWER_IS_BETTER, REALISM_KEYS, realism_scores

    sr = 22050
    refs = clips(args.root, args.demo_songs, args.split, args.songs, args.seconds)
    gens = {
        "ground_truth": GroundTruth(refs),
        "shuffled": RandomPairing(refs, seed=0),
        "lowpass": LowPassed(refs),
        "griffin_lim": GriffinLimOnly(refs, seed=0),
        "codec": CodecRoundTrip(refs, MelCodec(**DEMO_CODEC).eval()),
    }
    scores: dict[str, dict[str, list[float]]] = {
        role: {k: [] for k in REALISM_KEYS} for role in gens
    }
    for i, (song, ref) in enumerate(refs.items()):
        for role, gen in gens.items():
            s = realism_scores(gen.generate(ref, sr, song)[0], ref[0], sr)
            for k in REALISM_KEYS:
                scores[role][k].append(s[k])
        print(f"{i + 1}/{len(refs)} {song}", file=sys.stderr, flush=True)

    rows: list[dict[str, Any]] = []
    for label, role in ROWS.items():
        row: dict[str, Any] = {"audio": label}
        for k in REALISM_KEYS:
            row[k] = f"{np.nanmean(scores[role][k]):.4g} +- {np.nanstd(scores[role][k]):.2g}"
        rows.append(row)
    for label, role in list(ROWS.items())[1:]:
        row = {"audio": f"Cohen's d: real vs {label}"}
        for k in REALISM_KEYS:
            sign = -1.0 if k in LOWER_IS_BETTER else 1.0
            d = sign * cohen_d(scores["ground_truth"][k], scores[role][k])
            expected = EXPECT[family(k)].get(role)
            flag = "" if expected is None else (" ok" if meets(expected, d) else " FAILS")
            row[k] = f"{d:.2f}{flag}"
        rows.append(row)
    write_results(
        "realism_metrics",
        rows,
        {
            "songs": f"{len(refs)} ({args.split} split of the {args.demo_songs}-song demo render)",
            "clip": f"{args.seconds:g} s from the middle of each song, 22.05 kHz mono",
            "d": "Cohen's d (pooled SD) of the real accompaniment over each row, oriented so "
            "that > 0 means the real one scores better; ok / FAILS: the validate section's "
            "expectation (d >= 1 where the row lacks what the metric measures), blank: none",
            "metrics": "samuel_pl/metrics/realism.py (band_error_db, hf_level_*: vs the song's "
            "own real accompaniment, so the real row scores 0 by construction)",
        },
    )


if __name__ == "__main__":
    main()
