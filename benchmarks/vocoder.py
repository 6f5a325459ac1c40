"""The mel codec's decoders on real audio: the trained vocoder (``task: vocoder``) against
Griffin-Lim at several iteration counts, on the demo recipes' log-frequency codec; the vocoder
alone and refined by Griffin-Lim from its phase (``codec.vocoder_refine``, MelCodec.refine).

Each real test accompaniment (``--songs`` of the 160-song render, ``--seconds`` clips) is encoded
and decoded; reported per decoder: decode real-time factor (``--threads`` torch threads), the
multi-resolution STFT distance and SI-SDR (dB) to the real audio, and the consonance share/gain
with the song's vocal (benchmarks/codec_harmony.py's scoring). Writes ``results/vocoder.{json,md}``.

    python benchmarks/vocoder.py [--ckpt auto|CKPT] [--gl-iters 8 16 32 48] [--refine 0 8 16]
        [--threads 2]

``--ckpt auto`` takes the newest ``runs/vocoder-demo-*/checkpoints/last.ckpt``; without one the
table says what to train (``python -m samuel_pl.fit --config experiments/vocoder/demo.yaml``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from codec_harmony import log_codec, score_decoders  # noqa: E402
from common import REPO_ROOT, write_results  # noqa: E402

TRAIN = "python -m samuel_pl.fit --config experiments/vocoder/demo.yaml"


def newest_vocoder() -> Path | None:
    """The newest demo vocoder checkpoint under runs/, or None."""
    found = sorted(REPO_ROOT.glob("runs/vocoder-demo-*/checkpoints/last.ckpt"))
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="auto", help="vocoder checkpoint (auto: newest demo run)")
    p.add_argument("--gl-iters", type=int, nargs="+", default=[8, 16, 32, 48])
    p.add_argument("--refine", type=int, nargs="+", default=[0, 8, 16],
                   help="codec.vocoder_refine values (Griffin-Lim from its output)")  # fmt: skip
    p.add_argument("--songs", type=int, default=8, help="test songs scored")
    p.add_argument("--seconds", type=float, default=25.0, help="clip length")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--root", default="data/demo", help="demo render folder")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    ckpt = newest_vocoder() if args.ckpt == "auto" else Path(args.ckpt)
    if ckpt is None:
        print(
            f"no vocoder checkpoint under runs/vocoder-demo-*: train one with `{TRAIN}`; no output"
        )
        return 0
    codecs = {
        f"vocoder + {n} Griffin-Lim refinement iterations" if n else "vocoder alone": log_codec(
            vocoder_refine=n
        ).with_vocoder(ckpt)
        for n in args.refine
    }
    codecs.update({f"Griffin-Lim {n} iterations": log_codec(griffin_lim_iters=n)
                   for n in args.gl_iters})  # fmt: skip
    rows = score_decoders(codecs, args.root, 160, args.songs, args.seconds)
    meta = {
        "vocoder": str(ckpt),
        "codec": "log, 64 semitone bins 110 Hz-4.2 kHz, hop 512 at 22050 Hz",
        "songs": args.songs,
        "clip_seconds": args.seconds,
        "threads": args.threads,
    }
    print(write_results("vocoder", rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
