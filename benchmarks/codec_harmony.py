"""Does a codec's round trip keep the harmony? Consonance share/gain of real accompaniments
before and after encode -> decode, per codec, on held-out demo songs (the ceiling any model
trained in that codec's latent space can reach on the harmonic-fit metrics).

Writes ``results/codec_harmony.{json,md}``.

    python benchmarks/codec_harmony.py                  # 8 test songs of the 160-song render, 25 s
    python benchmarks/codec_harmony.py --songs 17 --seconds 20
    python benchmarks/codec_harmony.py --gl-iters 8 16 32 48   # the log codec's Griffin-Lim:
        # decode seconds, MR-STFT distance to the real audio and harmony per iteration count
        # -> results/codec_harmony_gl.{json,md}
    python benchmarks/codec_harmony.py --only log,64 pitched --decode-iters 48 --name codec_fullband
        # the log codec against the full-band pitched codec (codec.type=pitched), both with
        # Griffin-Lim 48 -> results/codec_fullband.{json,md}

Realism columns: ``band_err_db`` (mean absolute dB difference of the octave-band spectrum,
31 Hz-Nyquist, each normalised to its own total level, against the real accompaniment) and
``hf_db`` (the share of energy above 4 kHz relative to the real one's, in dB: 0 is the real
level, -10 means ten times too little).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import write_results  # noqa: E402

SR = 22050
CODECS: dict[str, dict[str, Any]] = {
    "mel, 64 Slaney bins 30 Hz-11 kHz (the old demo codec)": {"n_mels": 64},
    "log, 64 semitone bins 110 Hz-4.2 kHz (codec.scale=log)": {
        "n_mels": 64,
        "scale": "log",
        "f_min": 110.0,
    },
    "log, 72 semitone bins 65 Hz-4.2 kHz, n_fft 4096": {
        "n_mels": 72,
        "scale": "log",
        "f_min": 65.4,
        "n_fft": 4096,
    },
    "pitched, 76 semitones 55 Hz-4.2 kHz (windows 16384-2048) + 8 bands to 11 kHz": {
        "type": "pitched",
        "n_mels": 76,
        "f_min": 55.0,
    },
    "ablation pitched: longest window 8192": {
        "type": "pitched",
        "n_mels": 76,
        "f_min": 55.0,
        "max_doublings": 2,
    },
    "ablation pitched: no bands above 4.2 kHz": {
        "type": "pitched",
        "n_mels": 76,
        "f_min": 55.0,
        "f_max": 4300.0,
    },
    "ablation pitched: semitones from 110 Hz": {
        "type": "pitched",
        "n_mels": 64,
        "f_min": 110.0,
    },
    "ablation pitched: one window (2048) for every channel": {
        "type": "pitched",
        "n_mels": 76,
        "f_min": 55.0,
        "max_doublings": 0,
    },
    "ablation pitched: Griffin-Lim 96 iterations": {
        "type": "pitched",
        "n_mels": 76,
        "f_min": 55.0,
        "griffin_lim_iters": 96,
    },
}
OCTAVE_EDGES_HZ = [31.25 * 2.0**k for k in range(9)] + [SR / 2]  # 31 Hz ... 8 kHz, Nyquist


def band_levels(audio: Any) -> tuple[Any, float]:
    """Octave-band levels (dB, normalised to the total) and the share of energy above 4 kHz of
    mono audio (N,) at SR (mean power spectrum of 2048-point Hann frames)."""
    import numpy as np

    frames = np.lib.stride_tricks.sliding_window_view(audio, 2048)[::512]  # (T, 2048)
    power = (np.abs(np.fft.rfft(frames * np.hanning(2048), axis=-1)) ** 2).mean(0)  # (1025,)
    hz = np.fft.rfftfreq(2048, 1.0 / SR)
    total = power.sum() + 1e-20
    edges = OCTAVE_EDGES_HZ
    bands = [power[(hz >= lo) & (hz < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])]
    return 10 * np.log10(np.asarray(bands) / total + 1e-12), float(power[hz >= 4000].sum() / total)


def realism(est: Any, ref: Any) -> dict[str, float]:
    """``band_err_db`` and ``hf_db`` of ``est`` against ``ref`` (module doc)."""
    import numpy as np

    (be, he), (br, hr) = band_levels(est), band_levels(ref)
    return {
        "band_err_db": float(np.abs(be - br).mean()),
        "hf_db": float(10 * np.log10((he + 1e-12) / (hr + 1e-12))),
    }


def make_codec(kw: dict[str, Any]) -> Any:
    """A weight-free codec from a CODECS entry (``type`` pitched or mel, the default)."""
    if kw.get("type") == "pitched":
        from samuel_pl.codecs.pitched import PitchedCodec

        return PitchedCodec(**{k: v for k, v in kw.items() if k != "type"})
    from samuel_pl.codecs.mel import MelCodec

    return MelCodec(**kw)


def score_decoders(
    codecs: dict[str, Any],
    root: str,
    demo_songs: int,
    songs: int,
    seconds: float,
    latents: Any = None,
) -> list[dict[str, Any]]:
    """Round trip of the real test accompaniments through each codec: per codec, mean +- sd over
    songs of the consonance share/gain, MR-STFT distance and SI-SDR (dB) to the real audio, and
    the decode real-time factor (decode seconds / audio seconds). A first row scores the real
    accompaniments themselves. ``latents(song, vocal (N,))`` -> (1, C, T): decode those
    (e.g. generated) latents instead of the encoded accompaniment; MR-STFT and SI-SDR (which
    need the same music) are then left out, the spectral balance against the real one kept."""
    import torch
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as si_sdr

    from samuel_pl.config.schema import DataConfig
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips
    from samuel_pl.metrics.harmony import analyse_vocal, harmonic_fit
    from samuel_pl.nn.stft_loss import MRSTFTDistance

    data = DataConfig(source="demo", root=root, demo_songs=demo_songs)
    suite = SuiteConfig(
        data=data, split="test", clip_seconds=seconds, sample_rate=SR, max_songs=songs
    )
    vocals, accs = load_clips(suite)
    scores: dict[str, list[dict[str, float]]] = {"real accompaniment": []}
    distance = MRSTFTDistance()
    decode_s: dict[str, list[float]] = {name: [] for name in codecs}
    scores.update({name: [] for name in codecs})
    for song, vocal in vocals.items():
        v, a = vocal[0], accs[song][0]  # (N,)
        va = analyse_vocal(v, SR)
        scores["real accompaniment"].append(harmonic_fit(v, a, SR, va))
        given = None if latents is None else latents(song, v)  # (1, C, T)
        for name, codec in codecs.items():
            z = codec.encode(torch.from_numpy(a)[None, None], SR) if given is None else given
            t0 = time.perf_counter()
            with torch.inference_mode():
                y = codec.decode(z)[0, 0].numpy()  # (N',)
            decode_s[name].append(time.perf_counter() - t0)
            n = min(len(y), len(a))
            est, ref = torch.from_numpy(y[:n])[None, None], torch.from_numpy(a[:n])[None, None]
            extra = {}
            if given is None:
                extra = {"mrstft": float(distance(est, ref)[0]), "si_sdr": float(si_sdr(est, ref))}
            extra.update(realism(y[:n], a[:n]))
            scores[name].append({**harmonic_fit(v, y, SR, va), **extra})
        print(f"{song}: done", file=sys.stderr)
    rows = []
    keys = ("consonance_share", "consonance_gain", "consonance_share_no_unison", "mrstft", "si_sdr",
            "band_err_db", "hf_db")  # fmt: skip
    for name, per_song in scores.items():
        row: dict[str, Any] = {"audio": name}
        for key in keys:
            vals = [s[key] for s in per_song if key in s]
            if vals:
                row[key] = f"{statistics.mean(vals):.3f} +- {statistics.stdev(vals):.3f}"
        if name in decode_s:
            row["decode_rtf"] = round(sum(decode_s[name]) / (len(decode_s[name]) * seconds), 4)
        rows.append(row)
    return rows


def log_codec(**kw: Any) -> Any:
    """The demo recipes' log-frequency codec (64 semitone bins from 110 Hz), with overrides."""
    from samuel_pl.codecs.mel import MelCodec

    return MelCodec(**{**next(k for n, k in CODECS.items() if n.startswith("log, 64")), **kw})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="data/demo", help="demo render folder")
    p.add_argument("--demo-songs", type=int, default=160, help="render size (prefix-stable)")
    p.add_argument("--songs", type=int, default=8, help="test songs scored")
    p.add_argument("--seconds", type=float, default=25.0, help="clip length")
    p.add_argument(
        "--gl-iters", type=int, nargs="+", help="study the log codec's Griffin-Lim iterations"
    )
    p.add_argument("--only", nargs="+", help="codecs whose name starts with one of these")
    p.add_argument("--decode-iters", type=int, help="Griffin-Lim iterations of every codec")
    p.add_argument("--name", default="", help="results file name (default codec_harmony)")
    args = p.parse_args()

    if args.gl_iters:
        codecs = {f"log codec, Griffin-Lim {n} iterations": log_codec(griffin_lim_iters=n)
                  for n in args.gl_iters}  # fmt: skip
    else:
        iters = {"griffin_lim_iters": args.decode_iters} if args.decode_iters else {}
        codecs = {name: make_codec({**iters, **kw}) for name, kw in CODECS.items()
                  if not args.only or any(name.startswith(o) for o in args.only)}  # fmt: skip
    rows = score_decoders(codecs, args.root, args.demo_songs, args.songs, args.seconds)
    meta = {"songs": args.songs, "clip_seconds": args.seconds, "render": args.demo_songs}
    meta["griffin_lim_iters"] = args.decode_iters or "codec default (32)"
    name = args.name or ("codec_harmony_gl" if args.gl_iters else "codec_harmony")
    print(write_results(name, rows, meta))


if __name__ == "__main__":
    main()
