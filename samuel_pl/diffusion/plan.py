"""One sampling plan: the sampler, its timestep grid (built once), the guidance scale and eta,
resolved once from defaults (a config's ``sampling`` section) plus a call's overrides.

The home of resolving the sampling settings and of the guidance rule (:func:`guidance_allowed`;
the steps rule, :func:`~samuel_pl.diffusion.samplers.steps_allowed`, sits with the grid it
guards; the config, the generate command and the web demo ask both) and of resolving the defaults
(:meth:`SamplingPlan.resolve`: LitSamuel.sample, the Accompanist, suites and benchmarks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from samuel_pl.diffusion.noise_schedule import CosineSchedule
from samuel_pl.diffusion.samplers import SPACING_CHOICES, SamplerSpec, get_sampler, steps_allowed
from samuel_pl.diffusion.solver_base import ModelFn, StepCallback
from samuel_pl.diffusion.spectral_prior import PRIOR_MODES, SpectralPriorDenoiser
from samuel_pl.errors import SamuelError


class SamplingError(SamuelError, ValueError):
    """A sampler, step count, spacing or guidance scale that cannot run (one line)."""


class SamplingDefaults(Protocol):
    """What a plan falls back to (``samuel_pl.config.SamplingConfig`` has these fields)."""

    sampler: str
    steps: int
    cfg: float
    eta: float
    spacing: str


SPECTRAL_PRIORS = ("none", *PRIOR_MODES)


def guidance_allowed(cfg: Any) -> str | None:
    """None when ``cfg`` is a usable classifier-free guidance scale, else what is allowed."""
    try:
        ok = math.isfinite(float(cfg)) and float(cfg) >= 0
    except (TypeError, ValueError):
        ok = False
    return None if ok else "a finite number >= 0"


@dataclass(frozen=True, eq=False)
class SamplingPlan:
    """A resolved, checked sampling call: run it with :meth:`run`.

    Args:
        spec: the sampler (its function and what the settings mean to it).
        timesteps: (n,) float64 decreasing grid it runs on (last entry 0).
        cfg: classifier-free guidance scale (1: none).
        eta: stochasticity, for samplers that take it (DDIM).
        spacing: the grid asked for (``auto``: the sampler's :attr:`SamplerSpec.auto_spacing`).
        spectral_prior: ``none`` | ``blend`` | ``shrink``: the x0 filter of
            :class:`~samuel_pl.diffusion.spectral_prior.SpectralPriorDenoiser` (:meth:`wrap`).
        spectrum: (C, F) temporal power spectrum of the training latents (needed unless none).
        prior_max_noise: the prior filters steps with sigma / alpha <= this (0: every step).
    """

    spec: SamplerSpec
    timesteps: Tensor
    cfg: float
    eta: float = 0.0
    spacing: str = "auto"
    spectral_prior: str = "none"
    spectrum: Tensor | None = None
    prior_max_noise: float = 0.0

    @classmethod
    def resolve(
        cls,
        defaults: SamplingDefaults,
        schedule: CosineSchedule,
        *,
        sampler: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        spacing: str | None = None,
        spectral_prior: str | None = None,
        spectrum: Tensor | None = None,
    ) -> SamplingPlan:
        """The plan of ``defaults`` with the overrides that are not None ("" sampler, spacing
        or spectral_prior: the default too); SamplingError naming the first bad setting.
        ``spectrum``: the model's (C, F) temporal spectrum, None when it has none."""
        name, grid = sampler or defaults.sampler, spacing or defaults.spacing
        prior = spectral_prior or getattr(defaults, "spectral_prior", "none")
        n = defaults.steps if steps is None else steps
        scale = defaults.cfg if cfg is None else cfg
        try:
            spec = get_sampler(name)
        except ValueError as exc:
            raise SamplingError(str(exc)) from None
        if grid not in SPACING_CHOICES:
            choices = ", ".join(SPACING_CHOICES)
            raise SamplingError(f"unknown spacing {grid!r}; choose one of {choices}")
        for key, value, allowed in (
            ("steps", n, steps_allowed(n)),
            ("cfg", scale, guidance_allowed(scale)),
        ):
            if allowed:
                raise SamplingError(f"{key} must be {allowed}, got {value}")
        if prior not in SPECTRAL_PRIORS:
            choices = ", ".join(SPECTRAL_PRIORS)
            raise SamplingError(f"unknown spectral_prior {prior!r}; choose one of {choices}")
        if prior != "none" and spectrum is None:
            raise SamplingError(
                f"spectral_prior {prior!r} needs the training latents' temporal spectrum, "
                "which this model does not carry"
            )
        ts = spec.timesteps(schedule, int(n), grid)
        cap = float(getattr(defaults, "spectral_prior_max_noise", 0.0))
        return cls(spec, ts, float(scale), float(defaults.eta), grid, prior, spectrum, cap)

    @property
    def sampler(self) -> str:
        """The sampler's registry name."""
        return self.spec.name

    @property
    def steps(self) -> int:
        """Steps that run (model evaluations per window before guidance): the training steps
        for ancestral."""
        return len(self.timesteps)

    def settings(self) -> dict[str, Any]:
        """``{"sampler", "steps", "cfg", "spacing"}`` as JSON-friendly values (steps: what runs),
        plus ``spectral_prior`` when it is on."""
        out: dict[str, Any] = {
            "sampler": self.sampler,
            "steps": self.steps,
            "cfg": self.cfg,
            "spacing": self.spacing,
        }
        if self.spectral_prior != "none":
            out["spectral_prior"] = self.spectral_prior
        return out

    def wrap(self, model_fn: ModelFn, schedule: CosineSchedule) -> ModelFn:
        """``model_fn`` behind this plan's spectral prior (itself when none); wrap the guided
        model of each window, inside any inpainting."""
        if self.spectral_prior == "none" or self.spectrum is None:
            return model_fn
        cap = self.prior_max_noise or None
        return SpectralPriorDenoiser(model_fn, schedule, self.spectrum, self.spectral_prior, cap)

    def run(
        self,
        model_fn: ModelFn,
        x_T: Tensor,
        schedule: CosineSchedule,
        *,
        callback: StepCallback | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """x0 (same shape as ``x_T``) by this plan's sampler over its grid."""
        return self.spec(
            model_fn,
            x_T,
            schedule,
            self.timesteps,
            callback=callback,
            generator=generator,
            **self.spec.options(self.eta),
        )
