"""Safe loading of torch files: ``weights_only=True`` everywhere, never arbitrary unpickling.

Checkpoints, caches and weight files may come from anywhere (a shared drive, a download). A
pickle can run any code while it is read, so every ``torch.load`` in this package goes through
:func:`load_torch_file`, which only builds tensors, containers and plain values (plus numeric
numpy arrays where a caller allows them). A file that needs anything else is refused with an
:class:`UnsafeFileError` naming the file and the object it wanted to build; nothing in it runs.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from samuel_pl.errors import SamuelError

_GLOBAL = re.compile(r"(?:Unsupported global: GLOBAL|but got) <?(?:class )?'?([\w.]+)")


class UnsafeFileError(SamuelError):
    """A file that would unpickle objects other than tensors and plain data (refused)."""


def numpy_globals() -> list[Any]:
    """The globals that numeric numpy arrays and scalars need (no object arrays)."""
    core = getattr(np, "_core", None) or np.core
    dtypes = [type(np.dtype(c)) for c in "?bhilqBHILQefdgFDG"]
    return [np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar, *dtypes]


def refusal_reason(exc: BaseException) -> str:
    """A short reason for a ``weights_only`` refusal, naming the object the file wanted."""
    m = _GLOBAL.search(str(exc))
    what = m.group(1) if m else "a non-tensor object"
    return f"it wants to build {what}, which a weights-only load does not allow"


def load_torch_file(
    path: str | Path,
    what: str = "checkpoint",
    *,
    map_location: Any = "cpu",
    allow_numpy: bool = False,
    extra_globals: Sequence[Any] = (),
) -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors that name the file.

    Args:
        path: the file.
        what: what the file is, for messages ("checkpoint", "VGGish weights", ...).
        map_location: passed to ``torch.load``.
        allow_numpy: also allow numeric numpy arrays/scalars (release files that pickle them).
        extra_globals: further classes a caller trusts (kept empty in this package).

    Raises:
        SamuelError: missing or unreadable file.
        UnsafeFileError: the file pickles anything else; nothing in it was executed.
    """
    p = Path(path)
    if not p.is_file():
        raise SamuelError(f"{p}: {what} not found")
    allowed = [*(numpy_globals() if allow_numpy else []), *extra_globals]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(
            f"{p}: refused to load {what}: {refusal_reason(exc)} (loading it could run code; "
            "convert a trusted file to a plain state_dict of tensors)"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SamuelError(f"{p}: not a readable {what} ({msg[:200]})") from exc
