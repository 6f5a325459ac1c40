"""SAMUeL from a checkpoint, through the same Accompanist the generate command uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samuel_pl.baselines.base import fit_length


class SamuelGenerator:
    """SAMUeL accompaniment with a given sampler, step count, guidance scale and step spacing
    (``spacing`` '': the checkpoint's ``sampling.spacing``), window (0: the default) and decoder
    (``vocoder`` '': the checkpoint's; ``none``: Griffin-Lim; ``auto``: the shipped vocoder where
    it fits the codec)."""

    def __init__(
        self,
        ckpt: str,
        sampler: str,
        steps: int,
        cfg: float,
        seed: int = 0,
        name: str = "",
        spacing: str = "",
        window: int = 0,
        vocoder: str = "",
        spectral_prior: str = "",
    ) -> None:
        from samuel_pl.generation import Accompanist
        from samuel_pl.metrics import count_parameters

        self.ckpt = Path(ckpt)
        self.accompanist = Accompanist.from_checkpoint(
            ckpt, window=window or None, vocoder=vocoder or None
        )
        self.sampler, self.steps, self.cfg, self.seed = sampler, steps, cfg, seed
        self.plan = self.accompanist.sampling_plan(
            sampler, steps, cfg, spacing or None, spectral_prior or None
        )
        self.spacing = self.plan.spacing  # '' -> the checkpoint's sampling.spacing
        self.parameters = count_parameters(self.accompanist.module.model)
        spec = self.plan.spec
        grid = f"-{spec.spacing(self.spacing)}" if spec.uses_steps else ""
        # the decoder's weights ("" for Griffin-Lim): a named vocoder, or the one "auto" chose
        decoder = getattr(self.accompanist.codec, "decoder_weights", "")
        voc = vocoder not in ("", "none") and bool(decoder)
        extra = (f"-w{window}" if window else "") + ("-voc" if voc else "")
        prior = self.plan.spectral_prior
        extra += f"-{prior}" if prior != "none" else ""
        self.name = name or f"samuel-{sampler}{steps}{grid}-cfg{cfg:g}{extra}"
        stat = self.ckpt.stat()
        settings = f"{sampler}:{steps}:{self.spacing}:{cfg:g}:w{self.accompanist.window}"
        settings += f":{prior}" if prior != "none" else ""
        if decoder:
            settings += f":{decoder}"
        elif vocoder == "none":
            settings += ":griffin-lim"
        weights = f"{self.ckpt.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        self.cache_key = f"{self.name}:{settings}:{weights}"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        import soxr

        out = self.accompanist.generate(
            vocals,
            sample_rate,
            plan=self.plan,
            seed=self.seed,
        )
        sr_out = self.accompanist.sample_rate
        audio = np.asarray(out, dtype=np.float32).reshape(-1)
        if sr_out != sample_rate:
            audio = soxr.resample(audio, sr_out, sample_rate, quality="HQ").astype(np.float32)
        return fit_length(audio, vocals.shape[-1])
