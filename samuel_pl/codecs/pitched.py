"""Pitched full-band codec (``codec.type=pitched``): one latent channel per semitone from the bass
up (``n_mels`` semitones from ``f_min``, e.g. 76 from A1 = 55 Hz to C8 = 4186 Hz), then bands six
to the octave (about one ERB wide at 5 kHz) up to ``f_max`` (0: Nyquist), so the latent keeps
the whole band and a transposition by k semitones is a shift by k channels in the pitched part.

Multi-resolution front end: a semitone at 55 Hz is 3.3 Hz wide, which a 2048-point window at
22.05 kHz (10.8 Hz bins) cannot resolve. Each channel is measured on the shortest Hann window of
the ladder ``n_fft * 2**m`` (m = 0..3) whose main-lobe half-width (2 bins) is at most
:data:`MAINLOBE_FRACTION` of the channel's semitone spacing: with n_fft 2048 at 22.05 kHz that is
16384 points below 151 Hz, 8192 to 301 Hz, 4096 to 603 Hz and 2048 above (one octave per window
length, constant-Q style). All windows share the hop and ``center=True`` framing, so every
resolution is framed like the shortest: ``center=True`` and 75% overlap (hop
``hop_length * window / n_fft``), its band energies interpolated linearly in time to the T =
N // hop + 1 latent frames (a longer window has no finer time detail to keep; this holds the
cost of every window length to that of the shortest). Filters are triangles in log-frequency between
neighbouring centres (a partition of unity; in the semitone part exactly the log codec's
triangles), each scaled by ``n_fft / window`` so a sine reads the same on every window length.

Decoding: per window length, the band's magnitude is the non-negative least-squares inversion of
its channels (projected gradient, as :class:`~samuel_pl.codecs.mel.MelCodec`); the window
lengths are cross-faded by the sum of their own triangles (which sum to 1 across a boundary);
phase is Fast Griffin-Lim on the union of the STFTs (one signal, every window length's magnitude
imposed on its band each iteration). With a vocoder (``codec.vocoder``) its rendition is
refined the same way from its own phase, its magnitude projected onto the latent's bands
(:func:`~samuel_pl.codecs.band_match.match_bands`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from samuel_pl.codecs.band_match import match_bands
from samuel_pl.codecs.base import LatentCodec
from samuel_pl.codecs.fields import (  # noqa: F401 (band_centres: the codec's channel layout)
    PITCHED_CODEC_VERSION,
    SEMITONE,
    band_centres,
)
from samuel_pl.config.schema import CodecConfig
from samuel_pl.errors import SamuelError

LOG_FLOOR = 1e-5
MAINLOBE_FRACTION = 0.6  # window's main-lobe half-width / semitone spacing, at most
MAX_WINDOW_DOUBLINGS = 3  # the longest window is n_fft * 2**3


def triangles(centres: np.ndarray, sr: int, n_fft: int, f_max: float) -> np.ndarray:
    """Triangles in log2-frequency, (M, n_fft // 2 + 1) float64: channel m rises from its lower
    neighbour's centre (one semitone below for m = 0) to 1 at its centre and falls to 0 at the
    upper neighbour's; the top channel stays 1 from its centre to ``f_max``."""
    fft_hz = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)  # (F,)
    logf = np.log2(np.maximum(fft_hz, 1e-9))
    c = np.log2(centres)
    lower = np.concatenate([[c[0] - 1.0 / 12.0], c[:-1]])  # (M,)
    upper = np.concatenate([c[1:], [c[-1] + 1.0]])
    rise = (logf[None, :] - lower[:, None]) / (c - lower)[:, None]  # (M, F)
    fall = (upper[:, None] - logf[None, :]) / (upper - c)[:, None]
    fall[-1] = 1.0  # the top channel's shoulder
    w = np.clip(np.minimum(rise, fall), 0.0, 1.0)
    w[:, fft_hz > f_max] = 0.0
    return w


def window_lengths(
    centres: np.ndarray, semitones: int, sr: int, n_fft: int, doublings: int = MAX_WINDOW_DOUBLINGS
) -> np.ndarray:
    """Analysis window (points) of each channel (M,): the shortest ``n_fft * 2**m`` whose Hann
    main-lobe half-width 2 sr / n is <= MAINLOBE_FRACTION x the semitone spacing at the centre
    (the upper bands use ``n_fft``)."""
    spacing = centres * (SEMITONE - 1.0)
    need = 2.0 * sr / (MAINLOBE_FRACTION * spacing * n_fft)  # window / n_fft needed
    m = np.clip(np.ceil(np.log2(np.maximum(need, 1.0)) - 1e-9), 0, doublings)
    m[semitones:] = 0
    return (n_fft * 2 ** m.astype(np.int64)).astype(np.int64)


class PitchedCodec(LatentCodec):
    """Log band energies (B, M, T) of mono audio, M = ``n_mels`` semitones + upper bands.

    Args:
        sample_rate: codec rate in Hz; hop_length: samples per frame.
        n_mels: semitone channels from ``f_min`` (76 from 55 Hz reach C8 = 4186 Hz).
        n_fft: the shortest analysis window (upper channels); lower ones use up to 8x it.
        f_min: centre of the lowest semitone channel (Hz); f_max: top of the band (0: Nyquist).
        griffin_lim_iters, momentum, nnls_iters, seed: as :class:`MelCodec`.
        vocoder_refine: Griffin-Lim iterations that refine a vocoder's rendition.
        bins_per_octave: must be 12 (one channel per semitone).
        max_doublings: the longest window is ``n_fft * 2**max_doublings`` (ablations only).
    """

    type_name = "pitched"

    def __init__(
        self,
        sample_rate: int = 22050,
        n_mels: int = 76,
        n_fft: int = 2048,
        hop_length: int = 512,
        f_min: float = 55.0,
        f_max: float = 0.0,
        griffin_lim_iters: int = 32,
        momentum: float = 0.99,
        nnls_iters: int = 100,
        seed: int = 0,
        vocoder_refine: int = 8,
        bins_per_octave: int = 12,
        max_doublings: int = MAX_WINDOW_DOUBLINGS,
    ) -> None:
        super().__init__()
        nyq = sample_rate / 2.0
        f_max = float(f_max) if f_max and f_max > 0 else nyq
        top = f_min * SEMITONE ** (n_mels - 1)
        problems = []
        if bins_per_octave != 12:
            problems.append(f"bins_per_octave must be 12 (semitones), got {bins_per_octave}")
        if n_mels < 2 or n_fft < 16 or hop_length < 1 or sample_rate < 1000:
            problems.append("n_mels >= 2, n_fft, hop_length and sample_rate must be positive")
        if hop_length > n_fft:
            problems.append(f"hop_length {hop_length} > n_fft {n_fft} leaves gaps")
        if not 0 < f_min < top < f_max <= nyq:
            problems.append(
                f"need 0 < f_min < top semitone ({top:.0f} Hz) < f_max <= Nyquist, got "
                f"f_min={f_min}, f_max={f_max}"
            )
        if problems:
            raise SamuelError("codec (pitched): " + "; ".join(problems))
        self._sr, self._hop, self.semitones = int(sample_rate), int(hop_length), int(n_mels)
        self.n_fft, self.f_min, self.f_max = int(n_fft), float(f_min), f_max
        self.griffin_lim_iters, self.momentum = int(griffin_lim_iters), float(momentum)
        self.nnls_iters, self.seed = int(nnls_iters), int(seed)
        self.vocoder_refine = int(vocoder_refine)
        self.centres = band_centres(self.f_min, self.semitones, f_max)  # (M,)
        self.windows = window_lengths(
            self.centres, self.semitones, self._sr, self.n_fft, int(max_doublings)
        )
        self.groups: list[tuple[int, int, int]] = []  # (window, first channel, end channel)
        for n in sorted(set(self.windows.tolist()), reverse=True):  # long windows = low channels
            idx = np.flatnonzero(self.windows == n)
            self.groups.append((int(n), int(idx[0]), int(idx[-1]) + 1))
        self.strides = [n // self.n_fft for n, _, _ in self.groups]  # latent frames per hop
        self.bands: list[tuple[int, int]] = []  # FFT bins each group's filters cover
        self.nnls_steps: list[float] = []
        for i, (n, a, b) in enumerate(self.groups):
            tri = triangles(self.centres, self._sr, n, f_max)  # (M, F_n)
            basis = tri[a:b] * (self.n_fft / n)  # a sine reads the same on every window
            covered = np.flatnonzero(basis.any(axis=0))
            lo, hi = int(covered[0]), int(covered[-1]) + 1
            self.bands.append((lo, hi))
            gram = basis[:, lo:hi] @ basis[:, lo:hi].T
            self.nnls_steps.append(1.0 / float(np.linalg.eigvalsh(gram).max()))
            pinv = np.linalg.pinv(basis[:, lo:hi])  # (F', M_g)
            self.register_buffer(f"basis{i}", torch.from_numpy(basis[:, lo:hi]).float(), False)
            self.register_buffer(f"pinv{i}", torch.from_numpy(pinv).float(), False)
            # cross-fade of this window length: its own triangles (sum to 1 across boundaries)
            fade = torch.from_numpy(tri[a:b].sum(axis=0)).float()  # (F_n,)
            self.register_buffer(f"fade{i}", fade, persistent=False)
            self.register_buffer(f"window{i}", torch.hann_window(n), persistent=False)
        self.vocoder: nn.Module | None = None
        self.decoder_note = "Griffin-Lim"  # which decoder and why (set by with_vocoder)
        self.decoder_weights = ""  # the vocoder file's weights_key ("": Griffin-Lim)

    @classmethod
    def from_config(cls, cfg: CodecConfig) -> PitchedCodec:
        """Build from ``cfg.codec`` (type ``pitched``; ``n_mels`` = semitone channels)."""
        return cls(
            sample_rate=cfg.sample_rate,
            n_mels=cfg.n_mels,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            f_min=cfg.f_min,
            f_max=cfg.f_max,
            griffin_lim_iters=cfg.griffin_lim_iters,
            vocoder_refine=cfg.vocoder_refine,
            bins_per_octave=cfg.bins_per_octave,
        ).with_vocoder(cfg.vocoder)

    def with_vocoder(self, path: str | Path | None) -> PitchedCodec:
        """Decode with the vocoder ``path`` names (as :meth:`MelCodec.with_vocoder`)."""
        from samuel_pl.codecs.vocoder import vocoder_for

        device = self._buf("window", 0).device
        decoder = vocoder_for(
            path, self.latent_fields(), "pitched", device, refine=self.vocoder_refine
        )
        self.vocoder, self.decoder_note, self.decoder_weights = (
            decoder.vocoder,
            decoder.note,
            decoder.weights,
        )
        return self

    # -- protocol ------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self._sr

    @property
    def audio_channels(self) -> int:
        return 1

    @property
    def latent_channels(self) -> int:
        return len(self.centres)

    @property
    def hop_length(self) -> int:
        return self._hop

    def latent_fields(self) -> dict[str, Any]:
        return {
            "version": PITCHED_CODEC_VERSION,
            "sample_rate": self._sr,
            "n_mels": self.semitones,
            "n_fft": self.n_fft,
            "hop_length": self._hop,
            "f_min": self.f_min,
            "f_max": self.f_max,
        }

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self._hop + 1

    def num_samples(self, num_frames: int) -> int:
        return max(num_frames - 1, 0) * self._hop

    def _buf(self, name: str, i: int) -> Tensor:
        return getattr(self, f"{name}{i}")  # type: ignore[no-any-return]

    def stft(self, audio: Tensor, i: int) -> Tensor:
        """Complex STFT of window group ``i``: (B, N) -> (B, n // 2 + 1, N // hop + 1)."""
        n, hop = self.groups[i][0], self._hop * self.strides[i]
        return torch.stft(audio, n, hop, window=self._buf("window", i), center=True,
                          pad_mode="constant", return_complex=True)  # fmt: skip

    def istft(self, spec: Tensor, i: int, length: int) -> Tensor:
        """Inverse of :meth:`stft` for group ``i``: (B, F_i, T) -> (B, length)."""
        n, hop = self.groups[i][0], self._hop * self.strides[i]
        return torch.istft(spec, n, hop, window=self._buf("window", i), center=True,
                           length=length)  # fmt: skip

    # -- encode --------------------------------------------------------------------------------
    def to_frames(self, energy: Tensor, i: int, frames: int) -> Tensor:
        """Group ``i``'s band energies on its own hop (B, M_i, T_i) -> linear interpolation at
        the ``frames`` latent frames (B, M_i, frames); latent frame j sits at j / stride."""
        stride = self.strides[i]
        if stride == 1:
            return energy[..., :frames]
        pos = torch.arange(frames, device=energy.device, dtype=torch.float32) / stride
        last = energy.shape[-1] - 1
        i0 = pos.floor().long().clamp(max=last)
        i1 = (i0 + 1).clamp(max=last)
        frac = (pos - i0.float()).clamp(0.0, 1.0)
        return energy[..., i0] * (1.0 - frac) + energy[..., i1] * frac

    def band_energies(self, mags: list[Tensor], frames: int) -> Tensor:
        """Per-group magnitudes [(B, F_i, T_i)] -> linear band energies (B, M, frames)."""
        out = []
        for i, mag in enumerate(mags):
            lo, hi = self.bands[i]
            energy = torch.matmul(self._buf("basis", i), mag[:, lo:hi])  # (B, M_i, T_i)
            out.append(self.to_frames(energy, i, frames))
        return torch.cat(out, dim=1)

    def _encode(self, audio: Tensor) -> Tensor:
        """(B, 1, N) -> log band energies (B, M, N // hop + 1)."""
        mags = [self.stft(audio[:, 0], i).abs() for i in range(len(self.groups))]
        frames = self.num_frames(audio.shape[-1])
        return torch.log(self.band_energies(mags, frames).clamp_min(LOG_FLOOR))

    # -- decode --------------------------------------------------------------------------------
    def group_targets(self, latent: Tensor, i: int) -> Tensor:
        """Linear band energies of group ``i`` on its own hop: (B, M, T) -> (B, M_i, T_i), the
        latent frames its frames sit on (T_i = (T - 1) * hop // its hop + 1)."""
        _, a, c = self.groups[i]
        stride = self.strides[i]
        return torch.exp(latent[:, a:c, ::stride].float())

    def magnitudes(self, latent: Tensor) -> list[Tensor]:
        """Log band energies (B, M, T) -> each group's non-negative magnitude (B, F_i, T_i), the
        NNLS inversion of its channels (projected gradient from the clamped pseudo-inverse)."""
        out = []
        for i, (n, _, _) in enumerate(self.groups):
            lo, hi = self.bands[i]
            energy = self.group_targets(latent, i)  # (B, M_i, T_i)
            b, m, t = energy.shape
            mel = energy.permute(1, 0, 2).reshape(m, b * t)
            basis, step = self._buf("basis", i), self.nnls_steps[i]
            mag = torch.matmul(self._buf("pinv", i), mel).clamp_min(0.0)  # (F', B*T_i)
            for _ in range(self.nnls_iters):
                mag = (mag - step * basis.t() @ (basis @ mag - mel)).clamp_min(0.0)
            full = mel.new_zeros(b, n // 2 + 1, t)
            full[:, lo:hi] = mag.reshape(hi - lo, b, t).permute(1, 0, 2)
            out.append(full)
        return out

    def griffin_lim(
        self,
        mags: list[Tensor],
        length: int,
        n_iter: int | None = None,
        phases: list[Tensor] | None = None,
    ) -> Tensor:
        """Fast Griffin-Lim on the union of the window lengths: per-group magnitudes
        [(B, F_i, T_i)] -> audio (B, length). Each iteration synthesises one signal as the sum
        of every group's cross-faded magnitude with its current phase, then re-analyses it with
        every window (momentum ``self.momentum``). ``phases``: start phasors per group."""
        n_iter = self.griffin_lim_iters if n_iter is None else int(n_iter)
        if length < self._hop:
            return mags[0].new_zeros(mags[0].shape[0], length)
        target = [m * self._buf("fade", i)[:, None] for i, m in enumerate(mags)]
        if phases is None:
            gen = torch.Generator().manual_seed(self.seed)
            phases = []
            for m in mags:
                ph = torch.rand(m.shape[-2], m.shape[-1], generator=gen) * (2 * math.pi)
                phases.append(torch.polar(torch.ones_like(ph), ph).to(m.device))
        t = [a * p for a, p in zip(target, phases, strict=True)]
        prev: list[Tensor] | None = None

        def synth(specs: list[Tensor]) -> Tensor:
            parts = [self.istft(a * torch.sgn(s), i, length) for i, (a, s) in
                     enumerate(zip(target, specs, strict=True))]  # fmt: skip
            return torch.stack(parts).sum(0)

        for _ in range(n_iter):
            x = synth(t)
            c = [self.stft(x, i) for i in range(len(self.groups))]
            t = c if prev is None else [
                ci + self.momentum * (ci - pi) for ci, pi in zip(c, prev, strict=True)
            ]  # fmt: skip
            prev = c
        return synth(t)

    def refine(self, latent: Tensor, audio: Tensor, n_iter: int) -> Tensor:
        """Griffin-Lim from a vocoder's rendition (B, N): each group's magnitude is the
        rendition's own, projected onto the latent's bands (:func:`match_bands`); start phase
        the rendition's. Returns (B, N)."""
        specs = [self.stft(audio, i) for i in range(len(self.groups))]
        mags = []
        for i in range(len(self.groups)):
            lo, hi = self.bands[i]
            mag = specs[i].abs()
            target = self.group_targets(latent, i)[..., : mag.shape[-1]]  # (B, M_i, T_i)
            mag[:, lo:hi] = match_bands(mag[:, lo:hi], self._buf("basis", i), target)
            mags.append(mag)
        phases = [torch.sgn(s) for s in specs]
        return self.griffin_lim(mags, audio.shape[-1], n_iter, phases=phases)

    @torch.no_grad()
    def decode(self, latent: Tensor, n_iter: int | None = None) -> Tensor:
        """Log band energies (B, M, T) -> mono audio (B, 1, (T - 1) * hop): by the vocoder when
        one is set and ``n_iter`` is None (refined by ``vocoder_refine`` iterations), else by
        ``n_iter`` (default ``griffin_lim_iters``) Griffin-Lim iterations."""
        if latent.dim() != 3 or latent.shape[1] != self.latent_channels:
            raise ValueError(
                f"decode expects (B, {self.latent_channels}, T), got {tuple(latent.shape)}"
            )
        if self.vocoder is not None and n_iter is None:
            from samuel_pl.codecs.vocoder import vocode

            return vocode(self.vocoder, latent, self.refine, self.vocoder_refine)  # (B, 1, N)
        length = self.num_samples(latent.shape[-1])
        return self.griffin_lim(self.magnitudes(latent), length, n_iter).unsqueeze(1)
