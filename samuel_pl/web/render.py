"""The demo's job runner: vocal -> accompaniment, mix and spectrogram files in the job folder."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

from samuel_pl.audio import convert_channels, resample, write_audio
from samuel_pl.diffusion import SAMPLERS, SPACING_CHOICES, SamplingPlan
from samuel_pl.generation import Accompanist, mix_tracks, safe_peak
from samuel_pl.plots import mel_spectrograms
from samuel_pl.web.jobs import Job, Progress

log = logging.getLogger("samuel_pl.web")

OUTPUTS = ("accompaniment.wav", "mix.wav", "spectrogram.png")


class Renderer:
    """Wraps an :class:`Accompanist` for the web demo (called on the queue's worker thread).

    Args:
        accompanist: the loaded model.
        checkpoint: shown on the page (the file name only).
    """

    def __init__(self, accompanist: Accompanist, checkpoint: str = "") -> None:
        self.acc = accompanist
        self.checkpoint = Path(checkpoint).name if checkpoint else ""

    def info(self) -> dict[str, Any]:
        """Model facts and sampler defaults for the page."""
        return {
            "checkpoint": self.checkpoint,
            "device": self.acc.device.type,
            "sample_rate": self.acc.sample_rate,
            "channels": self.acc.channels,
            "samplers": sorted(SAMPLERS),
            "spacings": list(SPACING_CHOICES),
            "defaults": self.acc.sampling_plan().settings(),
            "train_steps": int(self.acc.module.schedule.train_steps),
        }

    def plan(self, settings: dict[str, Any]) -> SamplingPlan:
        """The sampling plan of a job's settings (ancestral always runs the training steps)."""
        return self.acc.sampling_plan(
            settings["sampler"], settings["steps"], settings["cfg"], settings.get("spacing")
        )

    def effective(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The settings a job will run with (:meth:`plan`'s, and the seed)."""
        return {**self.plan(settings).settings(), "seed": int(settings["seed"])}

    def __call__(self, job: Job, progress: Progress) -> dict[str, Any]:
        """Generate for ``job.payload = (vocals (C, N), rate)``; write :data:`OUTPUTS`."""
        vocals, sr = job.payload
        s = job.settings
        plan = self.plan(s)
        job.total = self.acc.num_steps(vocals.shape[-1], sr, plan)
        job.stage = "sampling"
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = self.acc.generate(
                vocals, sr, plan=plan, seed=s["seed"], progress=progress, return_latent=True
            )
        job.stage = "writing files"
        rate, acc = self.acc.sample_rate, safe_peak(res.audio)  # (C_out, N_out)
        n = acc.shape[-1]
        voc = resample(convert_channels(vocals, acc.shape[0]), sr, rate)[:, :n]
        write_audio(job.folder / "accompaniment.wav", acc, rate)
        write_audio(job.folder / "mix.wav", mix_tracks(voc, res.audio), rate)
        mel_spectrograms({"vocal": voc, "accompaniment": acc}, rate, job.folder / "spectrogram.png")
        seconds = n / rate
        total = time.perf_counter() - t0
        log.info(
            "job %s: %.2f s of audio in %.2f s (rtf %.3f, %s)",
            job.id,
            seconds,
            res.seconds,
            res.rtf,
            self.acc.device.type,
        )
        base = f"/api/jobs/{job.id}/"
        return {
            "accompaniment": base + "accompaniment.wav",
            "mix": base + "mix.wav",
            "spectrogram": base + "spectrogram.png",
            "audio_seconds": round(seconds, 3),
            "sample_rate": rate,
            "generation_seconds": round(res.seconds, 3),
            "total_seconds": round(total, 3),
            "rtf": round(res.rtf, 4),
            "device": self.acc.device.type,
            "windows": len(res.plan.starts),
            "settings": {**res.settings, "seed": s["seed"]},
            "warnings": [str(w.message) for w in caught if issubclass(w.category, UserWarning)],
        }
