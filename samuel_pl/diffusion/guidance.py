"""Guidance as model wrappers ``(x, t) -> v`` that every sampler runs unchanged.

- :class:`CFGDenoiser`: classifier-free guidance (Ho & Salimans 2022),
  ``v = v_uncond + s * (v_cond - v_uncond)``; cond and uncond run in ONE batched forward.
- :class:`InpaintDenoiser`: latent inpainting, ``v_known = (sqrt(a) x_t - x0_known) / sqrt(1 - a)``
  where the known weight is 1 (the v whose x0 estimate is ``x0_known``), blended by the weight.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.objective import v_from_x0_xt
from samuel_pl.diffusion.samplers import ModelFn

Denoiser = Callable[..., Tensor]


class CFGDenoiser(nn.Module):
    """Bind the vocal condition and guidance scale: ``wrapper(x, t) -> v`` for the samplers.

    Args:
        model: ``model(x (B,C,T), t (B,), cond (B,C,T), drop_cond=(B,) bool) -> v (B,C,T)``.
        cond: (B, C, T) vocal latent (B may be 1 and broadcast to x's batch).
        scale: guidance scale s; s == 1 runs the conditional model only (no uncond pass),
            s == 0 the unconditional model only.
    """

    def __init__(self, model: nn.Module | Denoiser, cond: Tensor, scale: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.cond = cond
        self.scale = float(scale)

    def _cond_for(self, x: Tensor) -> Tensor:
        if self.cond.shape[0] == x.shape[0]:
            return self.cond
        return self.cond.expand(x.shape[0], *self.cond.shape[1:])  # (B, C, T)

    def forward(self, x: Tensor, t: Tensor | float) -> Tensor:
        """x: (B, C, T); t: (B,) or scalar step -> guided v (B, C, T)."""
        b = x.shape[0]
        tt = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        if tt.dim() == 0:
            tt = tt.expand(b)  # (B,)
        cond = self._cond_for(x)
        if self.scale == 1.0 or self.scale == 0.0:
            drop = torch.full((b,), self.scale == 0.0, dtype=torch.bool, device=x.device)
            return self.model(x, tt, cond, drop_cond=drop)
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)])
        out = self.model(
            torch.cat([x, x]),  # (2B, C, T)
            torch.cat([tt, tt]),  # (2B,)
            torch.cat([cond, cond]),  # (2B, C, T)
            drop_cond=drop.to(x.device),
        )
        v_c, v_u = out.chunk(2)  # (B, C, T) each
        return v_u + self.scale * (v_c - v_u)


class InpaintDenoiser:
    """Guide ``model_fn`` so its x0 estimate equals ``x0_known`` where ``weight`` is 1.

    Args:
        model_fn: ``(x (B,C,T), t (B,)) -> v`` (e.g. a :class:`CFGDenoiser`).
        schedule: the noise schedule (for alpha_bar(t)).
        x0_known: (B or 1, C, T) known clean latent (values where ``weight`` is 0 are ignored).
        weight: (T,) known weight in [0, 1].
    """

    def __init__(
        self, model_fn: ModelFn, schedule: CosineSchedule, x0_known: Tensor, weight: Tensor
    ) -> None:
        self.model_fn, self.schedule = model_fn, schedule
        self.x0_known = x0_known
        self.weight = weight.to(x0_known.device, x0_known.dtype)[None, None, :]  # (1, 1, T)

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        """x: (B, C, T); t: (B,) -> v (B, C, T)."""
        v = self.model_fn(x, t)
        a = self.schedule.alpha_bar(t.detach().to("cpu", torch.float64)).to(x.device, x.dtype)
        v_known = v_from_x0_xt(self.x0_known.expand_as(x), x, a)  # (B, C, T)
        return v + self.weight * (v_known - v)
