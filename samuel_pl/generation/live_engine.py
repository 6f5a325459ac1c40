"""Live accompaniment: a causal, chunk-by-chunk engine over a growing vocal stream.

Timeline (latent frames of ``hop`` samples). Chunk ``k`` owns the accompaniment frames
``[a, b) = [k H, (k + 1) H)``. It is computed once the vocal audio up to frame ``b + A`` (the
lookahead ``A``) and the codec's analysis half-window (``P`` frames) have arrived, and it depends on
nothing later: the condition frames from ``b + A`` on are the network's learned null condition
(what ``diffusion.future_mask_prob`` trains the model to expect). The model sees a window of
``W`` frames ending ``F`` frames (``future``) after ``b + A``; the accompaniment frames before
``a`` are already out, so they are *known* (inpainted with weight 1,
:class:`~samuel_pl.diffusion.guidance.InpaintDenoiser`): the new frames continue them and nothing
already played changes.

Decoding: only frames ``[a - C, b)`` are decoded (``C`` frames of decoder context); the mel
codec's Griffin-Lim starts its context frames from the phase of the audio already decoded, and
the chunk's audio is emitted ``M`` samples early-cut (``[a hop - M, b hop - M)``) so every emitted
sample has full STFT support; its first ``M - hop`` samples are crossfaded with the previous
decode's tail. :class:`~samuel_pl.generation.live_stream.LiveStream` drives the engine in real
time (threads, bounded queues, deadlines, underruns); the CLI and the web demo both use it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from samuel_pl.codecs import build_codec
from samuel_pl.codecs.base import LatentCodec
from samuel_pl.codecs.mel import MelCodec
from samuel_pl.diffusion import CFGDenoiser, InpaintDenoiser
from samuel_pl.errors import SamuelError
from samuel_pl.lit import LitSamuel


@dataclass(frozen=True)
class LiveConfig:
    """What a live stream is asked to hold (seconds unless said otherwise)."""

    latency: float = 1.5
    """Play-out delay: the accompaniment of vocal sample ``t`` is heard at ``t + latency``."""
    lookahead: float = 0.2
    """Vocal audio after a chunk's end that the chunk may depend on."""
    chunk: float = 0.0
    """Accompaniment per chunk (0: half of what the latency leaves after lookahead and margins)."""
    future: float = 0.0
    """Null-conditioned frames after the lookahead that the model's window also covers."""
    sampler: str | None = None
    steps: int | None = None
    cfg: float | None = None
    """Sampler settings (None: the checkpoint's ``sampling``)."""
    seed: int = 0


@dataclass
class Chunk:
    """One emitted piece of accompaniment."""

    index: int
    start: int
    """First output sample (at the codec rate) this chunk's ``audio`` covers."""
    audio: np.ndarray
    """(N,) float32 mono accompaniment for samples ``[start, start + N)``."""
    needed: int
    """Vocal samples that had to arrive before the chunk could be computed."""
    seconds: dict[str, float]
    """Wall-clock seconds of encode, sample and decode."""
    skipped: bool = False
    """True: not computed (the stream was behind); ``audio`` is silence."""


class LiveEngine:
    """The causal chunk generator (no clock, no threads: see ``live_stream.LiveStream``).

    Args:
        module: a trained :class:`LitSamuel` (its EMA network samples).
        codec: the checkpoint's codec (``build_codec(module.cfg.codec)``), on ``device``.
        config: :class:`LiveConfig`.
        device: where the network and codec run.
    """

    def __init__(
        self,
        module: LitSamuel,
        codec: LatentCodec,
        config: LiveConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.module, self.codec, self.device = module, codec, torch.device(device)
        self.config = cfg = config or LiveConfig()
        self.net = module.ema.module
        self.sr, self.hop = int(codec.sample_rate), int(codec.hop_length)
        fps = self.sr / self.hop
        mult = int(module.model.time_multiple)
        self.window = math.ceil(int(module.cfg.data.crop_frames) / mult) * mult  # W
        n_fft = int(getattr(codec, "n_fft", 4 * self.hop))
        self.enc_ctx = math.ceil(n_fft / 2 / self.hop)  # P: analysis half-window in frames
        self.margin = (self.enc_ctx + 1) * self.hop  # M: decoder margin in samples
        self.fade = self.margin - self.hop  # crossfade samples (the previous decode's tail)
        self.dec_ctx = self.enc_ctx + 6  # C: decoder context frames
        self.lookahead = max(0, round(cfg.lookahead * fps))  # A
        self.future = max(0, round(cfg.future * fps))  # F
        fixed = (self.lookahead + self.enc_ctx) / fps + self.margin / self.sr
        if not (math.isfinite(cfg.latency) and cfg.latency > fixed + 1.0 / fps):
            raise SamuelError(
                f"latency {cfg.latency:g} s is too short: lookahead and codec margins alone take "
                f"{fixed:.3f} s (lower --lookahead or raise --latency)"
            )
        chunk = cfg.chunk if cfg.chunk > 0 else (cfg.latency - fixed) / 2
        self.chunk = max(1, int(chunk * fps))  # H
        if cfg.chunk <= 0:  # auto: also within the window, which holds the lookahead and future
            self.chunk = max(1, min(self.chunk, self.window - self.lookahead - self.future))
        if self.chunk + self.lookahead + self.future > self.window:
            raise SamuelError(
                f"chunk + lookahead + future = {self.chunk + self.lookahead + self.future} frames "
                f"exceed the model's window of {self.window} frames; shorten them"
            )
        self.plan = module.sampling_plan(cfg.sampler, cfg.steps, cfg.cfg)  # checked once
        self.scale = float(self.plan.cfg)
        self.generator = torch.Generator().manual_seed(int(cfg.seed))
        self.reset()

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        config: LiveConfig | None = None,
        device: str | torch.device = "cpu",
        vocoder: str | Path | None = None,
    ) -> LiveEngine:
        """Load a ``LitSamuel`` checkpoint and its codec (``vocoder``: as ``generate``'s)."""
        module = LitSamuel.from_checkpoint(path).to(device).eval()
        codec = build_codec(module.cfg.codec)
        if vocoder is not None and isinstance(codec, MelCodec):
            codec.with_vocoder(None if str(vocoder) in ("", "none") else vocoder)
        return cls(module, codec.to(device).eval(), config, device)

    # ----- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream (a new take starts at sample 0)."""
        self.audio = np.zeros(0, np.float32)  # vocal samples from global sample ``audio_at``
        self.audio_at = 0
        self.received = 0
        self.closed = False
        c = int(self.module.latent_mean.numel())
        self.latent = torch.zeros(1, c, 0, device=self.device)  # normalised, frames from lat_at
        self.known = torch.zeros(0, dtype=torch.bool)
        self.lat_at = 0
        self.next_index = 0
        self.emitted = 0  # output samples emitted so far
        self.tail: np.ndarray | None = None  # previous decode after ``emitted`` (crossfade)
        self.prev: tuple[int, Tensor] | None = None  # (first frame, audio) of the last decode

    def push(self, samples: np.ndarray) -> None:
        """Append (N,) mono float32 vocal samples at the codec rate."""
        if self.closed:
            raise SamuelError("the live stream is closed; start a new one")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not np.isfinite(x).all():
            raise SamuelError("live vocal samples contain NaN or infinite values")
        self.audio = np.concatenate([self.audio, x])
        self.received += x.size

    def close(self) -> None:
        """No more audio: the remaining chunks may be computed (the future is silence)."""
        self.closed = True

    def warmup(self) -> LiveEngine:
        """Run one chunk on silence and forget it (the first real chunk is then not slower:
        allocator, kernels and sparse mel basis are ready). Returns self."""
        self.push(np.zeros(self.needed(), np.float32))
        self.step()
        self.reset()
        self.generator.manual_seed(int(self.config.seed))
        return self

    @property
    def frame_rate(self) -> float:
        """Latent frames per second."""
        return self.sr / self.hop

    @property
    def frames(self) -> tuple[int, int]:
        """(a, b): the frames the next chunk owns."""
        k = self.next_index
        return k * self.chunk, (k + 1) * self.chunk

    def needed(self) -> int:
        """Vocal samples the next chunk waits for."""
        _, b = self.frames
        return (b + self.lookahead + self.enc_ctx) * self.hop

    @property
    def done(self) -> bool:
        """Closed and every received sample has its accompaniment out."""
        return self.closed and self.emitted >= self.received

    def ready(self) -> bool:
        """Whether the next chunk can be computed now."""
        return not self.done and (self.closed or self.received >= self.needed())

    def span(self) -> tuple[int, int]:
        """Output samples ``[start, end)`` the next chunk emits."""
        _, b = self.frames
        end = b * self.hop - self.margin
        if self.closed:
            end = min(end, self.received)
        return self.emitted, max(end, self.emitted)

    # ----- one chunk ---------------------------------------------------------------------------
    def skip(self) -> Chunk:
        """Emit the next chunk as silence without computing it (the stream fell behind)."""
        a, b = self.frames
        start, end = self.span()
        self._store(a, torch.zeros(1, self.latent.shape[1], b - a, device=self.device), False)
        self.tail, self.prev = None, None
        return self._emit(np.zeros(end - start, np.float32), {}, skipped=True)

    @torch.inference_mode()
    def step(self) -> Chunk:
        """Compute, decode and emit the next chunk (call when :meth:`ready`)."""
        if not self.ready():
            raise SamuelError("the next live chunk's audio has not arrived yet")
        a, b = self.frames
        w = self.window
        seen = b + self.lookahead  # condition frames [.., seen) are the vocal's; later: null
        s = max(0, seen + self.future - w)
        t0 = time.perf_counter()
        cond = self._condition(s, seen)  # (1, C, W)
        t1 = time.perf_counter()
        fn = self.plan.wrap(CFGDenoiser(self.net, cond, self.scale), self.module.schedule)
        x0_known, weight = self._known(s, a)
        model_fn = InpaintDenoiser(fn, self.module.schedule, x0_known, weight) if a > s else fn
        x_t = torch.randn(cond.shape, generator=self.generator).to(cond)
        x0 = self.plan.run(model_fn, x_t, self.module.schedule, generator=self.generator)
        self._store(a, x0[..., a - s : b - s], True)
        t2 = time.perf_counter()
        audio = self._decode(a, b)
        t3 = time.perf_counter()
        return self._emit(audio, {"encode": t1 - t0, "sample": t2 - t1, "decode": t3 - t2})

    def _condition(self, s: int, seen: int) -> Tensor:
        """(1, C, W) normalised vocal latent of frames [s, s + W), null from ``seen`` on."""
        p, hop = self.enc_ctx, self.hop
        lo, hi = (s - p) * hop, (seen + p) * hop  # global samples the frames depend on
        seg = np.zeros(hi - lo, np.float32)
        src_lo, src_hi = max(lo, self.audio_at), min(hi, self.audio_at + self.audio.size)
        if src_hi > src_lo:
            seg[src_lo - lo : src_hi - lo] = self.audio[
                src_lo - self.audio_at : src_hi - self.audio_at
            ]
        x = torch.from_numpy(seg)[None, None].to(self.device)  # (1, 1, n)
        z = self.module.normalize(self.codec.encode(x, self.sr).float())[..., p : p + seen - s]
        null = self.net.null_cond.detach().to(z)[None, :, None]  # (1, C, 1)
        cond = null.expand(1, z.shape[1], self.window).clone()
        cond[..., : z.shape[-1]] = z
        return cond

    def _known(self, s: int, a: int) -> tuple[Tensor, Tensor]:
        """(1, C, W) known latent and (W,) weight: 1 on the frames [s, a) already out."""
        x0 = torch.zeros(1, self.latent.shape[1], self.window, device=self.device)
        weight = torch.zeros(self.window, device=self.device)
        if a > s:
            i0 = s - self.lat_at
            x0[..., : a - s] = self.latent[..., i0 : i0 + a - s]
            weight[: a - s] = self.known[i0 : i0 + a - s].float().to(self.device)
        return x0, weight

    def _store(self, a: int, z: Tensor, known: bool) -> None:
        """Append frames [a, a + n) to the latent buffer; drop what no window will read again."""
        self.latent = torch.cat([self.latent, z.to(self.latent)], dim=-1)
        self.known = torch.cat([self.known, torch.full((z.shape[-1],), known)])
        keep_from = max(0, a + z.shape[-1] - self.window - self.dec_ctx)
        if keep_from > self.lat_at:
            cut = keep_from - self.lat_at
            self.latent, self.known = self.latent[..., cut:], self.known[cut:]
            self.lat_at = keep_from

    def _decode(self, a: int, b: int) -> np.ndarray:
        """Decode frames [max(0, a - C), b); (N,) samples from ``emitted`` to the span's end."""
        f0 = max(0, a - self.dec_ctx, self.lat_at)
        z = self.module.denormalize(self.latent[..., f0 - self.lat_at : b - self.lat_at])
        codec = self.codec
        if isinstance(codec, MelCodec) and codec.vocoder is None:
            mag = codec.mel_to_magnitude(z)  # (1, F, n)
            phase = codec.initial_phase(mag.shape[-1], mag.device)[None].clone()  # (1, F, n)
            if self.prev is not None:  # continue the phase of the audio already decoded
                p0, prev = self.prev
                spec = codec.stft(prev)  # (1, F, n_prev) for frames p0..
                edge = spec.shape[-1] - 1 - self.enc_ctx  # later frames lack full STFT support
                j0, j1 = f0 - p0, min(edge, f0 - p0 + mag.shape[-1])
                if j1 > j0 >= 0:
                    phase[..., : j1 - j0] = torch.sgn(spec[..., j0:j1])
            wav = codec.griffin_lim(mag, phase=phase)  # (1, (n - 1) hop)
        else:
            wav = codec.decode(z)[:, 0].float()  # (1, N)
        self.prev = (f0, wav)
        start, end = self.span()
        g0 = f0 * self.hop  # global sample of wav[0]
        out = np.zeros(end - start, np.float32)
        piece = wav[0, start - g0 : end - g0].cpu().numpy()
        out[: piece.size] = piece
        if self.tail is not None and self.tail.size:  # crossfade with the previous decode's tail
            n = min(self.tail.size, out.size)
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
            out[:n] = ramp * out[:n] + (1.0 - ramp) * self.tail[:n]
        self.tail = wav[0, end - g0 : end - g0 + self.fade].cpu().numpy()
        return out

    def _emit(self, audio: np.ndarray, seconds: dict[str, float], skipped: bool = False) -> Chunk:
        start, _ = self.span()
        chunk = Chunk(self.next_index, start, audio, self.needed(), seconds, skipped)
        self.emitted = start + audio.size
        self.next_index += 1
        keep = max(0, (self.frames[0] - self.window - self.enc_ctx - 1) * self.hop)  # audio left
        if keep > self.audio_at:
            self.audio = self.audio[keep - self.audio_at :]
            self.audio_at = keep
        return chunk


__all__ = ["Chunk", "LiveConfig", "LiveEngine"]
