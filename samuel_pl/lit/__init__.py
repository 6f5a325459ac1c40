"""LightningModules and their callbacks, paired per model: ``samuel`` (latent diffusion) and
``vae`` (the audio VAE codec). The jobs that train them live in :mod:`samuel_pl.training`."""

from samuel_pl.lit.samuel import LitSamuel, config_from_hparams

__all__ = ["LitSamuel", "config_from_hparams"]
