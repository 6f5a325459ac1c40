"""Typed configuration schemas and the YAML + dotlist loader."""

from samuel_pl.config.loader import ConfigError, load_config, to_dict, to_yaml
from samuel_pl.config.schema import (
    CallbackConfig,
    CodecConfig,
    DataConfig,
    DiffusionConfig,
    FitConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    SamplingConfig,
    TrackingConfig,
    TrainerConfig,
)
from samuel_pl.config.vae import VAEConfig
from samuel_pl.config.validate import validate
from samuel_pl.config.vocoder import VocoderConfig

__all__ = [
    "CallbackConfig",
    "CodecConfig",
    "ConfigError",
    "DataConfig",
    "DiffusionConfig",
    "FitConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "SamplingConfig",
    "TrackingConfig",
    "TrainerConfig",
    "VAEConfig",
    "VocoderConfig",
    "load_config",
    "to_dict",
    "to_yaml",
    "validate",
]
