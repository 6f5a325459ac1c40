"""Save the last good state when training stops on a NaN/inf loss or gradient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from samuel_pl.errors import NonFiniteError


class NonFiniteGuard(pl.Callback):
    """On a :class:`NonFiniteError` (``trainer.nonfinite=stop``), write ``last.ckpt``.

    The error is raised before the optimiser step of the bad batch, so the weights, EMA and
    optimiser state are still those after the last good step; ``resume=auto`` continues from
    there. The error message is extended with the checkpoint path.

    Args:
        ckpt_dir: the run's ``checkpoints/`` folder.
    """

    def __init__(self, ckpt_dir: str | Path) -> None:
        self.ckpt_dir = Path(ckpt_dir)

    def on_exception(self, trainer: pl.Trainer, pl_module: Any, exception: BaseException) -> None:
        if not isinstance(exception, NonFiniteError) or getattr(trainer, "fast_dev_run", False):
            return
        if not all(bool(torch.isfinite(p).all()) for p in pl_module.parameters()):
            note = "; the weights are already non-finite, so no checkpoint was written"
        else:
            path = self.ckpt_dir / "last.ckpt"
            try:
                trainer.save_checkpoint(path)
                note = f"; saved the last good state (step {trainer.global_step}) to {path}"
            except Exception as exc:  # noqa: BLE001 - never hide the original error
                note = f"; saving the last good state failed ({exc})"
        exception.args = (f"{exception.args[0] if exception.args else ''}{note}",)


class PeriodicLast(pl.Callback):
    """Write ``last.ckpt`` every ``every`` optimiser steps, mid-epoch included, so a killed run
    loses at most ``every`` steps (``callbacks.checkpoint_every_n_steps``). Independent of the
    validation-driven top-k checkpoints, which keep their own schedule.

    Args:
        ckpt_dir: the run's ``checkpoints/`` folder.
        every: interval in optimiser steps (> 0).
    """

    def __init__(self, ckpt_dir: str | Path, every: int) -> None:
        self.path = Path(ckpt_dir) / "last.ckpt"
        self.every = int(every)
        self._saved_at = -1

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
        step = trainer.global_step
        if step > 0 and step % self.every == 0 and step != self._saved_at:
            self._saved_at = step
            trainer.save_checkpoint(self.path)
