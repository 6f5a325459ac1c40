"""Accompanist: checkpoint + codec + sampler -> an accompaniment for vocals of any length."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from samuel_pl.diffusion import CFGDenoiser, sampler_timesteps
from samuel_pl.errors import AudioError, SamuelError
from samuel_pl.generation.mix import PEAK_CEILING, mix_tracks, safe_peak
from samuel_pl.generation.windows import ModelFn, WindowPlan, plan_clip, sample_windows
from samuel_pl.lit import LitSamuel

SILENCE_PEAK = 1e-4  # -80 dBFS: quieter vocals count as silent
DEVICES = ("auto", "cpu", "cuda", "mps")
STAGES = ("read", "encode", "sample", "decode", "write")
"""The stages :attr:`Accompanist.stage_hook` reports (read and write: generate_file only)."""
StageHook = Callable[[str, float], None]


class SilentVocalsWarning(UserWarning):
    """The vocal input is silent: the accompaniment is generated without a real condition."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an unavailable device is a SamuelError."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise SamuelError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise SamuelError("device cuda requested but no CUDA GPU is available (use --device cpu)")
    if kind == "mps" and not (torch.backends.mps.is_available()):
        raise SamuelError("device mps requested but Apple MPS is not available (use --device cpu)")
    return torch.device(name)


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

    sampler: str | None
    steps: int | None
    cfg: float | None
    spacing: str | None
    seed: int
    progress: bool | Any


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

    stage_hook: StageHook | None = None
    """``hook(stage, seconds)`` after each of :data:`STAGES` (CUDA synchronised), for
    benchmarks/generate_e2e.py; None (the default): nothing is timed."""

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
        self.codec = build_codec(self.cfg.codec)
        with_vocoder = getattr(self.codec, "with_vocoder", None)  # mel, pitched
        if vocoder is not None and callable(with_vocoder):
            with_vocoder(None if str(vocoder) in ("", "none") else vocoder)
        elif vocoder is not None and str(vocoder) not in ("", "none"):
            raise SamuelError(f"a vocoder decodes the mel codec, not {self.cfg.codec.type}")
        self.codec = self.codec.to(self.device).eval()
        mult = int(module.model.time_multiple)
        w = int(self.cfg.sampling.window or self.cfg.data.crop_frames if window is None else window)
        if w < 1:
            raise SamuelError(f"window must be >= 1 frame, got {w}")
        self.window = math.ceil(w / mult) * mult
        self.overlap = self.window // 4 if overlap is None else int(overlap)
        if not 0 <= self.overlap < self.window:
            raise SamuelError(f"overlap must be in [0, {self.window}), got {self.overlap}")
        self.crossfade = self.overlap // 2 if crossfade is None else int(crossfade)
        if not 0 <= self.crossfade <= self.overlap:
            raise SamuelError(f"crossfade must be in [0, overlap={self.overlap}]")

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

    def settings(
        self,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
    ) -> dict[str, Any]:
        """Sampler settings: the overrides, else the checkpoint's ``cfg.sampling`` (``steps`` is
        what runs: the training steps for ancestral)."""
        s = self.cfg.sampling
        name, grid = sampler or s.sampler, spacing or s.spacing
        n = int(steps or s.steps)
        if n < 1:
            raise SamuelError(f"steps must be >= 1, got {n}")
        scale = float(s.cfg if cfg is None else cfg)
        if not (math.isfinite(scale) and scale >= 0):
            raise SamuelError(f"cfg must be a finite number >= 0, got {scale}")
        n = len(sampler_timesteps(name, self.module.schedule, n, grid))
        return {"sampler": name, "steps": n, "cfg": scale, "spacing": grid}

    def num_steps(self, num_samples: int, sample_rate: int, **settings: Any) -> int:
        """Sampler steps a call will run (windows x steps): the progress bar's total."""
        frames = self._frames_needed(round(num_samples * self.sample_rate / sample_rate))
        return len(self.plan(frames).starts) * self.settings(**settings)["steps"]

    def plan(self, frames: int) -> WindowPlan:
        """Windows for ``frames`` latent frames (windows.plan_clip)."""
        mult, crop = int(self.module.model.time_multiple), int(self.cfg.data.crop_frames)
        return plan_clip(frames, self.window, self.overlap, self.crossfade, crop, mult)

    # ----- generation --------------------------------------------------------------------------
    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Time the enclosed stage for :attr:`stage_hook`; nothing when it is None."""
        hook = self.stage_hook
        if hook is None:
            yield
            return
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(self.device)
        t0 = time.perf_counter()
        yield
        if cuda:
            torch.cuda.synchronize(self.device)
        hook(name, time.perf_counter() - t0)

    def _frames_needed(self, n_out: int) -> int:
        """Smallest T whose decoded length covers ``n_out`` samples."""
        t = max(1, self.codec.num_frames(n_out))
        while self.codec.num_samples(t) < n_out:
            t += 1
        return t

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
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        seed: int = 0,
        progress: bool | Any = False,
        return_latent: bool = False,
    ) -> np.ndarray | Generation:
        """Accompaniment for ``vocals`` (C, N) or (N,) at ``sample_rate``.

        Returns (C_out, round(N * self.sample_rate / sample_rate)) float32 audio at
        ``self.sample_rate`` (C_out = 1 for the mel codec), or a :class:`Generation` with the
        latent and the window plan when ``return_latent``. ``progress`` is True for a tqdm bar
        or a tqdm-like object with ``update(n)``.
        """
        t0 = time.perf_counter()
        settings = self.settings(sampler, steps, cfg, spacing)
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
        with self._stage("encode"):
            at_rate = resample(audio, int(sample_rate), self.sample_rate)[:, :n_out]  # (C, n_out)
            frames = self._frames_needed(n_out)
            plan = self.plan(frames)
            cond = self.module.normalize(self._encode(at_rate, plan.total))  # (1, latent, total)

        gen = torch.Generator().manual_seed(int(seed))
        dev_gen = None
        if self.device.type != "cpu":
            dev_gen = torch.Generator(self.device).manual_seed(int(seed) + 1)
        bar, own_bar = _progress(progress, len(plan.starts) * settings["steps"])
        try:
            with self._stage("sample"):
                z = sample_windows(
                    self._guided(settings["cfg"]),
                    cond.float(),
                    plan,
                    self.module.schedule,
                    sampler=settings["sampler"],
                    steps=settings["steps"],
                    generator=gen,
                    noise_generator=dev_gen,
                    eta=self.cfg.sampling.eta,
                    spacing=settings["spacing"],
                    on_step=(lambda k, i: bar.update(1)) if bar is not None else None,
                )
        finally:
            if own_bar and bar is not None:
                bar.close()
        latent = z[..., : plan.frames]  # (1, latent, frames) normalised
        with self._stage("decode"):
            wav = self.codec.decode(self.module.denormalize(latent)).float().cpu().numpy()[0]
            if wav.shape[-1] < n_out:
                wav = np.pad(wav, ((0, 0), (0, n_out - wav.shape[-1])))
            wav = np.ascontiguousarray(wav[:, :n_out], dtype=np.float32)  # (C_out, n_out)
        if not return_latent:
            return wav
        return Generation(
            wav,
            latent[0].float().cpu().numpy(),
            plan,
            self.sample_rate,
            time.perf_counter() - t0,
            settings,
        )

    def generate_file(
        self,
        in_path: str | Path,
        out_path: str | Path,
        mix_path: str | Path | None = None,
        *,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        seed: int = 0,
        progress: bool | Any = False,
        limits: DecodeLimits = DEFAULT_LIMITS,
    ) -> Generation:
        """Read ``in_path``, write the accompaniment to ``out_path`` (and the mix to ``mix_path``).

        The vocal is decoded straight to the codec's rate and channels (block-wise, within
        ``limits``). Nothing is written when the input cannot be read (AudioError naming it).
        """
        out_p = Path(out_path)
        for p in (out_p, mix_path):
            if p is not None and Path(p).suffix.lower() not in AUDIO_EXTENSIONS:
                raise AudioError(f"{p}: unsupported output extension (use .wav, .flac, .ogg)")
        with self._stage("read"):
            vocals, sr = read_audio(in_path, self.sample_rate, self.channels, limits)  # (C, N)
        res = self.generate(
            vocals,
            sr,
            sampler=sampler,
            steps=steps,
            cfg=cfg,
            spacing=spacing,
            seed=seed,
            progress=progress,
            return_latent=True,
        )
        with self._stage("write"):
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


__all__ = ["PEAK_CEILING", "Accompanist", "Generation", "SilentVocalsWarning", "resolve_device"]
