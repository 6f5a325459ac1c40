"""Quality half of benchmarks/sampling.py: the test crops, the samples of every sampler, and
their Frechet distances to ancestral-800 (statistics: sampling_stats.py).

Crops: ``crop_frames`` latent frames (auto: the checkpoint's sampling window, shortened to the
shortest test song so that every test song counts), up to ``per_song`` consecutive crops from
the middle of each song. A crop as long as the window (2048 frames = 47.55 s for demo_long)
leaves out every chorale shorter than that: 12 of the 17 demo_long test songs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sampling_stats import (
    SongStats,
    fd_replicates,
    jackknife_weights,
    paired_difference,
    summarize,
)

from samuel_pl.diffusion.samplers import SPACINGS, resolve_spacing

REF_SEED_OFFSET = 500
"""Seed offset of the reference ancestral-800 draw; every row (the floor too) uses offset 0."""


def frames_in(codec: Any, num_samples: int) -> int:
    """The most latent frames whose audio (``codec.num_samples``) fits in ``num_samples``."""
    w = int(codec.num_frames(num_samples))
    while w > 0 and codec.num_samples(w) > num_samples:
        w -= 1
    return w


def auto_crop_frames(song_frames: list[int], window: int, multiple: int) -> int:
    """Crop length that every song fits: min(window, shortest song), floored to ``multiple``
    (the U-Net's time stride)."""
    if not song_frames:
        raise ValueError("no songs to crop")
    w = min(window, min(song_frames)) // multiple * multiple
    if w < multiple:
        raise ValueError(f"shortest song has {min(song_frames)} frames, fewer than {multiple}")
    return w


def plan_crops(
    lengths: dict[str, int], n: int, per_song: int
) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """(song, start sample) of up to ``per_song`` consecutive crops of ``n`` samples centred in
    each song of ``lengths`` (song -> samples), and song -> why it has fewer (or none)."""
    crops, short = [], {}
    for song, length in lengths.items():
        k = min(per_song, length // n)
        if k < per_song:
            short[song] = f"{length} samples hold {k} of {per_song} crops of {n}"
        first = (length - k * n) // 2
        crops += [(song, first + i * n) for i in range(k)]
    return crops, short


@dataclass
class Crops:
    """Vocal and accompaniment crops (1, n) of the test songs, the song index of each."""

    vocals: list[np.ndarray] = field(default_factory=list)
    accs: list[np.ndarray] = field(default_factory=list)
    song_of_clip: list[int] = field(default_factory=list)
    songs: list[str] = field(default_factory=list)
    frames: int = 0
    note: str = "no test songs (model not trained on the demo source)"


def select_crops(acc: Any, crop_frames: int, per_song: int) -> Crops:
    """The test songs of a demo-trained model's data, cropped (:func:`plan_crops`); every song
    is loaded whole; empty for a non-demo model. ``crop_frames`` 0: :func:`auto_crop_frames`."""
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.data.clips import load_clips

    if acc.cfg.data.source != "demo":
        return Crops()
    suite = SuiteConfig(data=acc.cfg.data, split="test", clip_seconds=1e6,
                        sample_rate=acc.sample_rate)  # fmt: skip
    vocals, accs = load_clips(suite)  # whole songs (a clip longer than any song)
    lengths = {k: int(v.shape[-1]) for k, v in vocals.items()}
    song_frames = [frames_in(acc.codec, n) for n in lengths.values()]
    mult = int(acc.module.model.time_multiple)
    w = crop_frames or auto_crop_frames(song_frames, acc.window, mult)
    if w % mult:
        raise SystemExit(f"--crop-frames {w} is not a multiple of the U-Net's stride {mult}")
    n = acc.codec.num_samples(w)
    plan, short = plan_crops(lengths, n, per_song)
    out = Crops(frames=w)
    out.songs = sorted({s for s, _ in plan}, key=list(lengths).index)
    for song, start in plan:
        out.vocals.append(vocals[song][:, start : start + n])
        out.accs.append(accs[song][:, start : start + n])
        out.song_of_clip.append(out.songs.index(song))
    skipped = [s for s in lengths if s not in out.songs]
    lo_s, hi_s = (f(lengths.values()) / acc.sample_rate for f in (min, max))
    out.note = (
        f"{len(plan)} crops of {w} frames ({n / acc.sample_rate:.1f} s) from {len(out.songs)} of "
        f"{len(lengths)} test songs (up to {per_song} per song, centred; test songs "
        f"{lo_s:.1f}-{hi_s:.1f} s); skipped (shorter than one crop): {', '.join(skipped) or 'none'}"
        f"; with fewer than {per_song} crops: {len(short) - len(skipped)}"
    )
    print("quality crops:", out.note, flush=True)
    return out


def quality_rows(
    ckpt: Path,
    demo: Path | None,
    quick: bool,
    per_song: int,
    fd_mel_rows: bool,
    n_seeds: int = 2,
    steps_grid: tuple[int, ...] = (5, 8, 10, 15, 25),
    samplers: tuple[str, ...] = ("dpmpp",),
    crop_frames: int = 0,
) -> tuple[list[dict], dict]:
    """Latent distance of each sampler/spacing/NFE to ancestral-800 (other seeds), with the
    noise floor and song-jackknife intervals, and FD-mel against the real test accompaniments
    for a demo-trained model."""
    import torch

    from samuel_pl.audio import read_audio
    from samuel_pl.generation import Accompanist
    from samuel_pl.metrics import build_embedder
    from samuel_pl.metrics.frechet import frechet_distance, gaussian_stats

    acc = Accompanist.from_checkpoint(ckpt, "cpu")
    mod = acc.module
    crops = Crops() if demo else select_crops(acc, crop_frames, per_song)
    w = crops.frames or acc.window
    n = acc.codec.num_samples(w)
    for p in sorted(demo.glob("*/vocals.*")) if demo else []:  # debug model: its own songs
        audio, _ = read_audio(p, acc.sample_rate, 1)
        for start in range(0, audio.shape[-1] - n + 1, n)[:4]:
            crops.song_of_clip.append(len(crops.songs))
            crops.vocals.append(audio[:, start : start + n])
        crops.songs.append(p.parent.name)
        crops.note = "debug model's training songs, up to 4 crops each"
    if not crops.vocals:  # --ckpt without a demo folder: synthetic vocal crops
        t = np.arange(n) / acc.sample_rate
        crops.vocals = [(0.3 * np.sin(2 * np.pi * f * t))[None].astype(np.float32)
                        for f in (220, 330)]  # fmt: skip
        crops.song_of_clip, crops.songs, crops.note = [0, 1], ["220Hz", "330Hz"], "synthetic"
    x = torch.from_numpy(np.stack(crops.vocals))  # (B, 1, n)
    cond = mod.normalize(acc.codec.encode(x, acc.sample_rate)[..., :w])  # (B, C, W)
    seeds = (0,) if quick else tuple(range(n_seeds))
    song_of = np.tile(np.asarray(crops.song_of_clip), len(seeds))  # clip of (S*B, C, W)
    weights = jackknife_weights(len(crops.songs))

    embedder = build_embedder("mel") if crops.accs and fd_mel_rows else None
    ref_emb = (
        gaussian_stats(np.concatenate([embedder.embed(a, acc.sample_rate) for a in crops.accs]))
        if embedder is not None
        else None
    )
    first: dict[str, Any] = {}

    def run(name: str, steps: int, spacing: str, seed_offset: int = 0) -> SongStats:
        outs = []
        for s in seeds:
            g = torch.Generator().manual_seed(1000 * s + seed_offset)
            outs.append(mod.sample(cond, sampler=name, steps=steps, spacing=spacing, generator=g,
                                   normalized=True))  # fmt: skip
        first["z"] = outs[0]  # (B, C, W) of the first seed: decoded for FD-mel
        z = torch.cat(outs).numpy()  # (S*B, C, W)
        return SongStats.of(z, song_of, len(crops.songs))

    def fd_mel() -> float | None:
        if embedder is None or ref_emb is None:
            return None
        wav = acc.codec.decode(mod.denormalize(first["z"])).float().numpy()  # (B, 1, N)
        emb = np.concatenate([embedder.embed(a, acc.sample_rate) for a in wav])
        return frechet_distance(*gaussian_stats(emb), *ref_emb)

    def meanstd(st: SongStats) -> np.ndarray:
        mu, cov = st.pooled(weights[0])
        return np.concatenate([mu, np.sqrt(np.diag(cov))])

    print("quality: ancestral 800 (reference, other seeds)", flush=True)
    t0 = time.perf_counter()
    ref = run("ancestral", 800, "uniform", REF_SEED_OFFSET)
    ref_s = time.perf_counter() - t0
    steps_grid = (10, 25) if quick else steps_grid
    cases = [("ancestral", "-", 800)]
    cases += [(s, sp, k) for s in samplers for sp in SPACINGS for k in steps_grid]
    rows, fds, floor = [], {}, np.ones(1)
    for name, spacing, steps in cases:
        print(f"quality: {name} {spacing} {steps}", flush=True)
        t0 = time.perf_counter()
        st = run(name, steps, "uniform" if spacing == "-" else spacing)
        secs = time.perf_counter() - t0
        fd = fd_replicates(st, ref, weights)
        if name == "ancestral":
            floor = fd
        fds[(name, spacing, steps)] = fd
        rows.append({
            "sampler": name + (" (noise floor)" if name == "ancestral" else ""),
            "spacing": spacing,
            "steps": steps,
            **summarize(fd, floor),
            "meanstd_sqdist_to_anc800": float(np.mean((meanstd(st) - meanstd(ref)) ** 2)),
            "seconds": secs,
            "fd_mel_vs_test": fd_mel(),
            "frechet_jackknife": [round(float(v), 5) for v in fd[1:]],  # paired comparisons
        })  # fmt: skip
    best = {
        f"best_spacing_{name}{k}": min(
            (r for r in rows if r["sampler"] == name and r["steps"] == k),
            key=lambda r: r["frechet_to_anc800"],
        )["spacing"]
        for name in samplers
        for k in steps_grid
    }
    sp = mod.cfg.sampling
    default = (sp.sampler, resolve_spacing(sp.sampler, sp.spacing), sp.steps)
    compare = {}
    if default in fds:
        top = (default[0], default[1], max(steps_grid))
        compare[f"default {default} minus {top}"] = paired_difference(fds[default], fds[top])
        at = [c for c in fds if c[2] == default[2] and c[0] != "ancestral" and c != default]
        rival = min(at, key=lambda c: fds[c][0]) if at else None
        if rival is not None:
            key = f"default minus best other at {default[2]} steps {rival}"
            compare[key] = paired_difference(fds[default], fds[rival])
        for grid in SPACINGS:  # the default's sampler and steps on the other grids
            other = (default[0], grid, default[2])
            if other != default and other in fds:
                compare[f"default minus {other}"] = paired_difference(fds[default], fds[other])
    notes = {
        "quality_ckpt": str(ckpt),
        "quality_ckpt_steps": int(
            torch.load(ckpt, map_location="cpu", weights_only=True).get("global_step", -1)
        ),
        "fd_mel_reference": f"{len(crops.accs)} real accompaniment crops of the test songs"
        if embedder is not None
        else "none (model not trained on the demo source, or --no-fd-mel)",
        "quality_clips": int(cond.shape[0]),
        "quality_songs": len(crops.songs),
        "quality_clips_note": crops.note,
        "quality_seeds": len(seeds),
        "quality_frames_per_clip": w,
        "quality_cfg": sp.cfg,
        "reference": f"ancestral-800 on seeds 1000 s + {REF_SEED_OFFSET}; every row (the floor: "
        "ancestral-800 itself) on seeds 1000 s, so an exact sampler's expected ratio is 1",
        "reference_seconds": round(ref_s, 1),
        "intervals": f"95%: point +- 1.96 standard errors of the delete-one-song jackknife "
        f"({len(weights) - 1} replicates; floor and row leave out the same song)",
        "default_checks": compare,
        **best,
    }
    return rows, notes
