"""Crash-safe checkpoint writes (:func:`samuel_pl.files.atomic_writer`) and weights-only
checkpoint reads."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from samuel_pl.files import atomic_writer
from samuel_pl.safeload import load_checkpoint, load_torch_file

# Fault-injection hook for the crash tests: seconds to sleep between writing the temporary
# file and its rename, so a test can kill the process in the middle of a checkpoint save.
SAVE_DELAY_ENV = "SAMUEL_TEST_CKPT_SAVE_DELAY_S"
_TEMP = re.compile(r"^\..+\.(\d+)\.tmp$")


class AtomicCheckpointIO(TorchCheckpointIO):
    """A killed process leaves either the old checkpoint or the new one, never half of one.

    Reads are ``weights_only`` (tensors and plain data; a checkpoint that pickles anything else
    is refused without running it); with ``task`` set, a checkpoint of another task (an audio
    VAE given to a diffusion run, or the reverse) is refused with one line saying where it goes.
    """

    def __init__(self, task: str | None = None) -> None:
        super().__init__()
        self.task = task

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        with atomic_writer(path, "checkpoint", tag=str(os.getpid())) as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            delay = float(os.environ.get(SAVE_DELAY_ENV) or 0)
            if delay > 0:
                time.sleep(delay)

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Always weights-only, whatever the caller asks for."""
        if self.task is not None:
            return load_checkpoint(path, self.task, map_location=map_location)
        ckpt: dict[str, Any] = load_torch_file(path, "checkpoint", map_location=map_location)
        return ckpt


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete ``.<name>.<pid>.tmp`` files of checkpoint saves whose process is gone (a killed
    run); return what was removed. Temporary files of a live process are kept."""
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for f in root.iterdir():
        m = _TEMP.match(f.name)
        if not m or not f.is_file() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            f.unlink()
            removed.append(f)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is not saving yet: a leftover from a killed one
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
