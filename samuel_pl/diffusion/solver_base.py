"""What every sampler shares: the model call as an x0 prediction, the checked step grid with its
alpha / sigma / lambda tables, and the noise draw on the generator's device.

``model_fn(x (B,C,T), t (B,) float step units) -> v`` (v-prediction); the grid is a decreasing
float64 tensor of times in step units (:func:`samuel_pl.diffusion.samplers.sampling_timesteps`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.objective import x0_from_v

ModelFn = Callable[[Tensor, Tensor], Tensor]
StepCallback = Callable[[int, int, Tensor], None]


def x0_hat(model_fn: ModelFn, x: Tensor, t: float, schedule: CosineSchedule) -> Tensor:
    """Data prediction x0 = sqrt(a) x - sqrt(1 - a) v at time ``t``; x (B,C,T) -> (B,C,T)."""
    tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.float32)  # (B,)
    v = model_fn(x, tt).to(x.dtype)
    a = schedule.alpha_bar(torch.tensor([t], dtype=torch.float64)).to(x.device, x.dtype)
    return x0_from_v(x, v, a.expand(x.shape[0]))


def randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise shaped like x, drawn on the generator's device, returned on x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, device=device, dtype=x.dtype, generator=generator).to(x.device)


def checked_grid(timesteps: Tensor, schedule: CosineSchedule) -> tuple[list[float], Tensor]:
    """The grid as floats (n,) and its alpha_bar (n,) float64; a grid that does not decrease
    is a ValueError."""
    ts = torch.as_tensor(timesteps, dtype=torch.float64).flatten().cpu()
    if ts.numel() < 1 or (ts.numel() > 1 and not bool((ts[1:] < ts[:-1]).all())):
        raise ValueError(f"timesteps must be a non-empty decreasing grid, got {ts.tolist()}")
    return ts.tolist(), schedule.alpha_bar(ts)  # (n,) float64 alpha_bar


def lambda_grid(alpha_bar: Tensor) -> tuple[list[float], list[float], list[float]]:
    """alpha = sqrt(a), sigma = sqrt(1 - a) and lambda = log(alpha / sigma) per grid point,
    as float lists (n,), from alpha_bar (n,) float64."""
    alpha, sigma = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    lam = torch.log(alpha) - torch.log(sigma)
    return alpha.tolist(), sigma.tolist(), lam.tolist()
