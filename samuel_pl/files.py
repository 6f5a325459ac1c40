"""The one home of atomic file writes: bytes, text, JSON, figures, and streamed writers.

Every write goes to a temporary file in the destination's folder (``.<name>.<random>.tmp``),
is flushed and fsynced, renamed over the destination with ``os.replace`` and the folder is
fsynced: a reader (or a crash) sees the old file or the whole new one, never a part. An OS error
(full disk, no permission) raises :class:`OutputError` naming the destination, and no temporary
file is left behind. Nothing here imports from the rest of ``samuel_pl`` but its errors.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from samuel_pl.errors import OutputError

_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # mkstemp creates 0600; final files get the usual permissions


def os_reason(exc: OSError) -> str:
    """The short OS reason of ``exc`` ('No space left on device')."""
    return exc.strerror or str(exc) or type(exc).__name__


def _cannot_write(p: Path, exc: OSError, what: str) -> OutputError:
    return OutputError(f"{p}: cannot write{f' {what}' if what else ''} ({os_reason(exc)})")


def _open_temp(p: Path, tag: str | None, what: str) -> tuple[int, Path]:
    """Create the folder and a temporary file beside ``p``: ``.<name>.<random>.tmp``, or
    ``.<name>.<tag>.tmp`` when ``tag`` is given (e.g. a pid, for stale-file cleanup)."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if tag is None:
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            os.fchmod(fd, FILE_MODE)
            return fd, Path(tmp)
        tmp_path = p.with_name(f".{p.name}.{tag}.tmp")
        return os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), tmp_path
    except OSError as exc:
        raise _cannot_write(p, exc, what) from exc


@contextlib.contextmanager
def atomic_writer(path: str | Path, what: str = "", tag: str | None = None) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path`` for binary writing; on a clean exit flush, fsync,
    rename it over ``path`` and fsync the folder. On any error the temporary file is removed
    (``path`` keeps its old content) and an OSError becomes OutputError naming ``path``.

    Args:
        path: the destination (its folder is created).
        what: named in the error ('checkpoint' -> 'cannot write checkpoint (...)').
        tag: fixed temporary name ``.<name>.<tag>.tmp`` instead of a random one.
    """
    p = Path(path)
    fd, tmp = _open_temp(p, tag, what)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _cannot_write(p, exc, what) from exc
        raise
    fsync_dir(p.parent)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``; returns ``path``."""
    with atomic_writer(path) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``; returns ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def finite_json(data: Any) -> Any:
    """``data`` with every NaN / +-inf float (in dicts, lists, tuples) replaced by None, so
    ``json.dumps`` gives strict JSON (no ``NaN`` / ``Infinity`` tokens). Writers that know why
    a value is undefined say so beside it (e.g. a ``notes`` entry)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite_json(v) for v in data]
    return data


def write_json(
    path: str | Path, data: Any, indent: int | None = 1, default: Any = None, newline: bool = False
) -> Path:
    """Atomically write ``data`` as strict JSON (``json.dumps(data, indent=indent,
    default=default)``; NaN / +-inf become null, :func:`finite_json`), UTF-8, plus a final
    newline when ``newline``; returns ``path``."""
    text = json.dumps(finite_json(data), indent=indent, default=default, allow_nan=False)
    return write_text(path, text + "\n" if newline else text)


def write_npy(path: str | Path, array: Any) -> Path:
    """Atomically write ``array`` as a float32 ``.npy`` file (readable memory-mapped)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32))
    return write_bytes(path, buf.getvalue())


def write_figure(fig: Any, path: str | Path, **savefig: Any) -> Path:
    """Atomically save a matplotlib figure; the format follows the extension (``.png``,
    ``.svg``, ``.pdf``); ``savefig`` goes to ``Figure.savefig`` (dpi, bbox_inches, ...)."""
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or None
    with atomic_writer(p) as fh:
        fig.savefig(fh, format=fmt, **savefig)
    return p


def ensure_writable_dir(folder: str | Path, what: str = "output folder") -> Path:
    """Check, before any work, that files can be created in ``folder`` (or where it will be
    created); leaves nothing behind. Raises OutputError naming the folder and the OS error."""
    target = Path(folder)
    base = target
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise OutputError(f"{target}: {what} cannot be created ({base} is not a folder)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=base)
    except OSError as exc:
        raise OutputError(f"{target}: {what} is not writable ({os_reason(exc)})") from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return target


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
