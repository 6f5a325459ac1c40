"""The fit progress bar counts steps of trainer.max_steps (Lightning's says "Epoch 1/-2")."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from samuel_pl.training.progress import RichStepProgressBar, TQDMStepProgressBar, step_progress_bar


def _trainer(**kw: object) -> SimpleNamespace:
    base = {"max_steps": 200, "global_step": 37, "current_epoch": 1, "max_epochs": -1}
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("kind", [RichStepProgressBar, TQDMStepProgressBar])
def test_total_and_description_are_steps_of_max_steps(kind: type) -> None:
    bar = kind()
    bar._trainer = _trainer()
    assert bar.total_train_batches == 200
    if kind is RichStepProgressBar:
        assert bar._get_train_description(1) == "step 37/200 (epoch 1)"


def test_the_bar_of_a_real_fit_reaches_max_steps(
    debug_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import samuel_pl.training.trainer as trainer_module
    from samuel_pl.config import load_config
    from samuel_pl.training import fit
    from tests.conftest import DEBUG_YAML

    quick = ["tracking.enabled=false", "callbacks.num_sample_songs=0", "trainer.max_steps=3"]
    cfg = load_config(DEBUG_YAML, [*debug_overrides, *quick, "trainer.enable_progress_bar=true"])
    seen: list[tuple[int, str]] = []

    class Spy(TQDMStepProgressBar):
        def init_train_tqdm(self) -> object:
            bar = super().init_train_tqdm()
            bar.fp = io.StringIO()  # keep the test output clean
            return bar

        def on_train_batch_end(self, trainer, *args: object) -> None:
            super().on_train_batch_end(trainer, *args)
            seen.append((self.train_progress_bar.n, self.train_progress_bar.desc))

    monkeypatch.setattr(trainer_module, "step_progress_bar", Spy)
    fit(cfg)
    assert seen[-1][0] == 3 and seen[-1][1].startswith("step 3/3 (epoch ")
    assert [n for n, _ in seen] == [1, 2, 3]


def test_the_bar_kind_follows_lightning() -> None:
    from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

    expected = RichStepProgressBar if _RICH_AVAILABLE else TQDMStepProgressBar
    assert type(step_progress_bar()) is expected
