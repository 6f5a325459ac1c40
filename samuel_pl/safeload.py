"""Safe loading of torch files: ``weights_only=True`` everywhere, never arbitrary unpickling.

Checkpoints, caches and weight files may come from anywhere (a shared drive, a download). A
pickle can run any code while it is read, so every ``torch.load`` in this package goes through
:func:`load_torch_file`, which only builds tensors, containers and plain values (plus numeric
numpy arrays where a caller allows them). A file that needs anything else is refused with an
:class:`UnsafeFileError` naming the file and the object it wanted to build; nothing in it runs.

Files that are not torch files at all (empty, text, random bytes, a cut-off download, a folder,
no read permission) get a one-line :class:`~samuel_pl.errors.SamuelError` that says so, never a
raw ``EOFError`` or a claim that they are unsafe.
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

# What a weights-only refusal names, across torch versions (one pattern per message format):
#   2.4+   "Unsupported global: GLOBAL io.open was not an allowed global by default"
#   2.6+   "Trying to load unsupported GLOBAL posix.system whose module posix is blocked"
#   <2.4   "WeightsUnpickler error: Unsupported class __main__.Payload"
#   any    "Trying to call reduce for unrecognized function <built-in function open>"
#   any    "... via `add_safe_globals` but got <class 'x.Y'>"
_REFUSALS = (
    re.compile(r"Unsupported global: GLOBAL ([\w.]+)"),
    re.compile(r"unsupported GLOBAL ([\w.]+)"),
    re.compile(r"Unsupported class ([\w.]+)"),
    re.compile(r"unrecognized function <?(?:built-in function |function )?([\w.]+)"),
    re.compile(r"but got <class '([\w.]+)'>"),
)
# Torch's words for bytes that are no pickle at all (not a refusal of a named object).
_GARBAGE = re.compile(r"Unsupported operand|invalid load key|unpickling stack underflow")
_ZIP, _PICKLE = b"PK\x03\x04", (b"\x80",)  # torch's zip format; the legacy pickle format


class UnsafeFileError(SamuelError):
    """A file that would unpickle objects other than tensors and plain data (refused)."""


def numpy_globals() -> list[Any]:
    """The globals that numeric numpy arrays and scalars need (no object arrays)."""
    core = getattr(np, "_core", None) or np.core
    dtypes = [type(np.dtype(c)) for c in "?bhilqBHILQefdgFDG"]
    return [np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar, *dtypes]


def refused_object(message: str) -> str | None:
    """The object a weights-only refusal message names, or None (no known message format)."""
    for pattern in _REFUSALS:
        m = pattern.search(message)
        if m:
            return m.group(1)
    return None


def refusal_reason(exc: BaseException | str) -> str:
    """A short reason for a ``weights_only`` refusal, naming the object the file wanted."""
    what = refused_object(str(exc)) or "a non-tensor object"
    return f"it wants to build {what}, which a weights-only load does not allow"


def _not_a_file(p: Path, what: str, detail: str) -> SamuelError:
    return SamuelError(f"{p}: not a {what} file ({detail})")


def _magic(p: Path, what: str) -> bytes:
    """The first bytes of ``p``; SamuelError for a missing, unreadable or empty file."""
    if p.is_dir():
        raise SamuelError(f"{p}: is a folder, not a {what} file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise SamuelError(f"{p}: {what} not found") from None
    except PermissionError:
        raise SamuelError(f"{p}: permission denied (the {what} cannot be read)") from None
    except OSError as exc:
        raise SamuelError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
    if not head:
        raise _not_a_file(p, what, "empty file")
    return head


def load_torch_file(
    path: str | Path,
    what: str = "checkpoint",
    *,
    map_location: Any = "cpu",
    allow_numpy: bool = False,
    extra_globals: Sequence[Any] = (),
    mmap: bool = False,
) -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors that name the file.

    Args:
        path: the file.
        what: what the file is, for messages ("checkpoint", "VGGish weights", ...).
        map_location: passed to ``torch.load``.
        allow_numpy: also allow numeric numpy arrays/scalars (release files that pickle them).
        extra_globals: further classes a caller trusts (kept empty in this package).
        mmap: memory-map the tensors of a zip-format file (large weight files).

    Raises:
        SamuelError: missing, unreadable, empty, truncated or not a torch file at all.
        UnsafeFileError: the file pickles anything else; nothing in it was executed.
    """
    p = Path(path).expanduser()
    head = _magic(p, what)
    is_zip = head.startswith(_ZIP)
    if not is_zip and not head.startswith(_PICKLE):
        raise _not_a_file(p, what, "not a zip archive or a torch pickle: text or other data?")
    allowed = [*(numpy_globals() if allow_numpy else []), *extra_globals]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(p, map_location=map_location, weights_only=True, mmap=mmap and is_zip)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        named = refused_object(message)
        if named is None and _GARBAGE.search(message):
            raise _not_a_file(p, what, "damaged pickle data") from None
        raise UnsafeFileError(
            f"{p}: refused to load {what}: {refusal_reason(message)} (loading it could run "
            "code; convert a trusted file to a plain state_dict of tensors)"
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if is_zip and ("central directory" in text or "zip archive" in text):
            raise _not_a_file(p, what, "truncated or damaged zip archive") from None
        if isinstance(exc, EOFError):
            raise _not_a_file(p, what, "truncated") from None
        raise SamuelError(
            f"{p}: not a readable {what} ({type(exc).__name__}: {text[:200]})"
        ) from None


_TASK_USE = {
    "vae": "this is an audio VAE checkpoint; use it as codec.path={path} (codec.type=vae)",
    "vocoder": "this is a vocoder checkpoint; use it as codec.vocoder={path} (codec.type=mel)",
    "diffusion": "this is a SAMUeL checkpoint; use it as --ckpt of generate/evaluate/serve",
}


def checkpoint_task(ckpt: Any) -> str:
    """The ``task`` of the run that saved a Lightning checkpoint dict (``diffusion`` when the
    saved config has none; ``unknown`` without a saved config)."""
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    config = hparams.get("config") if isinstance(hparams, dict) else None
    return str(config.get("task", "diffusion")) if isinstance(config, dict) else "unknown"


def load_checkpoint(path: str | Path, task: str, *, map_location: Any = "cpu") -> dict[str, Any]:
    """A Lightning checkpoint saved by a ``task`` run (diffusion | vae | vocoder), weights-only.

    Raises SamuelError (one line) when it is no such checkpoint: not a torch file, no
    ``state_dict``, or the checkpoint of the other task (saying where that one goes).
    """
    p = Path(path).expanduser()
    return checked_checkpoint(load_torch_file(p, "checkpoint", map_location=map_location), p, task)


def checked_checkpoint(ckpt: Any, p: Path, task: str) -> dict[str, Any]:
    """``ckpt`` (loaded from ``p``) when it is a Lightning checkpoint of a ``task`` run; the
    SamuelError of :func:`load_checkpoint` otherwise."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise SamuelError(f"{p}: not a Lightning checkpoint (no state_dict inside)")
    found = checkpoint_task(ckpt)
    if found != task:
        use = _TASK_USE.get(found, f"it was saved by a {found!r} run")
        raise SamuelError(f"{p}: {use.format(path=p)}; a `task: {task}` checkpoint is needed here")
    return ckpt
