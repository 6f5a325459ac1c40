"""Lightning wrappers: the latent-diffusion module, callbacks, checkpoint I/O."""

from samuel_pl.lit.diffusion_module import LitSamuel, config_from_hparams

__all__ = ["LitSamuel", "config_from_hparams"]
