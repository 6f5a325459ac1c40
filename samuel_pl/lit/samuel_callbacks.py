"""Callbacks of :class:`~samuel_pl.lit.samuel.LitSamuel`: audio samples of validation songs."""

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


class AudioSamples(pl.Callback):
    """Generate accompaniments for fixed validation songs; write wav + PNG; log to MLflow.

    Runs every ``every_n_epochs`` validation epochs (0: only at the end of fit) and at fit end.

    Args:
        codec: a latent codec with ``decode((B, C, T)) -> (B, channels, N)`` and ``sample_rate``.
        out_dir: where ``samples/<tag>/`` folders go.
        every_n_epochs: interval in epochs (0: end of fit only).
        num_songs: fixed validation songs to render.
        frames: latent frames generated per song (rounded down to the U-Net's stride).
        seed: sampling seed (the same each time, so epochs are comparable).
    """

    def __init__(
        self,
        codec: Any,
        out_dir: str | Path,
        every_n_epochs: int = 5,
        num_songs: int = 2,
        frames: int = 256,
        seed: int = 0,
    ) -> None:
        self.codec = codec
        self.out_dir = Path(out_dir)
        self.every = every_n_epochs
        self.num_songs = num_songs
        self.frames = frames
        self.seed = seed
        self.last_files: list[Path] = []

    def _songs(self, trainer: pl.Trainer) -> tuple[Any, list[str]]:
        dm = trainer.datamodule  # type: ignore[attr-defined]
        cache = dm.cache
        songs = cache.songs("val") or cache.songs("train")
        return cache, songs[: self.num_songs]

    @rank_zero_only
    def render(self, trainer: pl.Trainer, pl_module: Any, tag: str) -> list[Path]:
        """Generate, decode and save samples under ``samples/<tag>``; return written files."""
        if self.num_songs <= 0:
            return []
        cache, songs = self._songs(trainer)
        stride = pl_module.model.time_multiple
        written: list[Path] = []
        folder = self.out_dir / "samples" / tag
        was_training = pl_module.training
        pl_module.eval()
        try:
            for i, song in enumerate(songs):
                vocals, accomp = cache.load(song)  # (C, N) each
                n = min(self.frames, vocals.shape[-1]) // stride * stride
                if n == 0:
                    continue
                start = max(0, (vocals.shape[-1] - n) // 2)
                v = torch.from_numpy(np.array(vocals[:, start : start + n]))[None]  # (1, C, T)
                a = np.array(accomp[:, start : start + n])  # (C, T)
                gen = torch.Generator().manual_seed(self.seed + i)
                z = pl_module.sample(v.to(pl_module.device), generator=gen).float().cpu()
                if not torch.isfinite(z).all():
                    raise FloatingPointError(f"generated latents for {song} are not finite")
                written += self._save(folder, song, v[0].numpy(), z[0].numpy(), a)
        finally:
            pl_module.train(was_training)
        for f in written:
            log_artifact(trainer.logger, f, f"samples/{tag}")
        self.last_files = written
        return written

    def _save(
        self, folder: Path, song: str, vocals: np.ndarray, gen: np.ndarray, target: np.ndarray
    ) -> list[Path]:
        sr = self.codec.sample_rate
        with torch.no_grad():
            audio = self.codec.decode(torch.from_numpy(np.stack([vocals, gen, target])).float())
        audio = audio.numpy()  # (3, channels, N)
        files = []
        mix = audio[0] + audio[1]
        named = {"vocals": audio[0], "generated": audio[1], "target": audio[2], "mix": mix}
        for name, wav in named.items():
            peak = float(np.max(np.abs(wav))) if wav.size else 0.0
            scaled = wav * (0.89 / peak) if peak > 0.89 else wav
            path = folder / f"{song}_{name}.wav"
            write_audio(path, scaled, sr)
            files.append(path)
        png = spectrogram_panels(
            {"vocals": vocals, "generated": gen, "ground truth": target},
            folder / f"{song}.png",
            title=f"{song}: latents",
            frame_rate=float(self.codec.frame_rate),
        )
        return [*files, png]

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking or self.every <= 0:
            return
        if (trainer.current_epoch + 1) % self.every == 0:
            self.render(trainer, pl_module, f"epoch{trainer.current_epoch:03d}")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.state.stage is not None and trainer.interrupted:
            return
        self.render(trainer, pl_module, f"final-step{trainer.global_step}")
