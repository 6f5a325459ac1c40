"""v-objective (Salimans & Ho 2022) with the standard sign, loss weights and the training loss.

With ``a = alpha_bar(t)``: ``x_t = sqrt(a) x0 + sqrt(1-a) eps``, ``v = sqrt(a) eps - sqrt(1-a) x0``,
``x0 = sqrt(a) x_t - sqrt(1-a) v`` and ``eps = sqrt(1-a) x_t + sqrt(a) v``.
(The reference code's "+" sign and epsilon-formula inversion are a bug and are not reproduced.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from samuel_pl.diffusion.noise_schedule import CosineSchedule

LOSS_WEIGHTS = ("none", "min_snr", "reference")


def _bcast(a: Tensor, like: Tensor) -> Tensor:
    """(B,) -> (B, 1, ..., 1) matching ``like``'s rank and dtype."""
    return a.to(like.dtype).reshape(a.shape[0], *([1] * (like.dim() - 1)))  # (B, 1, ..)


def q_sample(x0: Tensor, noise: Tensor, alpha_bar: Tensor) -> Tensor:
    """x_t = sqrt(a) x0 + sqrt(1 - a) eps. x0, noise: (B, ...); alpha_bar: (B,)."""
    a = _bcast(alpha_bar, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def v_from_x0_eps(x0: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """v = sqrt(a) eps - sqrt(1 - a) x0 (the training target)."""
    a = _bcast(alpha_bar, x0)
    return a.sqrt() * eps - (1 - a).sqrt() * x0


def x0_from_v(x_t: Tensor, v: Tensor, alpha_bar: Tensor) -> Tensor:
    """x0 = sqrt(a) x_t - sqrt(1 - a) v."""
    a = _bcast(alpha_bar, x_t)
    return a.sqrt() * x_t - (1 - a).sqrt() * v


def eps_from_v(x_t: Tensor, v: Tensor, alpha_bar: Tensor) -> Tensor:
    """eps = sqrt(1 - a) x_t + sqrt(a) v."""
    a = _bcast(alpha_bar, x_t)
    return (1 - a).sqrt() * x_t + a.sqrt() * v


def v_from_x0_xt(x0: Tensor, x_t: Tensor, alpha_bar: Tensor) -> Tensor:
    """The v that maps (x_t, v) back to ``x0``: v = (sqrt(a) x_t - x0) / sqrt(1 - a)."""
    a = _bcast(alpha_bar, x_t)
    return (a.sqrt() * x_t - x0) / (1 - a).sqrt()


def loss_weight(snr: Tensor, kind: str = "none", min_snr_gamma: float = 5.0) -> Tensor:
    """Per-sample weight of the v-MSE. snr: (B,).

    none: 1. min_snr: min(SNR, gamma) / (SNR + 1) (min-SNR-gamma for v-prediction, Hang et al.
    2023). reference: min(2 / SNR, 10), the reference code's weighting (ablation only).
    """
    if kind == "none":
        return torch.ones_like(snr)
    if kind == "min_snr":
        return snr.clamp(max=min_snr_gamma) / (snr + 1.0)
    if kind == "reference":
        return (2.0 / snr).clamp(max=10.0)
    raise ValueError(f"unknown loss weight {kind!r}; choose one of {', '.join(LOSS_WEIGHTS)}")


@dataclass
class LossOutput:
    """What :func:`training_loss` computed (all detached except ``loss``)."""

    loss: Tensor
    """Scalar weighted v-MSE (differentiable)."""
    per_sample: Tensor
    """(B,) unweighted v-MSE per sample."""
    t: Tensor
    """(B,) sampled timesteps (float, step units)."""
    drop: Tensor
    """(B,) bool: where the vocal condition was replaced by the null context."""
    weight: Tensor
    """(B,) loss weights used."""


Network = Callable[..., Tensor]
"""The denoiser network: ``(x_t, t, cond, ...) -> v``."""


def training_loss(
    model: Network,
    x0: Tensor,
    cond: Tensor,
    schedule: CosineSchedule,
    *,
    weighting: str = "none",
    min_snr_gamma: float = 5.0,
    cond_drop_prob: float = 0.1,
    future_mask_prob: float = 0.0,
    t: Tensor | None = None,
    noise: Tensor | None = None,
    drop: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> LossOutput:
    """Weighted v-MSE of ``model(x_t, t, cond, drop_cond=drop)`` at uniformly sampled steps.

    Args:
        model: denoiser ``(x (B,C,T), t (B,), cond (B,C,T), drop_cond (B,) bool) -> v``.
        x0: (B, C, T) clean latents. cond: (B, C, T) vocal latents.
        schedule: the noise schedule.
        weighting: none | min_snr | reference.
        cond_drop_prob: probability of dropping the condition per sample (CFG training).
        future_mask_prob: probability per sample that the condition from a uniformly drawn
            frame in [1, T) on is the null condition (a live stream's unknown future); the
            network then gets a (B, T) ``drop_cond``.
        t, noise, drop: optional fixed draws (for tests); sampled when None.
        generator: RNG for the draws (on x0's device).
    """
    b, dev = x0.shape[0], x0.device
    if t is None:
        t = torch.randint(0, schedule.train_steps, (b,), device=dev, generator=generator).float()
    if noise is None:
        noise = torch.randn(x0.shape, device=dev, dtype=x0.dtype, generator=generator)
    if drop is None:
        drop = torch.rand(b, device=dev, generator=generator) < cond_drop_prob
    a = schedule.alpha_bar(t).to(x0.dtype)  # (B,)
    x_t = q_sample(x0, noise, a)
    target = v_from_x0_eps(x0, noise, a)
    drop_frames = drop
    if future_mask_prob > 0:
        masked = torch.rand(b, device=dev, generator=generator) < future_mask_prob  # (B,)
        frames = x0.shape[-1]
        cut = torch.randint(1, max(frames, 2), (b,), device=dev, generator=generator)  # (B,)
        future = torch.arange(frames, device=dev)[None, :] >= cut[:, None]  # (B, T)
        drop_frames = drop[:, None] | (masked[:, None] & future)  # (B, T)
    v_pred = model(x_t, t, cond, drop_cond=drop_frames)
    per_sample = (v_pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)  # (B,)
    w = loss_weight(schedule.snr(t).float(), weighting, min_snr_gamma)
    loss = (w * per_sample).mean()
    return LossOutput(loss, per_sample.detach(), t, drop, w)
