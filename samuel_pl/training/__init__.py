"""Training jobs: run folder and resume, the Trainer builder, the fit jobs (latent diffusion and
audio VAE), the run summary. The LightningModules they train live in :mod:`samuel_pl.lit`."""

from samuel_pl.training.fit_diffusion import fit, resolve_in_channels

__all__ = ["fit", "resolve_in_channels"]
