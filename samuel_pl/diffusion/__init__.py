"""Pure-torch diffusion math: schedule, v-objective, loss, guidance, samplers."""

from samuel_pl.diffusion.guidance import CFGDenoiser, InpaintDenoiser
from samuel_pl.diffusion.multistep import sample_dpmpp_3m, sample_unipc
from samuel_pl.diffusion.noise_schedule import CosineSchedule, cosine_betas
from samuel_pl.diffusion.objective import (
    LOSS_WEIGHTS,
    LossOutput,
    eps_from_v,
    loss_weight,
    q_sample,
    training_loss,
    v_from_x0_eps,
    v_from_x0_xt,
    x0_from_v,
)
from samuel_pl.diffusion.plan import (
    SamplingError,
    SamplingPlan,
    guidance_allowed,
    steps_allowed,
)
from samuel_pl.diffusion.samplers import (
    BEST_SPACING,
    SAMPLERS,
    SPACING_CHOICES,
    SPACINGS,
    ModelFn,
    Sampler,
    SamplerSpec,
    get_sampler,
    resolve_spacing,
    sample_ancestral,
    sample_ddim,
    sample_dpmpp,
    sampler_timesteps,
    sampling_timesteps,
)

__all__ = [
    "LOSS_WEIGHTS",
    "BEST_SPACING",
    "SAMPLERS",
    "SPACINGS",
    "SPACING_CHOICES",
    "CFGDenoiser",
    "CosineSchedule",
    "InpaintDenoiser",
    "LossOutput",
    "ModelFn",
    "Sampler",
    "SamplerSpec",
    "SamplingError",
    "SamplingPlan",
    "cosine_betas",
    "eps_from_v",
    "get_sampler",
    "guidance_allowed",
    "resolve_spacing",
    "loss_weight",
    "q_sample",
    "sample_ancestral",
    "sample_ddim",
    "sample_dpmpp",
    "sample_dpmpp_3m",
    "sample_unipc",
    "sampler_timesteps",
    "sampling_timesteps",
    "steps_allowed",
    "training_loss",
    "v_from_x0_eps",
    "v_from_x0_xt",
    "x0_from_v",
]
