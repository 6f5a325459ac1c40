"""The one interface of the evaluation metrics, and the per-clip score base class.

Every evaluation metric is a :class:`EvalMetric` (a ``torchmetrics.Metric``) driven the same way
by the evaluation runner: ``update(preds, targets, *, vocals=None, seconds=None)`` per batch of
songs, then ``compute()`` for the values, ``intervals()`` for their 95% bootstrap intervals,
``per_clip()`` for per-song scores and ``notes()`` for caveats. See ``samuel_pl.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

Clips = torch.Tensor | Sequence[np.ndarray | torch.Tensor]


def as_clips(audio: Clips) -> list[np.ndarray]:
    """One numpy array per clip: the rows of a ``(B, N)`` tensor or the items of a sequence;
    a leading channel axis of size 1 is dropped (``(1, N)`` -> ``(N,)``), dtype kept."""
    out = []
    for clip in audio:
        a = clip.detach().cpu().numpy() if isinstance(clip, torch.Tensor) else np.asarray(clip)
        out.append(a[0] if a.ndim == 2 and a.shape[0] == 1 else a)
    return out


def mean_ci(values: Sequence[float], n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval over songs (NaN scores left out)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float("nan"), float("nan"), float("nan")
    if arr.size == 1 or n_boot < 2:
        return float(arr.mean()), float(arr.mean()), float(arr.mean())
    rng = np.random.default_rng(seed)
    reps = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    return float(arr.mean()), float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))


class EvalMetric(Metric):
    """Base of the evaluation metrics (see ``samuel_pl.metrics`` for the signature).

    Args:
        sample_rate: rate of every clip given to ``update``.
        n_boot: bootstrap replicates of ``intervals()`` (< 2: no interval, low = high = value).
        seed: seed of the bootstrap.
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self, sample_rate: int, n_boot: int = 0, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sample_rate, self.n_boot, self.seed = int(sample_rate), int(n_boot), int(seed)

    def update(
        self,
        preds: Clips,
        targets: Clips | None = None,
        *,
        vocals: Clips | None = None,
        seconds: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, torch.Tensor]:
        """``{reported name: value}`` (float64 scalar tensors), over every rank's states."""
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in self._values().items()}

    def intervals(self) -> dict[str, tuple[float, float]]:
        """``{reported name: (low, high)}``: 95% bootstrap interval of each value."""
        with self._synced():
            return self._intervals()

    def per_clip(self) -> dict[str, list[float]]:
        """``{reported name: [score per clip, in update order]}``; empty for pooled metrics."""
        return {}

    def notes(self) -> list[str]:
        """Caveats on the values (e.g. singular covariances), one line each."""
        return []

    def _values(self) -> dict[str, float]:
        raise NotImplementedError

    def _intervals(self) -> dict[str, tuple[float, float]]:
        return {k: (v, v) for k, v in self._values().items()}

    def _synced(self):  # noqa: ANN202 (a context manager)
        """The states of every rank for the duration of the block (no-op in one process)."""
        return self.sync_context(
            dist_sync_fn=self.dist_sync_fn,
            should_sync=self._to_sync,
            should_unsync=self._should_unsync,
        )


class ClipScoreMetric(EvalMetric):
    """Per-clip scores (``score(pred, target, vocal) -> {key: float}``), kept per clip.

    Subclasses set ``KEYS`` and ``score`` on single clips (``(N,)`` mono, or as given).
    ``compute()``: the mean over clips of each key, NaN scores left out (NaN when none is
    defined); ``intervals()``: their bootstrap intervals; ``per_clip()``: every score.

    Args:
        sample_rate, n_boot, seed: as :class:`EvalMetric`.
        prefix: prepended to every key in the reported names (e.g. ``"align_"``).
    """

    KEYS: tuple[str, ...] = ()

    def __init__(
        self, sample_rate: int, n_boot: int = 0, seed: int = 0, prefix: str = "", **kwargs
    ) -> None:
        super().__init__(sample_rate, n_boot, seed, **kwargs)
        self.prefix = prefix
        self.add_state("scores", [], dist_reduce_fx="cat")  # (1, len(KEYS)) float64 per clip

    def score(
        self, pred: np.ndarray, target: np.ndarray | None, vocal: np.ndarray | None
    ) -> dict[str, float]:
        raise NotImplementedError

    def update(
        self,
        preds: Clips,
        targets: Clips | None = None,
        *,
        vocals: Clips | None = None,
        seconds: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        ps = as_clips(preds)
        ts = as_clips(targets) if targets is not None else [None] * len(ps)
        vs = as_clips(vocals) if vocals is not None else [None] * len(ps)
        for p, t, v in zip(ps, ts, vs, strict=True):
            s = self.score(p, t, v)
            row = torch.tensor([[s[k] for k in self.KEYS]], dtype=torch.float64)
            self.scores.append(row.to(self.device))

    def _table(self) -> np.ndarray:
        """(clips, len(KEYS)) float64 scores."""
        if isinstance(self.scores, list) and not self.scores:
            return np.zeros((0, len(self.KEYS)))
        return dim_zero_cat(self.scores).cpu().numpy().reshape(-1, len(self.KEYS))

    def _values(self) -> dict[str, float]:
        table = self._table()
        return {self.prefix + k: mean_ci(table[:, i], 0, 0)[0] for i, k in enumerate(self.KEYS)}

    def _intervals(self) -> dict[str, tuple[float, float]]:
        table = self._table()
        return {
            self.prefix + k: mean_ci(table[:, i], self.n_boot, self.seed)[1:]
            for i, k in enumerate(self.KEYS)
        }

    def per_clip(self) -> dict[str, list[float]]:
        with self._synced():
            table = self._table()
        return {self.prefix + k: table[:, i].tolist() for i, k in enumerate(self.KEYS)}
