"""Exponential moving average of weights; the shadow network lives in state_dict (checkpoints)."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class EMA(nn.Module):
    """Shadow copy of ``model`` updated as ``shadow = d * shadow + (1 - d) * param``.

    With ``warmup`` the decay ramps as ``min(decay, (1 + n) / (10 + n))`` over the update count n.
    Persistent buffers (e.g. norms' statistics) are copied; non-persistent ones are caches each
    copy keeps for itself (RoPE tables grown to the longest sequence each network has seen).
    Use :attr:`module` (eval mode, no grad) for validation and sampling; it is saved with the
    owner's state_dict under ``<name>.module.*``.

    Args:
        model: the network to track (deep-copied).
        decay: EMA decay per update (0.995 in the reference).
        warmup: ramp the decay up during the first updates.
    """

    num_updates: Tensor

    def __init__(self, model: nn.Module, decay: float = 0.995, warmup: bool = False) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """The decay the next :meth:`update` uses."""
        if not self.warmup:
            return self.decay
        n = int(self.num_updates)
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards ``model``'s current weights."""
        d = self.current_decay()
        own = dict(self.module.named_parameters())
        for name, p in model.named_parameters():
            s = own[name]
            s.lerp_(p.detach().to(s.dtype), 1.0 - d)
        own_buf = dict(self.module.named_buffers())
        for name, b in _persistent_buffers(model):
            own_buf[name].copy_(b)
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the EMA weights into ``model`` (same architecture)."""
        model.load_state_dict(self.module.state_dict(), strict=False)

    def train(self, mode: bool = True) -> EMA:
        """The shadow network always stays in eval mode."""
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, *args: object, **kwargs: object) -> Tensor:
        """Run the EMA network."""
        return self.module(*args, **kwargs)


def _persistent_buffers(model: nn.Module) -> list[tuple[str, Tensor]]:
    """(name, buffer) of every buffer that ``state_dict`` saves (caches excluded)."""
    out = []
    for prefix, mod in model.named_modules():
        for name, b in mod.named_buffers(recurse=False):
            if b is not None and name not in mod._non_persistent_buffers_set:
                out.append((f"{prefix}.{name}" if prefix else name, b))
    return out
