"""Cosine noise schedule (Nichol & Dhariwal 2021, s = 0.008) with continuous-time access.

Time convention (used everywhere in samuel_pl): ``t`` is measured in *step units*,
``t in [0, train_steps - 1]``; integer ``i`` is discrete step ``i``, non-integer values are
allowed.

- Discrete step ``i`` uses ``u = (i + 1) / train_steps`` of the continuous cosine curve
  ``f(u) = cos(((u + s) / (1 + s)) * pi / 2) ** 2``: ``beta_i = 1 - f(u_i) / f(u_{i-1})`` with
  ``u_{-1} = 0``, betas clipped at 0.999, ``alpha_bar_i = prod_{k<=i} (1 - beta_k)``.
  Only the last beta is clipped (f(1) = 0), so the last alpha_bar is small but not zero.
- Continuous ``t``: ``log alpha_bar(t)`` is the piecewise-linear interpolation of the discrete
  ``log alpha_bar_i`` table, so ``alpha_bar(t)`` equals the discrete table exactly at integers
  and is continuous and strictly decreasing in between. ``t`` outside ``[0, T-1]`` is clamped.
All tables are float64 on the CPU; results are returned on ``t``'s device in ``t``'s float dtype
(float32 for integer ``t``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def cosine_betas(train_steps: int = 800, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Discrete betas of the cosine schedule, float64 of shape (train_steps,)."""
    u = torch.arange(train_steps + 1, dtype=torch.float64) / train_steps  # u_{-1}=0 .. u_{T-1}=1
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    betas = 1.0 - f[1:] / f[:-1]
    return betas.clamp(min=0.0, max=max_beta)


class CosineSchedule:
    """Cosine schedule with ``alpha_bar``, ``sigma``, ``log_snr`` for float ``t`` in step units.

    Args:
        train_steps: T_train, the number of discrete diffusion steps.
        s: offset of the cosine curve.
    """

    def __init__(self, train_steps: int = 800, s: float = 0.008) -> None:
        if train_steps < 2:
            raise ValueError(f"train_steps must be >= 2, got {train_steps}")
        self.train_steps = int(train_steps)
        self.s = float(s)
        self.betas = cosine_betas(self.train_steps, self.s)  # (T,) float64
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)  # (T,) float64
        self.log_alphas_cumprod = torch.log(self.alphas_cumprod)  # (T,) float64

    def __repr__(self) -> str:
        return f"CosineSchedule(train_steps={self.train_steps}, s={self.s})"

    # -- continuous access -------------------------------------------------------------------
    def _log_alpha_bar64(self, t: Tensor | float) -> Tensor:
        """float64 log alpha_bar(t) on the CPU, same shape as ``t``."""
        tt = torch.as_tensor(t).detach().to("cpu", torch.float64)
        tt = tt.clamp(0.0, self.train_steps - 1)
        lo = tt.floor().clamp(max=self.train_steps - 2).long()
        frac = tt - lo.to(torch.float64)
        table = self.log_alphas_cumprod
        return table[lo] * (1.0 - frac) + table[lo + 1] * frac

    @staticmethod
    def _like(value: Tensor, t: Tensor | float) -> Tensor:
        if isinstance(t, Tensor):
            dtype = t.dtype if t.is_floating_point() else torch.float32
            return value.to(device=t.device, dtype=dtype)
        return value.to(torch.float32)

    def alpha_bar(self, t: Tensor | float) -> Tensor:
        """alpha_bar(t) = signal variance, same shape as ``t``."""
        return self._like(torch.exp(self._log_alpha_bar64(t)), t)

    def alpha(self, t: Tensor | float) -> Tensor:
        """sqrt(alpha_bar(t)): the signal scale."""
        return self._like(torch.exp(0.5 * self._log_alpha_bar64(t)), t)

    def sigma(self, t: Tensor | float) -> Tensor:
        """sqrt(1 - alpha_bar(t)): the noise scale."""
        a = torch.exp(self._log_alpha_bar64(t))
        return self._like(torch.sqrt(1.0 - a), t)

    def snr(self, t: Tensor | float) -> Tensor:
        """alpha_bar / (1 - alpha_bar)."""
        a = torch.exp(self._log_alpha_bar64(t))
        return self._like(a / (1.0 - a), t)

    def log_snr(self, t: Tensor | float) -> Tensor:
        """lambda(t) = log(alpha_bar / (1 - alpha_bar)), strictly decreasing in t."""
        la = self._log_alpha_bar64(t)
        return self._like(la - torch.log(-torch.expm1(la)), t)

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """Inverse of :meth:`log_snr` (float64 CPU, in step units; exact at the table knots)."""
        ts = torch.arange(self.train_steps, dtype=torch.float64)
        la = self.log_alphas_cumprod
        table = (la - torch.log(-torch.expm1(la))).flip(0)  # increasing lambda, (T,)
        lam64 = torch.as_tensor(lam, dtype=torch.float64).clamp(table[0], table[-1])
        idx = torch.searchsorted(table, lam64).clamp(1, self.train_steps - 1)
        lo, hi = table[idx - 1], table[idx]
        frac = (lam64 - lo) / (hi - lo)
        t_rev = (idx - 1).to(torch.float64) + frac  # position in the flipped table
        return ts[-1] - t_rev
