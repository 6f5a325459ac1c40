"""Schema of the ``sampling`` config section: sampler, steps, guidance, grid, window, x0 prior.

The one resolver of these settings at generation time is ``samuel_pl.diffusion.plan``.
"""

from __future__ import annotations

from dataclasses import dataclass

from samuel_pl.config.checks import (
    FRACTION,
    GUIDANCE,
    NONNEG,
    SAMPLER,
    SPACING,
    STEPS,
    checked,
    one_of,
)


@dataclass
class SamplingConfig:
    sampler: str = checked("dpmpp", SAMPLER)
    """dpmpp | dpmpp3m | unipc | unipc_bh1 | ddim | ancestral (samuel_pl.diffusion.SAMPLERS)."""
    steps: int = checked(10, STEPS)
    """Sampler steps (ancestral always uses the training steps; why 10:
    benchmarks/RESULTS.md#config_defaults)."""
    cfg: float = checked(2.5, GUIDANCE)
    """Classifier-free guidance scale (1 = no guidance)."""
    eta: float = checked(0.0, FRACTION)
    """DDIM stochasticity."""
    spacing: str = checked("auto", SPACING)
    """Step grid of the fast samplers: auto (each sampler's best measured grid, its
    SamplerSpec.auto_spacing; benchmarks/RESULTS.md#config_defaults) | uniform (in t) | log_snr |
    karras."""
    window: int = checked(2048, NONNEG)
    """Latent frames per generation window (0: data.crop_frames, the training crop). A clip up
    to this long is sampled in one pass, longer ones window by window (generation/windows.py;
    why 2048, 47.5 s at the demo codec's rate: benchmarks/RESULTS.md#config_defaults)."""
    spectral_prior: str = checked("none", one_of("none", "blend", "shrink"))
    """none | blend | shrink: x0 filter by the latents' temporal spectrum (spectral_prior.py)."""
    spectral_prior_max_noise: float = checked(1.0, NONNEG)
    """...applied only where sigma / alpha <= this (0: every step; docs/findings.md, issue 26)."""
