"""Paired per-song comparison of two rows of an evaluation run on the harmony metrics.

The suite's table gives each row's bootstrap interval on its own; two rows of the same songs are
compared more sharply by the per-song difference. This reads the generated accompaniments an
``evaluate`` run cached (``<out>/generated/<row>-<hash>/<song>.wav``), scores each against the
song's vocal clip (:func:`samuel_pl.metrics.harmony.harmonic_fit`) and reports the mean
difference B - A with a 95% bootstrap interval over songs. Writes
``results/<--name>.{json,md}`` (default ``paired_harmony``).

    python benchmarks/paired_harmony.py --eval eval/windows --a w128-dpmpp20 \
        --b w1024-dpmpp20 w1024-dpmpp10 [--suite evaluation/suites/windows.yaml]

Rows B may come from another run on the same songs and clips (``--eval-b``; a B row may then
share A's name, e.g. two checkpoints' ``samuel-...`` rows), and trailing ``key=value`` overrides
of the suite select its data as the evaluation runs did. The defaults are
the window-length study of issue 21 (benchmarks/results/window_study.md), whose evaluation run
is ``python -m samuel_pl.evaluate --suite evaluation/suites/windows.yaml --ckpt CKPT --out
eval/windows``; without that folder it says so and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402

WINDOW_ROWS = ["w1024-dpmpp20", "w1024-dpmpp10"]  # evaluation/suites/windows.yaml
KEYS = ("consonance_share", "consonance_gain", "consonance_share_no_unison")


def row_folder(eval_dir: Path, row: str) -> Path:
    """The cached folder of ``row`` (its name followed by a 12-hex-digit settings hash)."""
    found = [p for p in (eval_dir / "generated").glob(f"{row}-*") if len(p.name) == len(row) + 13]
    if len(found) != 1:
        raise SystemExit(
            f"{eval_dir}/generated: expected one folder for row {row!r}, found {found}"
        )
    return found[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eval", default="eval/windows", help="an evaluate --out folder")
    p.add_argument("--eval-b", default=None, help="folder of the B rows (default: --eval)")
    p.add_argument("--a", default="w128-dpmpp20", help="row A (the baseline)")
    p.add_argument("--b", nargs="+", help="row(s) B compared with A", default=WINDOW_ROWS)
    p.add_argument("--suite", default="evaluation/suites/windows.yaml", help="the run's suite")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--name", default="paired_harmony", help="results/<name>.{json,md}")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the suite (its data)")
    args = p.parse_args()

    import numpy as np

    from samuel_pl.audio import read_audio
    from samuel_pl.config import load_config
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips
    from samuel_pl.metrics.harmony import analyse_vocal, harmonic_fit

    if not (Path(args.eval) / "generated").is_dir():
        print(f"no {args.eval}/generated: run the evaluation first (see --help); no output")
        return 0
    suite = load_config(args.suite, list(args.overrides), SuiteConfig)
    vocals, _ = load_clips(suite)
    sr = suite.sample_rate
    eval_b = Path(args.eval_b or args.eval)
    # keys: "A" and each B row (a B row may share A's name when it comes from --eval-b)
    folders = {"A": row_folder(Path(args.eval), args.a)}
    folders.update({f"B:{r}": row_folder(eval_b, r) for r in args.b})
    scores: dict[str, dict[str, list[float]]] = {r: {k: [] for k in KEYS} for r in folders}
    for song, vocal in vocals.items():
        v = vocal.mean(axis=0)
        va = analyse_vocal(v, sr)
        for r, folder in folders.items():
            y, _ = read_audio(folder / f"{song}.wav", sr, 1)
            n = min(len(v), y.shape[-1])
            fit = harmonic_fit(v[:n], y[0, :n], sr, va)
            for k in KEYS:
                scores[r][k].append(fit[k])
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for b in args.b:
        row: dict[str, Any] = {"a": args.a, "b": b, "songs": len(vocals)}
        for k in KEYS:
            d = np.asarray(scores[f"B:{b}"][k]) - np.asarray(scores["A"][k])  # (songs,)
            boots = rng.choice(d, (args.bootstrap, len(d))).mean(axis=1)
            lo, hi = np.percentile(boots, [2.5, 97.5])
            row[f"{k}_a"] = round(float(np.mean(scores["A"][k])), 4)
            row[f"{k}_b"] = round(float(np.mean(scores[f"B:{b}"][k])), 4)
            row[f"{k}_diff"] = f"{d.mean():+.4f} [{lo:+.4f}, {hi:+.4f}]"
        rows.append(row)
    meta = {
        "eval": args.eval,
        "eval_b": str(eval_b),
        "suite": args.suite,
        "overrides": list(args.overrides),
        "bootstrap": args.bootstrap,
        "interval": "95% bootstrap over songs of the per-song difference B - A",
    }
    print(write_results(args.name, rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
