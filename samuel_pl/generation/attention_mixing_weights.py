"""Local/global mixing weights of the soft alignment attention over the diffusion time, from a
trained checkpoint or from a run's configured schedule (sweep artifacts and reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def from_checkpoint(ckpt: str | Path, points: int = 101) -> dict[str, Any]:
    """Weights of the trained (EMA) network, per attention layer, at ``points`` steps."""
    import torch

    from samuel_pl.lit import LitSamuel

    module = LitSamuel.from_checkpoint(ckpt)
    steps = module.cfg.diffusion.train_steps
    t = torch.linspace(0, steps - 1, points)
    net: Any = module.ema.module
    layers = net.mixing_weights(t)
    return {
        "schedule": module.cfg.model.mix_schedule,
        "train_steps": steps,
        "t": t.tolist(),
        "layers": {
            name: {branch: w.float().tolist() for branch, w in ws.items()}
            for name, ws in layers.items()
        },
        "source": "checkpoint",
    }


def from_params(params: dict[str, str], points: int = 101) -> dict[str, Any] | None:
    """Weights of a configured (not learned) schedule from a run's params, else None."""
    import torch

    from samuel_pl.diffusion.noise_schedule import CosineSchedule
    from samuel_pl.nn.attention_mixing import MIX_SCHEDULES, TimestepMixer

    schedule = params.get("model.mix_schedule", "")
    if schedule not in MIX_SCHEDULES or schedule == "learned":
        return None
    steps = int(params.get("diffusion.train_steps", 800))
    mixer = TimestepMixer(schedule, steps)
    t = torch.linspace(0, steps - 1, points)
    noise = CosineSchedule(steps, float(params.get("diffusion.cosine_s", 0.008)))
    w = mixer.weights(t, alpha_bar=noise.alpha_bar(t))
    curve = {branch: v.float().tolist() for branch, v in w.items()}
    return {
        "schedule": schedule,
        "train_steps": steps,
        "t": t.tolist(),
        "layers": {"in_attn": curve, "mid_attn": curve},
        "source": "config",
    }
