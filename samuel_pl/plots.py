"""Matplotlib figures (Agg backend, files only): latent/spectrogram panels, curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from samuel_pl.files import write_figure  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` atomically (:func:`samuel_pl.files.write_figure`) and close it."""
    try:
        return write_figure(fig, path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def printable(text: str) -> str:
    """``text`` with undecodable file-name bytes (surrogate escapes) shown as U+FFFD: a song
    id from a file name need not be valid UTF-8, and the font renderer refuses such strings."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def spectrogram_panels(
    panels: dict[str, np.ndarray],
    path: str | Path,
    title: str = "",
    frame_rate: float = 0.0,
    top_db: float | None = None,
    dpi: int = 100,
) -> Path:
    """The one spectrogram/latent renderer: one image row per named ``(F, T)`` array.

    Args:
        panels: name -> (F, T) array (latents, dB spectrograms), drawn top to bottom.
        path: the PNG (written atomically).
        title: drawn above the first row.
        frame_rate: frames per second of the time axis (0: the axis counts frames).
        top_db: colour range ``[max - top_db, max]`` over all panels, no y ticks (dB
            spectrograms); None: the shared ``[min, max]`` range with a colour bar (latents).
        dpi: resolution of the PNG.

    Uses matplotlib's object API (no pyplot state), so it is safe on any thread.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hi = max(float(np.nanmax(p)) for p in panels.values())
    lo = min(float(np.nanmin(p)) for p in panels.values()) if top_db is None else hi - top_db
    fig = Figure(figsize=(9.0, 1.8 * len(panels) + 0.6), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, arr) in zip(axes, panels.items()):
        t_max = arr.shape[-1] / frame_rate if frame_rate > 0 else arr.shape[-1]
        im = ax.imshow(
            arr,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=lo,
            vmax=hi,
            extent=(0.0, t_max, 0, arr.shape[0]),
            interpolation="nearest",
        )
        ax.set_ylabel(printable(name), fontsize=9)
        if top_db is not None:
            ax.set_yticks([])
    axes[-1].set_xlabel("seconds" if frame_rate > 0 else "frames", fontsize=9)
    if title:
        axes[0].set_title(printable(title), fontsize=9)
    fig.tight_layout()
    if top_db is None:
        fig.colorbar(im, ax=list(axes), shrink=0.8)
    return write_figure(fig, path)


def log_mel_db(audio: np.ndarray, rate: int, n_mels: int = 80) -> tuple[np.ndarray, float]:
    """(C, N) or (N,) audio -> ((n_mels, frames) log-mel power in dB of the mono mix (floor
    -100 dB), frames per second). STFT of 1024 samples (2048 from 32 kHz up), hop a quarter."""
    import torch

    from samuel_pl.codecs.mel import mel_filterbank

    x = np.asarray(audio, dtype=np.float32)
    mono = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, x.shape[-1]).mean(0)))  # (N,)
    n_fft = 2048 if rate >= 32000 else 1024
    if mono.numel() < n_fft:
        mono = torch.nn.functional.pad(mono, (0, n_fft - mono.numel()))
    spec = torch.stft(
        mono, n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft), return_complex=True
    ).abs()  # (F, frames)
    fb = mel_filterbank(rate, n_fft, n_mels, 30.0, min(rate / 2.0, 11025.0))  # (n_mels, F)
    power = torch.from_numpy(fb) @ spec.square()  # (n_mels, frames)
    return (10.0 * torch.log10(power.clamp_min(1e-10))).numpy(), rate / (n_fft // 4)


def mel_spectrograms(
    signals: dict[str, np.ndarray], rate: int, path: str | Path, title: str = "", dpi: int = 100
) -> Path:
    """Stacked log-mel spectrograms (80 dB range) of named (C, N) or (N,) signals, as a PNG."""
    panels, frame_rate = {}, float(rate)
    for name, x in signals.items():
        panels[name], frame_rate = log_mel_db(x, rate)
    return spectrogram_panels(panels, path, title, frame_rate, top_db=80.0, dpi=dpi)


def curves(series: dict[str, list[tuple[int, float]]], path: str | Path, ylabel: str) -> Path:
    """Line plot of named (step, value) series."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, pts in series.items():
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
