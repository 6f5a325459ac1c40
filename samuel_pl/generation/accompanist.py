"""Accompanist: checkpoint + codec + sampler -> an accompaniment for vocals of any length.

Its seams live beside it: the device and stage timer (:mod:`.device`), the window settings
(:mod:`.planning`), the sampling plan (:class:`~samuel_pl.diffusion.SamplingPlan`), the codec
with its ``--vocoder`` override (:func:`~samuel_pl.codecs.vocoder.resolve_vocoder`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack, overload

import numpy as np
import torch
from torch import Tensor

from samuel_pl.audio import (
    AUDIO_EXTENSIONS,
    DEFAULT_LIMITS,
    DecodeLimits,
    convert_channels,
    read_audio,
    resample,
    write_audio,
)
from samuel_pl.codecs import build_codec
from samuel_pl.codecs.vocoder import resolve_vocoder
from samuel_pl.diffusion import CFGDenoiser, SamplingPlan
from samuel_pl.errors import AudioError, SamuelError
from samuel_pl.generation.device import STAGES, StageHook, resolve_device, timed
from samuel_pl.generation.output_gain import PEAK_CEILING, mix_tracks, safe_peak
from samuel_pl.generation.planning import Windowing, frames_needed
from samuel_pl.generation.windows import ModelFn, WindowPlan, sample_windows
from samuel_pl.lit import LitSamuel

SILENCE_PEAK = 1e-4  # -80 dBFS: quieter vocals count as silent


class SilentVocalsWarning(UserWarning):
    """The vocal input is silent: the accompaniment is generated without a real condition."""


@dataclass
class Generation:
    """What one :meth:`Accompanist.generate` call produced (``return_latent=True``)."""

    audio: np.ndarray
    """(C_out, N_out) accompaniment at ``sample_rate``."""
    latent: np.ndarray
    """(C, plan.frames) normalised accompaniment latent (before decoding)."""
    plan: WindowPlan
    """The windows that were sampled."""
    sample_rate: int
    seconds: float
    """Wall-clock generation time (encode + sample + decode)."""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        """Real-time factor: generation seconds / audio seconds."""
        return self.seconds / max(self.audio.shape[-1] / self.sample_rate, 1e-9)


class GenerateOptions(TypedDict, total=False):
    """The keyword options of :meth:`Accompanist.generate` (see its signature)."""

    plan: SamplingPlan | None
    sampler: str | None
    steps: int | None
    cfg: float | None
    spacing: str | None
    seed: int
    progress: bool | Any
    on_stage: StageHook | None


class Accompanist:
    """Generate accompaniments with a trained :class:`LitSamuel` (EMA weights) and its codec.

    Args:
        module: the trained module (``LitSamuel.load_from_checkpoint``).
        device: ``auto`` | ``cpu`` | ``cuda`` | ``mps`` (or a torch.device).
        window: frames per window (default ``cfg.sampling.window``, else ``cfg.data.crop_frames``;
            rounded up to the U-Net's time stride).
        overlap: frames each window shares with the previous one (default ``window // 4``).
        crossfade: frames of the overlap blended with a raised cosine (default ``overlap // 2``).
        vocoder: a ``task: vocoder`` checkpoint the mel codec decodes with ("" or "none":
            Griffin-Lim; default: the checkpoint config's ``codec.vocoder``).
    """

    def __init__(
        self,
        module: LitSamuel,
        device: str | torch.device = "auto",
        *,
        window: int | None = None,
        overlap: int | None = None,
        crossfade: int | None = None,
        vocoder: str | Path | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        self.cfg = module.cfg
        # The override replaces the saved vocoder before the codec loads one (a saved path
        # missing on this machine cannot fail before --vocoder none applies).
        codec_cfg = resolve_vocoder(self.cfg.codec, vocoder)
        self.codec = build_codec(codec_cfg).to(self.device).eval()
        self.windowing = Windowing.resolve(
            self.cfg.sampling.window,
            self.cfg.data.crop_frames,
            int(module.model.time_multiple),
            window=window,
            overlap=overlap,
            crossfade=crossfade,
        )

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "auto", **kwargs: Any
    ) -> Accompanist:
        """Load a ``LitSamuel`` checkpoint (config, EMA and latent statistics are inside)."""
        module = LitSamuel.from_checkpoint(path)  # weights-only: a pickle of code is refused
        return cls(module, device, **kwargs)

    # ----- properties --------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """Output sample rate (the codec's)."""
        return int(self.codec.sample_rate)

    @property
    def channels(self) -> int:
        """Output channels (the codec's)."""
        return int(self.codec.audio_channels)

    @property
    def window(self) -> int:
        """Frames per window."""
        return self.windowing.window

    @property
    def overlap(self) -> int:
        """Frames each window shares with the previous one."""
        return self.windowing.overlap

    @property
    def crossfade(self) -> int:
        """Frames of each overlap blended with a raised cosine."""
        return self.windowing.crossfade

    def sampling_plan(
        self,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        spectral_prior: str | None = None,
    ) -> SamplingPlan:
        """The overrides (None: the checkpoint's ``cfg.sampling``) resolved and checked once."""
        return self.module.sampling_plan(sampler, steps, cfg, spacing, spectral_prior)

    def num_steps(self, num_samples: int, sample_rate: int, plan: SamplingPlan) -> int:
        """Sampler steps a call will run (windows x steps): the progress bar's total."""
        frames = frames_needed(self.codec, round(num_samples * self.sample_rate / sample_rate))
        return len(self.plan(frames).starts) * plan.steps

    def plan(self, frames: int) -> WindowPlan:
        """Windows for ``frames`` latent frames (windows.plan_clip)."""
        return self.windowing.plan(frames)

    # ----- generation --------------------------------------------------------------------------
    def _encode(self, audio: np.ndarray, frames: int) -> Tensor:
        """(C, N) audio at the codec rate -> (1, latent, frames) codec latent, silence-padded."""
        n_pad = max(audio.shape[-1], self.codec.num_samples(frames))
        padded = np.zeros((audio.shape[0], n_pad), dtype=np.float32)
        padded[:, : audio.shape[-1]] = audio
        x = torch.from_numpy(padded)[None].to(self.device)  # (1, C, N)
        z = self.codec.encode(x, self.sample_rate)  # (1, latent, T')
        if z.shape[-1] < frames:  # a codec whose lengths do not round-trip: repeat the edge
            z = torch.cat([z, z[..., -1:].expand(-1, -1, frames - z.shape[-1])], dim=-1)
        return z[..., :frames]

    def _guided(self, cfg: float) -> Any:
        net = self.module.ema.module

        def bind(cond_window: Tensor) -> ModelFn:
            return CFGDenoiser(net, cond_window, cfg)

        return bind

    @overload
    def generate(
        self, vocals: np.ndarray | Tensor, sample_rate: int, *,
        return_latent: Literal[False] = ..., **options: Unpack[GenerateOptions],
    ) -> np.ndarray: ...  # fmt: skip

    @overload
    def generate(
        self, vocals: np.ndarray | Tensor, sample_rate: int, *,
        return_latent: Literal[True], **options: Unpack[GenerateOptions],
    ) -> Generation: ...  # fmt: skip

    @torch.inference_mode()
    def generate(
        self,
        vocals: np.ndarray | Tensor,
        sample_rate: int,
        *,
        plan: SamplingPlan | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        seed: int = 0,
        progress: bool | Any = False,
        return_latent: bool = False,
        on_stage: StageHook | None = None,
    ) -> np.ndarray | Generation:
        """Accompaniment for ``vocals`` (C, N) or (N,) at ``sample_rate``.

        Returns (C_out, round(N * self.sample_rate / sample_rate)) float32 audio at
        ``self.sample_rate`` (C_out = 1 for the mel codec), or a :class:`Generation` with the
        latent and the window plan when ``return_latent``. ``plan``: from
        :meth:`sampling_plan` (else the overrides resolve one). ``progress`` is True for a tqdm
        bar or a tqdm-like object with ``update(n)``. ``on_stage(stage, seconds)`` hears the
        encode, sample and decode times (CUDA synchronised).
        """
        t0 = time.perf_counter()
        plan = plan or self.sampling_plan(sampler, steps, cfg, spacing)
        audio = _as_audio(vocals)
        if sample_rate < 1:
            raise SamuelError(f"sample_rate must be positive, got {sample_rate}")
        if float(np.abs(audio).max()) < SILENCE_PEAK:
            warnings.warn(
                "vocals are silent (peak below -80 dBFS): the accompaniment is unconditioned",
                SilentVocalsWarning,
                stacklevel=2,
            )
        n_out = round(audio.shape[-1] * self.sample_rate / sample_rate)
        with timed(on_stage, "encode", self.device):
            at_rate = resample(audio, int(sample_rate), self.sample_rate)[:, :n_out]  # (C, n_out)
            windows = self.plan(frames_needed(self.codec, n_out))
            cond = self.module.normalize(self._encode(at_rate, windows.total))  # (1, C, total)

        gen = torch.Generator().manual_seed(int(seed))
        dev_gen = None
        if self.device.type != "cpu":
            dev_gen = torch.Generator(self.device).manual_seed(int(seed) + 1)
        bar, own_bar = _progress(progress, len(windows.starts) * plan.steps)
        try:
            guided, schedule = self._guided(plan.cfg), self.module.schedule
            with timed(on_stage, "sample", self.device):
                z = sample_windows(
                    lambda c: plan.wrap(guided(c), schedule),
                    cond.float(),
                    windows,
                    plan,
                    self.module.schedule,
                    generator=gen,
                    noise_generator=dev_gen,
                    on_step=(lambda k, i: bar.update(1)) if bar is not None else None,
                )
        finally:
            if own_bar and bar is not None:
                bar.close()
        latent = z[..., : windows.frames]  # (1, latent, frames) normalised
        with timed(on_stage, "decode", self.device):
            wav = self.codec.decode(self.module.denormalize(latent)).float().cpu().numpy()[0]
            if wav.shape[-1] < n_out:
                wav = np.pad(wav, ((0, 0), (0, n_out - wav.shape[-1])))
            wav = np.ascontiguousarray(wav[:, :n_out], dtype=np.float32)  # (C_out, n_out)
        if not return_latent:
            return wav
        return Generation(
            wav,
            latent[0].float().cpu().numpy(),
            windows,
            self.sample_rate,
            time.perf_counter() - t0,
            plan.settings(),
        )

    def generate_file(
        self,
        in_path: str | Path,
        out_path: str | Path,
        mix_path: str | Path | None = None,
        *,
        plan: SamplingPlan | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        seed: int = 0,
        progress: bool | Any = False,
        limits: DecodeLimits = DEFAULT_LIMITS,
        on_stage: StageHook | None = None,
    ) -> Generation:
        """Read ``in_path``, write the accompaniment to ``out_path`` (and the mix to ``mix_path``).

        The vocal is decoded straight to the codec's rate and channels (block-wise, within
        ``limits``). Nothing is written when the input cannot be read (AudioError naming it).
        ``on_stage`` hears every one of :data:`~samuel_pl.generation.device.STAGES`.
        """
        out_p = Path(out_path)
        for p in (out_p, mix_path):
            if p is not None and Path(p).suffix.lower() not in AUDIO_EXTENSIONS:
                raise AudioError(f"{p}: unsupported output extension (use .wav, .flac, .ogg)")
        plan = plan or self.sampling_plan(sampler, steps, cfg, spacing)
        with timed(on_stage, "read", self.device):
            vocals, sr = read_audio(in_path, self.sample_rate, self.channels, limits)  # (C, N)
        res = self.generate(
            vocals, sr, plan=plan, seed=seed, progress=progress, return_latent=True,
            on_stage=on_stage,
        )  # fmt: skip
        with timed(on_stage, "write", self.device):
            write_audio(out_p, safe_peak(res.audio), self.sample_rate)
            if mix_path is not None:
                voc = convert_channels(vocals, res.audio.shape[0])  # already at the codec rate
                mixed = mix_tracks(voc[:, : res.audio.shape[-1]], res.audio)
                write_audio(mix_path, mixed, self.sample_rate)
        return res


def _as_audio(vocals: np.ndarray | Tensor) -> np.ndarray:
    """(N,) or (C, N) array/tensor -> float32 (C, N); rejects empty or non-finite input."""
    x = vocals.detach().cpu().numpy() if isinstance(vocals, Tensor) else np.asarray(vocals)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[-1] == 0 or x.shape[0] == 0:
        raise SamuelError(f"vocals must be shaped (C, N) or (N,) with N > 0, got {x.shape}")
    if x.shape[0] > x.shape[1]:
        raise SamuelError(f"vocals look like (N, C) {x.shape}; pass (C, N) (transpose it)")
    if not np.isfinite(x).all():
        raise SamuelError("vocals contain NaN or infinite samples")
    return x


def _progress(progress: bool | Any, total: int) -> tuple[Any, bool]:
    """(bar or None, whether we own it)."""
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="step", desc="sampling", leave=False), True
    if progress:
        return progress, False
    return None, False


__all__ = [
    "PEAK_CEILING",
    "STAGES",
    "Accompanist",
    "Generation",
    "SilentVocalsWarning",
    "resolve_device",
]
