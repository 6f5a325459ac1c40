"""Weight-free log-mel codec: latents are log-mel magnitudes (n_mels, T); decoding inverts the mel
filterbank by non-negative least squares and recovers phase with Fast Griffin-Lim
(Perraudin, Balazs & Sondergaard 2013, "A fast Griffin-Lim algorithm", momentum alpha = 0.99).

Conventions (documented, tested):
- STFT: periodic Hann window, ``center=True`` with zero padding, so N samples give
  T = N // hop_length + 1 frames.
- ``decode`` of T frames returns (T - 1) * hop_length samples, so encode(decode(z)) has T frames.
- Audio is mono: ``encode`` averages channels, ``decode`` returns one channel.
- Latent = log(clamp(filterbank @ |STFT|, 1e-5)). ``scale="mel"``: Slaney mel scale and area
  normalisation (same filters as ``librosa.filters.mel(htk=False, norm="slaney")``).
  ``scale="log"``: triangles equally spaced in log-frequency, ``bins_per_octave`` per octave from
  ``f_min`` (peak weight 1). With 12 bins per octave every bin is one semitone, so a transposition
  by k semitones is a shift of the latent by k channels (the basis of ``data.pitch_shift``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from samuel_pl.codecs.band_match import match_bands
from samuel_pl.codecs.base import LatentCodec
from samuel_pl.codecs.fields import mel_f_max, mel_identity
from samuel_pl.config.schema import CodecConfig
from samuel_pl.errors import SamuelError

LOG_FLOOR = 1e-5


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3.0, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    mel = hz / f_sp
    high = hz >= min_log_hz
    mel[high] = min_log_mel + np.log(hz[high] / min_log_hz) / logstep
    return mel


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3.0, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    hz = mel * f_sp
    high = mel >= min_log_mel
    hz[high] = min_log_hz * np.exp(logstep * (mel[high] - min_log_mel))
    return hz


def mel_filterbank(sr: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular Slaney-normalised mel filters, shape (n_mels, n_fft // 2 + 1), float32."""
    fft_hz = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)  # (F,)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array([f_min]))[0], hz_to_mel(np.array([f_max]))[0], n_mels + 2)
    )  # (M + 2,)
    widths = np.diff(edges)  # (M + 1,)
    ramps = edges[:, None] - fft_hz[None, :]  # (M + 2, F)
    lower = -ramps[:-2] / widths[:-1, None]  # (M, F)
    upper = ramps[2:] / widths[1:, None]  # (M, F)
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney area normalisation
    return weights.astype(np.float32)


def log_filterbank(
    sr: int, n_fft: int, n_bins: int, f_min: float, bins_per_octave: int
) -> np.ndarray:
    """Triangles equally spaced in log2-frequency, shape (n_bins, n_fft // 2 + 1), float32.

    Bin m is centred on ``f_min * 2 ** (m / bins_per_octave)`` and falls linearly in
    log-frequency to 0 at the neighbouring centres: w = max(0, 1 - |log2(f / c_m)| * bpo).
    """
    fft_hz = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)  # (F,)
    centres = f_min * 2.0 ** (np.arange(n_bins) / bins_per_octave)  # (M,)
    with np.errstate(divide="ignore"):
        octaves = np.log2(np.maximum(fft_hz, 1e-9)[None, :] / centres[:, None])  # (M, F)
    return np.maximum(0.0, 1.0 - np.abs(octaves) * bins_per_octave).astype(np.float32)


def spectral_convergence(reference: Tensor, estimate: Tensor) -> Tensor:
    """||reference - estimate||_F / ||reference||_F per batch item; inputs (B, F, T) -> (B,)."""
    num = (reference - estimate).flatten(1).norm(dim=1)
    return num / reference.flatten(1).norm(dim=1).clamp_min(1e-12)


class MelCodec(LatentCodec):
    """Log-mel "latents" (B, n_mels, T) of mono audio; weight-free, exact to reproduce.

    Args:
        sample_rate: codec rate in Hz (audio is resampled to it by ``encode``).
        n_mels: mel bins = latent channels.
        n_fft: STFT size (Hann window of the same length).
        hop_length: samples per frame.
        f_min, f_max: filterbank range in Hz (``f_max <= 0`` means Nyquist).
        griffin_lim_iters: Fast Griffin-Lim iterations in ``decode``.
        momentum: Fast Griffin-Lim momentum alpha (0 gives plain Griffin-Lim).
        nnls_iters: projected-gradient iterations for the non-negative mel inversion.
        seed: seed of the initial random phase (decode is deterministic).
        scale: filter spacing, "mel" (Slaney) or "log" (``bins_per_octave`` from ``f_min``).
        bins_per_octave: log scale only; 12 gives one bin per semitone.
        vocoder_refine: Griffin-Lim iterations that refine a vocoder's rendition (:meth:`refine`).
    """

    type_name = "mel"

    def __init__(
        self,
        sample_rate: int = 22050,
        n_mels: int = 64,
        n_fft: int = 2048,
        hop_length: int = 512,
        f_min: float = 30.0,
        f_max: float = 0.0,
        griffin_lim_iters: int = 32,
        momentum: float = 0.99,
        nnls_iters: int = 100,
        seed: int = 0,
        scale: str = "mel",
        bins_per_octave: int = 12,
        vocoder_refine: int = 8,
    ) -> None:
        super().__init__()
        self.config = CodecConfig(
            type="mel",
            sample_rate=int(sample_rate),
            n_mels=int(n_mels),
            n_fft=int(n_fft),
            hop_length=int(hop_length),
            f_min=float(f_min),
            f_max=float(f_max),
            scale=scale,
            bins_per_octave=int(bins_per_octave),
        )
        f_max = mel_f_max(self.config)  # log scale: the top centre; 0: Nyquist
        problems = []
        if scale not in ("mel", "log"):
            problems.append(f"scale must be mel or log, got {scale!r}")
        if scale == "log":
            if bins_per_octave < 1 or f_min <= 0:
                problems.append("log scale needs bins_per_octave >= 1 and f_min > 0")
            elif f_min * 2.0 ** (1.0 / bins_per_octave) - f_min < sample_rate / n_fft / 2:
                problems.append(
                    f"log scale: bins at f_min={f_min} Hz are narrower than half an FFT bin "
                    f"({sample_rate / n_fft:.1f} Hz); raise f_min or n_fft"
                )
        if n_mels < 1 or n_fft < 16 or hop_length < 1 or sample_rate < 1000:
            problems.append("n_mels, n_fft, hop_length and sample_rate must be positive")
        if hop_length > n_fft:
            problems.append(f"hop_length {hop_length} > n_fft {n_fft} leaves gaps")
        if not 0 <= f_min < f_max <= sample_rate / 2:
            problems.append(f"need 0 <= f_min < f_max <= Nyquist, got {f_min}, {f_max}")
        if problems:
            raise SamuelError("codec: " + "; ".join(problems))
        self._sr, self._n_mels, self._hop = int(sample_rate), int(n_mels), int(hop_length)
        self.n_fft, self.f_min, self.f_max = int(n_fft), float(f_min), f_max
        self.griffin_lim_iters, self.momentum = int(griffin_lim_iters), float(momentum)
        self.nnls_iters, self.seed = int(nnls_iters), int(seed)
        self.vocoder_refine = int(vocoder_refine)
        self.scale, self.bins_per_octave = scale, int(bins_per_octave)
        if scale == "log":
            basis = log_filterbank(self._sr, self.n_fft, self._n_mels, f_min, bins_per_octave)
        else:
            basis = mel_filterbank(self._sr, self.n_fft, self._n_mels, f_min, f_max)  # (M, F)
        gram = basis.astype(np.float64) @ basis.T.astype(np.float64)  # (M, M)
        self.nnls_step = 1.0 / float(np.linalg.eigvalsh(gram).max())  # 1 / ||basis||_2^2
        pinv = np.linalg.pinv(basis.astype(np.float64)).astype(np.float32)  # (F, M)
        # FFT bins some filter covers: outside them the inversion is exactly 0 (zero basis
        # columns have zero pseudo-inverse rows and zero gradient), so it runs on this band only.
        covered = np.flatnonzero(basis.any(axis=0))
        self.band = (int(covered[0]), int(covered[-1]) + 1) if covered.size else (0, 0)
        self.mel_basis: Tensor
        self.mel_pinv: Tensor
        self.window: Tensor
        self.register_buffer("mel_basis", torch.from_numpy(basis), persistent=False)
        self.register_buffer("mel_pinv", torch.from_numpy(pinv), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)  # (n_fft,)
        self.vocoder: nn.Module | None = None
        self.decoder_note = "Griffin-Lim"  # which decoder and why (set by with_vocoder)
        self.decoder_weights = ""  # the vocoder file's weights_key ("": Griffin-Lim)

    @classmethod
    def from_config(cls, cfg: CodecConfig) -> MelCodec:
        """Build from ``cfg.codec`` (type must be ``mel``)."""
        return cls(
            sample_rate=cfg.sample_rate,
            n_mels=cfg.n_mels,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            f_min=cfg.f_min,
            f_max=cfg.f_max,
            griffin_lim_iters=cfg.griffin_lim_iters,
            scale=cfg.scale,
            bins_per_octave=cfg.bins_per_octave,
            vocoder_refine=cfg.vocoder_refine,
        ).with_vocoder(cfg.vocoder)

    def with_vocoder(self, path: str | Path | None) -> MelCodec:
        """Decode with the vocoder ``path`` names from now on (``codec.vocoder``: a file,
        "auto" for the shipped one where it fits, None / "" / "none": Griffin-Lim); a file
        trained on another codec is refused. Returns self."""
        from samuel_pl.codecs.vocoder import vocoder_for

        decoder = vocoder_for(
            path, self.latent_fields(), "mel", self.window.device, refine=self.vocoder_refine
        )
        self.vocoder, self.decoder_note, self.decoder_weights = (
            decoder.vocoder,
            decoder.note,
            decoder.weights,
        )
        return self

    # -- protocol properties -------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self._sr

    @property
    def audio_channels(self) -> int:
        return 1

    @property
    def latent_channels(self) -> int:
        return self._n_mels

    @property
    def hop_length(self) -> int:
        return self._hop

    def latent_fields(self) -> dict[str, Any]:
        return mel_identity(self.config)

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self._hop + 1

    def num_samples(self, num_frames: int) -> int:
        return max(num_frames - 1, 0) * self._hop

    # -- STFT helpers --------------------------------------------------------------------------
    def stft(self, audio: Tensor) -> Tensor:
        """Complex STFT of (B, N) audio -> (B, F, T), F = n_fft // 2 + 1."""
        return torch.stft(
            audio,
            self.n_fft,
            self._hop,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )

    def istft(self, spec: Tensor, length: int) -> Tensor:
        """Inverse of :meth:`stft`: (B, F, T) -> (B, length)."""
        return torch.istft(
            spec, self.n_fft, self._hop, window=self.window, center=True, length=length
        )

    # -- encode / decode -----------------------------------------------------------------------
    def _encode(self, audio: Tensor) -> Tensor:
        """(B, 1, N) -> log-mel (B, n_mels, N // hop + 1)."""
        mag = self.stft(audio[:, 0]).abs()  # (B, F, T)
        mel = torch.matmul(self.mel_basis, mag)  # (M, F) @ (B, F, T) -> (B, M, T)
        return torch.log(mel.clamp_min(LOG_FLOOR))

    def mel_to_magnitude(self, latent: Tensor) -> Tensor:
        """Log-mel (B, M, T) -> non-negative linear magnitude (B, F, T).

        Starts from the clamped pseudo-inverse, then projected gradient descent on
        ||mel_basis @ S - mel||^2 subject to S >= 0 (step 1 / ||mel_basis||_2^2).
        """
        lo, hi = self.band  # the FFT bins the filters cover (the rest stays 0)
        b, m, t = latent.shape
        mel = torch.exp(latent.float()).permute(1, 0, 2).reshape(m, b * t)  # (M, B*T)
        basis = self.mel_basis[:, lo:hi]  # (M, F'), ~3% non-zero for the log codec
        mm, basis_t = torch.matmul, basis.t().contiguous()  # (F', M)
        if basis.device.type in ("cpu", "cuda"):  # sparse x dense: 3-4x faster, same result
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
                basis, basis_t = basis.to_sparse_csr(), basis_t.to_sparse_csr()
            mm = torch.sparse.mm
        mag = torch.matmul(self.mel_pinv[lo:hi], mel).clamp_min(0.0)  # (F', B*T)
        for _ in range(self.nnls_iters):
            resid = mm(basis, mag) - mel  # (M, B*T)
            mag = (mag - self.nnls_step * mm(basis_t, resid)).clamp_min(0.0)
        full = mel.new_zeros(b, self.n_fft // 2 + 1, t)  # (B, F, T)
        full[:, lo:hi] = mag.reshape(hi - lo, b, t).permute(1, 0, 2)
        return full

    def initial_phase(self, frames: int, device: torch.device) -> Tensor:
        """Seeded random unit phasors (F, T), shared by every batch item (batch-consistent)."""
        gen = torch.Generator().manual_seed(self.seed)
        phase = torch.rand(self.n_fft // 2 + 1, frames, generator=gen) * (2 * math.pi)
        return torch.polar(torch.ones_like(phase), phase).to(device)

    def griffin_lim(
        self, magnitude: Tensor, n_iter: int | None = None, phase: Tensor | None = None
    ) -> Tensor:
        """Fast Griffin-Lim: magnitude (B, F, T) -> audio (B, (T - 1) * hop).

        c_n = P_C(P_A(t_{n-1})), t_n = c_n + alpha (c_n - c_{n-1}), with P_A the magnitude
        projection and P_C = stft(istft(.)) the consistency projection. ``phase``: unit phasors
        (B, F, T) to start from (default: :meth:`initial_phase`, seeded random).
        """
        n_iter = self.griffin_lim_iters if n_iter is None else int(n_iter)
        frames = magnitude.shape[-1]
        length = self.num_samples(frames)
        if frames < 2:
            return magnitude.new_zeros(magnitude.shape[0], length)
        start = self.initial_phase(frames, magnitude.device) if phase is None else phase
        t = magnitude * start  # (B, F, T) complex
        c_prev: Tensor | None = None
        for _ in range(n_iter):
            proj = magnitude * torch.sgn(t)  # P_A: impose the target magnitude
            c = self.stft(self.istft(proj, length))  # P_C: nearest consistent spectrogram
            t = c if c_prev is None else c + self.momentum * (c - c_prev)
            c_prev = c
        return self.istft(magnitude * torch.sgn(t), length)  # (B, length)

    def refine(self, latent: Tensor, audio: Tensor, n_iter: int, mode: str = "project") -> Tensor:
        """Griffin-Lim from a vocoder's rendition: latent (B, M, T), audio (B, (T - 1) * hop)
        -> audio (B, (T - 1) * hop), starting from the rendition's phase. On the band the
        filters cover the target magnitude is, by ``mode``: "project" (default) the rendition's
        own magnitude projected onto the set whose filter outputs equal the frames
        (:func:`~samuel_pl.codecs.band_match.match_bands`: one gain per band, so the vocoder's
        partials stay where it drew them); "nnls" the frames' minimum-norm inversion
        (:meth:`mel_to_magnitude`, the vocoder's detail in the band discarded). Elsewhere it is
        the rendition's own magnitude."""
        if mode not in ("project", "nnls"):
            raise ValueError(f"refine mode must be project or nnls, got {mode!r}")
        spec = self.stft(audio)  # (B, F, T)
        lo, hi = self.band
        mag = spec.abs()
        if mode == "nnls":
            mag[:, lo:hi] = self.mel_to_magnitude(latent)[:, lo:hi]
        else:
            target = torch.exp(latent.float())  # (B, M, T)
            mag[:, lo:hi] = match_bands(mag[:, lo:hi], self.mel_basis[:, lo:hi], target)
        return self.griffin_lim(mag, n_iter, phase=torch.sgn(spec))

    @torch.no_grad()
    def decode(self, latent: Tensor, n_iter: int | None = None) -> Tensor:
        """Log-mel (B, n_mels, T) -> mono audio (B, 1, (T - 1) * hop_length): by the vocoder
        when one is set and ``n_iter`` is None (refined by ``vocoder_refine`` Griffin-Lim
        iterations, :meth:`refine`), else by ``n_iter`` Griffin-Lim iterations."""
        if latent.dim() != 3 or latent.shape[1] != self._n_mels:
            raise ValueError(f"decode expects (B, {self._n_mels}, T), got {tuple(latent.shape)}")
        if self.vocoder is not None and n_iter is None:
            from samuel_pl.codecs.vocoder import vocode

            return vocode(self.vocoder, latent, self.refine, self.vocoder_refine)  # (B, 1, N)
        mag = self.mel_to_magnitude(latent)  # (B, F, T)
        return self.griffin_lim(mag, n_iter).unsqueeze(1)  # (B, 1, N)
