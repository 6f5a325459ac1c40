"""diffusion.future_mask_prob: the condition's future masked per frame, as live sampling sees."""

from __future__ import annotations

import math

import torch

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.objective import training_loss


def _masks(prob: float, n: int = 4000, frames: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}

    def model(x, t, cond, drop_cond=None):
        seen["drop"] = drop_cond
        return torch.zeros_like(x)

    g = torch.Generator().manual_seed(0)
    drop = torch.zeros(n, dtype=torch.bool)
    drop[:10] = True  # classifier-free dropout still drops every frame
    training_loss(
        model, torch.zeros(n, 1, frames), torch.zeros(n, 1, frames), CosineSchedule(800),
        future_mask_prob=prob, drop=drop, generator=g,
    )  # fmt: skip
    return seen["drop"], drop


def test_masked_crops_are_a_suffix_after_a_uniform_cut() -> None:
    frames, p, n = 16, 0.5, 4000
    mask, drop = _masks(p, n, frames)
    assert mask.shape == (n, frames)
    assert mask[:10].all()  # CFG-dropped samples: the whole condition is null
    rest = mask[10:]
    # a suffix: once a frame is masked every later frame is too, and frame 0 never is
    assert torch.equal(rest, rest.cummax(dim=1).values)
    assert not rest[:, 0].any()
    masked = rest.any(dim=1).float()
    assert abs(masked.mean().item() - p) < 4 * math.sqrt(p * (1 - p) / masked.numel())
    cuts = frames - rest[rest.any(dim=1)].sum(dim=1)  # first masked frame, in [1, frames)
    assert cuts.min() >= 1 and cuts.max() <= frames - 1
    counts = torch.bincount(cuts, minlength=frames)[1:].float()  # roughly uniform over 15 cuts
    assert counts.min() > 0.5 * counts.mean()


def test_zero_probability_keeps_the_per_sample_drop() -> None:
    mask, drop = _masks(0.0, 64)
    assert mask.shape == (64,) and torch.equal(mask, drop)
