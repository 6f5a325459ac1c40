"""samuel_pl: vocal-conditioned accompaniment generation (SAMUeL) on PyTorch Lightning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from samuel_pl.generation import Accompanist

__all__ = ["Accompanist", "__version__"]


def __getattr__(name: str) -> Any:
    """Lazy exports, so ``import samuel_pl`` stays light (no torch or Lightning import)."""
    if name == "Accompanist":
        from samuel_pl.generation import Accompanist

        return Accompanist
    raise AttributeError(f"module 'samuel_pl' has no attribute {name!r}")
