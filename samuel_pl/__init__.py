"""samuel_pl: vocal-conditioned accompaniment generation (SAMUeL) on PyTorch Lightning."""

__version__ = "0.1.0"
