"""The mel codec's decoders on real audio: the trained vocoder (``task: vocoder``) against
Griffin-Lim at several iteration counts, on the demo recipes' log-frequency codec; the vocoder
alone and refined by Griffin-Lim from its phase (``codec.vocoder_refine``, MelCodec.refine), the
refinement's in-band target either the vocoder's own magnitude projected onto the frames' bands
("project", the default) or the frames' minimum-norm inversion ("nnls", the old target).

Each real test accompaniment (``--songs`` of the 160-song render, ``--seconds`` clips) is encoded
and decoded; reported per decoder: decode real-time factor (``--threads`` torch threads), the
multi-resolution STFT distance and SI-SDR (dB) to the real audio, and the consonance share/gain
with the song's vocal (benchmarks/codec_harmony.py's scoring). Writes ``results/vocoder.{json,md}``.

    python benchmarks/vocoder.py [--ckpt shipped|auto|CKPT] [--gl-iters 8 16 32 48]
        [--refine 0 8 16] [--modes project nnls] [--threads 2] [--generated CKPT]

``--ckpt shipped`` (the default) scores the vocoder shipped in the package
(samuel_pl/assets/vocoder_demo.pt, what ``codec.vocoder=auto`` decodes the demo codec with);
``--ckpt auto`` takes the newest ``runs/vocoder-demo-*/checkpoints/last.ckpt``; without one the
table says what to train (``python -m samuel_pl.fit --config experiments/vocoder/demo.yaml``).
``--generated CKPT``: also decode the latents a SAMUeL checkpoint (same codec) generates for the
test vocals (rows ``generated: ...``; no MR-STFT / SI-SDR there, the music differs from the real
one). The meta records the seconds each decoder takes for ``make fit``'s final samples (2 songs
x vocals, generated, target of 256 frames, as samuel_callbacks.AudioSamples decodes them).
``--codec pitched``: the full-band pitched codec's vocoder (``runs/vocoder-fullband-*``,
experiments/vocoder/fullband.yaml) -> ``results/vocoder_fullband.{json,md}``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from codec_harmony import log_codec, score_decoders  # noqa: E402
from common import REPO_ROOT, write_results  # noqa: E402

TRAIN = "python -m samuel_pl.fit --config experiments/vocoder/demo.yaml"
TRAIN_FB = "python -m samuel_pl.fit --config experiments/vocoder/fullband.yaml"


def newest_vocoder(run: str = "vocoder-demo") -> Path | None:
    """The newest ``run`` vocoder checkpoint under runs/, or None."""
    found = sorted(REPO_ROOT.glob(f"runs/{run}-*/checkpoints/last.ckpt"))
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def fit_sample_seconds(codecs: dict[str, Any], root: str, repeats: int = 3) -> dict[str, float]:
    """Seconds each codec takes to decode ``make fit``'s final samples: 2 songs x a (3, C, 256)
    batch (vocals, generated, target latents; the generated ones stand in by the real
    accompaniment's), median of ``repeats``; and the seconds to build the demo codec with the
    shipped vocoder (auto: the file read, weights loaded) and without (none: no file read)."""
    import statistics
    import time

    import torch

    from samuel_pl.config.schema import DataConfig
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips

    data = DataConfig(source="demo", root=root, demo_songs=160)
    suite = SuiteConfig(data=data, split="test", clip_seconds=6.0, sample_rate=22050, max_songs=1)
    vocals, accs = load_clips(suite)
    song = next(iter(vocals))
    out = {}
    for name, codec in codecs.items():
        v, a = (
            codec.encode(torch.from_numpy(x[song])[None], 22050)[..., :256] for x in (vocals, accs)
        )
        z = torch.cat([v, a, a])  # (3, C, 256)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with torch.inference_mode():
                codec.decode(z)
            times.append(time.perf_counter() - t0)
        out[name] = round(2 * statistics.median(times), 2)
    from samuel_pl.codecs import build_codec
    from samuel_pl.config import load_config

    for choice in ("auto", "none"):  # what loading the shipped file adds to building the codec
        cfg = load_config(REPO_ROOT / "experiments" / "demo.yaml", [f"codec.vocoder={choice}"])
        t0 = time.perf_counter()
        build_codec(cfg.codec)
        out[f"build the demo codec, codec.vocoder={choice}"] = round(time.perf_counter() - t0, 3)
    return out


def generated_latents(ckpt: str) -> Any:
    """``latents(song, vocal)`` for score_decoders: the SAMUeL checkpoint's latent (1, C, T) for
    the vocal (its own sampling settings, seed 0), denormalised."""
    import torch

    from samuel_pl.generation import Accompanist

    acc = Accompanist.from_checkpoint(ckpt, "cpu", vocoder="none")

    def latents(song: str, vocal: Any) -> Any:
        gen = acc.generate(vocal[None], 22050, seed=0, return_latent=True)
        return acc.module.denormalize(torch.from_numpy(gen.latent)[None]).float()

    return latents


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="shipped",
                   help="vocoder checkpoint or export (shipped: the package's; auto: newest "
                   "demo run)")  # fmt: skip
    p.add_argument("--generated", default="", help="SAMUeL checkpoint: also its generations")
    p.add_argument("--gl-iters", type=int, nargs="+", default=[8, 16, 32, 48])
    p.add_argument("--refine", type=int, nargs="+", default=[0, 8, 16],
                   help="codec.vocoder_refine values (Griffin-Lim from its output)")  # fmt: skip
    p.add_argument("--codec", default="log", choices=["log", "pitched"],
                   help="log: the demo codec; pitched: vocoder/fullband.yaml's")  # fmt: skip
    p.add_argument("--modes", nargs="+", default=["project", "nnls"], choices=["project", "nnls"],
                   help="refinement targets (MelCodec.refine mode)")  # fmt: skip
    p.add_argument("--songs", type=int, default=8, help="test songs scored")
    p.add_argument("--seconds", type=float, default=25.0, help="clip length")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--root", default="data/demo", help="demo render folder")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    run, train = ("vocoder-demo", TRAIN) if args.codec == "log" else ("vocoder-fullband", TRAIN_FB)
    if args.ckpt == "shipped" and args.codec == "log":
        from samuel_pl.codecs.vocoder import SHIPPED

        ckpt: Path | None = SHIPPED
    else:
        ckpt = newest_vocoder(run) if args.ckpt == "auto" else Path(args.ckpt)
    if ckpt is None:
        print(f"no vocoder checkpoint under runs/{run}-*: train one with `{train}`; no output")
        return 0
    if args.codec == "pitched":
        from samuel_pl.codecs.pitched import PitchedCodec

        def make(**kw: Any) -> Any:
            return PitchedCodec(n_mels=76, f_min=55.0, **kw)
    else:
        make = log_codec
    codecs: dict[str, Any] = {}
    for n in args.refine:
        for mode in args.modes if n and args.codec == "log" else ["project"]:
            codec = make(vocoder_refine=n).with_vocoder(ckpt)
            if args.codec == "log":  # the pitched codec's refinement always projects
                codec.refine = functools.partial(type(codec).refine, codec, mode=mode)
            name = f"vocoder + {n} Griffin-Lim refinement iterations ({mode})"
            codecs[name if n else "vocoder alone"] = codec
    codecs.update({f"Griffin-Lim {n} iterations": make(griffin_lim_iters=n)
                   for n in args.gl_iters})  # fmt: skip
    rows = score_decoders(codecs, args.root, 160, args.songs, args.seconds)
    if args.generated:
        latents = generated_latents(args.generated)
        more = score_decoders(codecs, args.root, 160, args.songs, args.seconds, latents)
        rows += [{**r, "audio": f"generated: {r['audio']}"} for r in more[1:]]
    meta = {
        "vocoder": str(ckpt),
        "codec": "log, 64 semitone bins 110 Hz-4.2 kHz, hop 512 at 22050 Hz"
        if args.codec == "log"
        else "pitched, 76 semitones from 55 Hz + 8 bands to Nyquist, hop 512 at 22050 Hz",
        "songs": args.songs,
        "clip_seconds": args.seconds,
        "threads": args.threads,
        "generated by": args.generated or "not run",
        "make fit sample decode (s, 2 songs x 3 clips of 256 frames)": fit_sample_seconds(
            codecs, args.root
        ),
    }
    print(write_results("vocoder" if args.codec == "log" else "vocoder_fullband", rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
