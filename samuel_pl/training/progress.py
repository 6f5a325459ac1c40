"""Progress bars for runs bounded by ``trainer.max_steps``: ``step 37/200 (epoch 1)``.

Lightning's bars count batches per epoch and, with ``max_epochs=-1`` (every run bounded by
steps), show ``Epoch 1/-2``. These count optimizer steps against ``max_steps`` instead.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import _update_n
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE


def step_description(trainer: Any) -> str:
    """``step <global step>/<max_steps> (epoch <n>)``."""
    return f"step {trainer.global_step}/{trainer.max_steps} (epoch {trainer.current_epoch})"


class RichStepProgressBar(RichProgressBar):
    """Lightning's Rich bar, counting steps of ``max_steps`` (when it is set)."""

    @property
    def total_train_batches(self) -> int | float:
        t = self.trainer
        return t.max_steps if t.max_steps > 0 else super().total_train_batches

    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_steps > 0:
            return step_description(self.trainer)
        return super()._get_train_description(current_epoch)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if (
            trainer.max_steps > 0
            and self.progress is not None
            and self.train_progress_bar_id is not None
        ):
            self.progress.update(
                self.train_progress_bar_id,
                completed=trainer.global_step,
                description=step_description(trainer),
            )
            self.refresh()


class TQDMStepProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, counting steps of ``max_steps`` (when it is set)."""

    @property
    def total_train_batches(self) -> int | float:
        t = self.trainer
        return t.max_steps if t.max_steps > 0 else super().total_train_batches

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        if trainer.max_steps > 0:
            _update_n(self.train_progress_bar, trainer.global_step)
            self.train_progress_bar.set_description(step_description(trainer))

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.max_steps <= 0:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        bar = self.train_progress_bar
        if self._should_update(trainer.global_step, bar.total):
            _update_n(bar, trainer.global_step)
            bar.set_description(step_description(trainer))
            bar.set_postfix(self.get_metrics(trainer, pl_module))


def step_progress_bar() -> pl.Callback:
    """The step-counting bar of the kind Lightning would pick (Rich when it is installed)."""
    return RichStepProgressBar() if _RICH_AVAILABLE else TQDMStepProgressBar()
