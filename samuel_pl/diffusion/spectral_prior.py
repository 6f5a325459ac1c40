"""Temporal spectral prior: remove the frame-rate noise the denoiser passes through.

The data (z-scored latents) have a per-channel temporal power spectrum ``S_c(f)`` that falls
steeply with the frame-rate frequency ``f``. With ``x_t = alpha x0 + sigma eps`` write
``y = x_t / alpha = x0 + n``, ``n`` white with per-bin power ``r = (sigma / alpha)^2`` (rfft with
``norm="ortho"``). For a stationary Gaussian prior with that spectrum the posterior mean is the
Wiener filter ``E[x0 | x_t](f) = W_t(f) y(f)``, ``W_t(f) = S(f) / (S(f) + r)``. Whatever the prior,
``E|E[x0_f | x_t]|^2 <= E|x0_f|^2 = S(f)`` (Jensen): in bins where the data have almost no power
the true posterior mean has almost none either, so a network output there is leaked noise.

:class:`SpectralPriorDenoiser` wraps a model ``(x, t) -> v``, turns its v into ``x0_hat`` and
blends, per channel and bin, ``x0' = W x0_hat + (1 - W) W y``: the network where the data
dominate the noise (``W ~ 1``), the Wiener estimate (~0) where the noise dominates (``W ~ 0``).
Properties: identity as ``sigma -> 0`` (``W -> 1``); a fixed point when the network already is
the Wiener filter (``x0_hat = W y`` gives ``W^2 y + (1 - W) W y = W y``); pure shrinkage
``x0' = W x0_hat`` is the ``mode="shrink"`` variant. ``max_noise`` limits it to the steps
with ``sigma / alpha <= max_noise``: the Gaussian prior has mean 0, so at high noise, where ``W``
is small in every bin, it would replace the network's vocal-conditioned estimate (its silences,
phrases) by nothing; the leak it removes is at low noise (docs/findings.md, issue 26).
The window is reflection-padded before the FFT so the two ends do not wrap into each other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.objective import v_from_x0_xt, x0_from_v
from samuel_pl.diffusion.solver_base import ModelFn

PRIOR_MODES = ("blend", "shrink")


def temporal_spectrum(crops: Tensor) -> Tensor:
    """Mean per-bin power of crops (N, C, T) along time: (C, T // 2 + 1) (``norm="ortho"``,
    so white noise of variance v has power v in every bin)."""
    if crops.dim() != 3 or crops.shape[-1] < 2:
        raise ValueError(f"crops must be (N, C, T) with T >= 2, got {tuple(crops.shape)}")
    spec = torch.fft.rfft(crops.double(), dim=-1, norm="ortho")  # (N, C, F)
    return spec.abs().pow(2).mean(0).float()  # (C, F)


def resample_spectrum(spectrum: Tensor, n: int) -> Tensor:
    """(C, F) spectrum measured on some length -> (C, n // 2 + 1) on length ``n``, linear in the
    normalised frequency f in [0, 1/2] (per-bin power with ortho norm does not depend on n)."""
    c, nf = spectrum.shape
    src = torch.linspace(0.0, 0.5, nf, dtype=torch.float64)  # (F,)
    dst = torch.arange(n // 2 + 1, dtype=torch.float64) / n  # (n//2+1,)
    idx = torch.searchsorted(src, dst).clamp(1, nf - 1)  # (n//2+1,)
    lo, hi = src[idx - 1], src[idx]
    frac = ((dst - lo) / (hi - lo)).clamp(0.0, 1.0).to(spectrum.dtype)
    return spectrum[:, idx - 1] * (1 - frac) + spectrum[:, idx] * frac  # (C, n//2+1)


def wiener_gain(spectrum: Tensor, noise_power: Tensor) -> Tensor:
    """W = S / (S + r): spectrum (C, F), noise_power r (B,) -> (B, C, F); r == 0 gives 1."""
    s = spectrum.clamp_min(0.0)[None]  # (1, C, F)
    r = noise_power.to(spectrum.dtype).reshape(-1, 1, 1)  # (B, 1, 1)
    return torch.where(r > 0, s / (s + r).clamp_min(1e-30), torch.ones_like(s))


def apply_prior(
    x0_hat: Tensor,
    y: Tensor,
    spectrum: Tensor,
    noise_power: Tensor,
    mode: str = "blend",
    pad: int | None = None,
) -> Tensor:
    """The filtered x0 (B, C, T) from the network's ``x0_hat`` and ``y = x_t / alpha`` (B, C, T),
    the data spectrum (C, F) and ``noise_power = (sigma / alpha)^2`` (B,). ``pad``: reflection
    frames at each end (default T // 2, at most T - 1)."""
    if mode not in PRIOR_MODES:
        raise ValueError(f"unknown spectral prior mode {mode!r}; choose one of {PRIOR_MODES}")
    if spectrum.shape[0] != x0_hat.shape[1]:
        raise ValueError(
            f"spectral prior has {spectrum.shape[0]} channels, the latent {x0_hat.shape[1]}"
        )
    t = x0_hat.shape[-1]
    p = min(t // 2 if pad is None else pad, t - 1)
    n = t + 2 * p
    w = wiener_gain(resample_spectrum(spectrum.to(x0_hat.device), n), noise_power)  # (B, C, F)
    w = w.to(x0_hat.dtype)
    xf = torch.fft.rfft(F.pad(x0_hat, (p, p), mode="reflect") if p else x0_hat, dim=-1)
    out = w * xf  # (B, C, F)
    if mode == "blend":
        yf = torch.fft.rfft(F.pad(y, (p, p), mode="reflect") if p else y, dim=-1)
        out = out + (1 - w) * w * yf
    return torch.fft.irfft(out, n=n, dim=-1)[..., p : p + t]  # (B, C, T)


class SpectralPriorDenoiser:
    """Wrap ``model_fn (x (B,C,T), t (B,)) -> v`` so its x0 estimate obeys the data's temporal
    spectrum (see the module docstring).

    Args:
        model_fn: e.g. a :class:`~samuel_pl.diffusion.guidance.CFGDenoiser`.
        schedule: the noise schedule (alpha_bar(t)).
        spectrum: (C, F) per-channel temporal power spectrum of the normalised training latents
            (:func:`temporal_spectrum` of training-length crops).
        mode: ``blend`` (default) or ``shrink``.
        max_noise: filter only where sigma / alpha <= this (None: every step).
    """

    def __init__(
        self,
        model_fn: ModelFn,
        schedule: CosineSchedule,
        spectrum: Tensor,
        mode: str = "blend",
        max_noise: float | None = None,
    ) -> None:
        if mode not in PRIOR_MODES:
            raise ValueError(f"unknown spectral prior mode {mode!r}; choose one of {PRIOR_MODES}")
        if spectrum.dim() != 2 or not bool(torch.isfinite(spectrum).all()):
            raise ValueError(f"spectrum must be a finite (C, F) tensor, got {spectrum.shape}")
        self.model_fn, self.schedule, self.spectrum = model_fn, schedule, spectrum
        self.mode, self.max_noise = mode, max_noise

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        """x: (B, C, T); t: (B,) -> v (B, C, T) whose x0 is the filtered one."""
        v = self.model_fn(x, t)
        a = self.schedule.alpha_bar(t.detach().to("cpu", torch.float64))  # (B,) float64
        r = (1 - a) / a  # (B,) (sigma / alpha)^2
        if self.max_noise is not None and bool((r > self.max_noise**2).all()):
            return v
        a_x = a.to(x.device, x.dtype)
        x0 = x0_from_v(x, v, a_x)
        y = x / a_x.sqrt().reshape(-1, 1, 1)
        x0f = apply_prior(x0, y, self.spectrum, r.to(x.device), self.mode)
        if self.max_noise is not None:
            keep = (r > self.max_noise**2).to(x.device).reshape(-1, 1, 1)
            x0f = torch.where(keep, x0, x0f)
        return v_from_x0_xt(x0f, x, a_x)
