"""Shared helpers of the generation tests: a synthetic vocal and the join statistic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR_CODEC, HOP, WINDOW = 22050, 512, 32  # the debug config: mel codec, crop_frames


def vocal(n: int, sr: int, channels: int = 1, amp: float = 0.4) -> np.ndarray:
    """A sine melody with a syllable envelope, (channels, n) float32."""
    t = np.arange(n) / sr
    notes = np.array([220.0, 247.0, 262.0, 294.0, 330.0])
    f = notes[(t * 3).astype(int) % len(notes)]
    phase = 2 * np.pi * np.cumsum(f) / sr
    env = 0.5 * (1 - np.cos(2 * np.pi * ((t * 3) % 1.0)))
    x = (amp * env * np.sin(phase)).astype(np.float32)
    return np.stack([x * (1.0 - 0.1 * c) for c in range(channels)])


def write_vocal(path: Path, n: int, sr: int, channels: int = 1, amp: float = 0.4) -> Path:
    sf.write(str(path), vocal(n, sr, channels, amp).T, sr)
    return path


def join_steps(latent: np.ndarray, starts: tuple[int, ...], window: int) -> tuple[float, list]:
    """(max frame-to-frame L2 step inside any overlap/join, steps away from every join).

    latent: (C, T). Step f is ``||z[:, f+1] - z[:, f]||``; the join zone of window k >= 1 spans
    its start to the end of window k-1 (plus one step either side).
    """
    steps = np.linalg.norm(np.diff(latent, axis=1), axis=0)  # (T-1,)
    zone: set[int] = set()
    for k in range(1, len(starts)):
        zone |= set(range(max(starts[k] - 1, 0), min(starts[k - 1] + window + 1, len(steps))))
    inside = [float(steps[f]) for f in range(len(steps)) if f not in zone]
    return max(float(steps[f]) for f in zone), inside
