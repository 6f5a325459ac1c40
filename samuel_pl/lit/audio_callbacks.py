"""Reconstruction examples of the waveform networks (VAE, vocoder): wav files (original,
rendition) + spectrogram PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only

from samuel_pl.audio import write_audio
from samuel_pl.plots import spectrogram_panels
from samuel_pl.tracking import log_artifact


def log_spectrogram(audio: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """dB magnitude STFT (n_fft // 2 + 1, frames) of (C, N) audio (channels averaged)."""
    x = torch.from_numpy(np.asarray(audio, dtype=np.float32).mean(axis=0))
    spec = torch.stft(x, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
    return (20.0 * torch.log10(spec.abs().clamp_min(1e-5))).numpy()


class AudioReconstructions(pl.Callback):
    """Encode/decode fixed validation excerpts every ``every_n_epochs`` (0: only at fit end).

    Writes ``samples/<tag>/<song>_<stem>_{original,reconstruction}.wav`` and ``<song>_<stem>.png``
    (spectrograms) under ``out_dir`` and logs them to MLflow.

    Args:
        out_dir: the run folder.
        every_n_epochs: interval in validation epochs (0: end of fit only).
        num_tracks: validation tracks (song x stem) rendered.
        seconds: excerpt length (from the middle of each track).
    """

    def __init__(
        self, out_dir: str | Path, every_n_epochs: int = 5, num_tracks: int = 2, seconds: float = 4
    ) -> None:
        self.out_dir = Path(out_dir)
        self.every, self.num_tracks, self.seconds = every_n_epochs, num_tracks, seconds
        self.last_files: list[Path] = []

    @rank_zero_only
    def render(self, trainer: pl.Trainer, module: Any, tag: str) -> list[Path]:
        """Write and log the examples under ``samples/<tag>``; return the files."""
        if self.num_tracks <= 0:
            return []
        dm = trainer.datamodule  # type: ignore[attr-defined]
        tracks = dm.tracks("val") or dm.tracks("train")
        sr, hop = module.cfg.data.sample_rate, module.hop_length
        n = max(hop, int(self.seconds * sr) // hop * hop)
        folder, written = self.out_dir / "samples" / tag, []
        was_training = module.training
        module.eval()
        try:
            for song, stem, arr in tracks[: self.num_tracks]:
                start = max(0, (arr.shape[-1] - n) // 2)
                x = np.zeros((arr.shape[0], n), dtype=np.float32)
                piece = np.asarray(arr[:, start : start + n], dtype=np.float32)
                x[:, : piece.shape[1]] = piece
                y = module.reconstruct(torch.from_numpy(x)[None].to(module.device))
                y = y[0].float().cpu().numpy()
                name = f"{song}_{stem}".replace("/", "_")
                for kind, wav in (("original", x), ("reconstruction", y)):
                    peak = float(np.abs(wav).max()) if wav.size else 0.0
                    scaled = wav * (0.99 / peak) if peak > 0.99 else wav
                    written.append(write_audio(folder / f"{name}_{kind}.wav", scaled, sr))
                panels = {"original": log_spectrogram(x), "reconstruction": log_spectrogram(y)}
                png, title = folder / f"{name}.png", f"{name}: STFT (dB)"
                written.append(spectrogram_panels(panels, png, title, sr / 256))
        finally:
            module.train(was_training)
        for f in written:
            log_artifact(trainer.logger, f, f"samples/{tag}")
        self.last_files = written
        return written

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking or self.every <= 0 or getattr(trainer, "fast_dev_run", False):
            return
        if (trainer.current_epoch + 1) % self.every == 0:
            self.render(trainer, pl_module, f"epoch{trainer.current_epoch:03d}")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.interrupted:
            return
        self.render(trainer, pl_module, f"final-step{trainer.global_step}")
