"""Meta audiobox-aesthetics scores (PQ, PC, CE, CU) through an adapter; optional.

The predictor network (``audiobox_aesthetics.model.aes.AesMultiOutput``) is built from a local
``checkpoint.pt`` the way the package's own ``AesPredictor`` does, but audio is fed here as
16 kHz mono tensors in 10 s windows (the last one zero-padded and masked, window scores weighted
by their length), so neither torchaudio nor its file loading is needed. When the package or the
checkpoint is missing the scorer is unavailable and says why; it never reports other numbers.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from samuel_pl.audio import convert_channels, resample
from samuel_pl.errors import SamuelError
from samuel_pl.metrics.base import Clips, ClipScoreMetric
from samuel_pl.safeload import load_torch_file

AXES = ("PQ", "PC", "CE", "CU")
SR = 16000
WINDOW_S = 10
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/audiobox-aesthetics/checkpoint.pt"
_CFG_KEYS = (
    "proj_num_layer", "proj_ln", "proj_act_fn", "proj_dropout", "nth_layer",
    "use_weighted_layer_sum", "precision", "normalize_embed", "output_dim",
)  # fmt: skip


class AestheticsScorer:
    """Per-clip aesthetics scores; ``available`` is False (with ``reason``) when it cannot run.

    Args:
        checkpoint: local audiobox-aesthetics ``checkpoint.pt``.
        device: torch device for the predictor.
    """

    def __init__(self, checkpoint: str | Path | None, device: str = "cpu") -> None:
        self.model: Any = None
        self.transform: dict[str, tuple[float, float]] = {}
        self.device = torch.device(device)
        self.reason = ""
        try:
            aes = importlib.import_module("audiobox_aesthetics.model.aes")
        except ImportError as exc:
            self.reason = (
                f"audiobox_aesthetics is not installed ({exc}); "
                "install it with `pip install audiobox_aesthetics`"
            )
            return
        path = Path(checkpoint).expanduser() if checkpoint else None
        if path is None or not path.is_file():
            self.reason = (
                f"checkpoint {path} not found; download {CHECKPOINT_URL} and pass its path"
            )
            return
        try:  # weights_only: a checkpoint that pickles code is refused and reported
            ckpt = load_torch_file(path, "audiobox-aesthetics checkpoint")
        except SamuelError as exc:
            self.reason = str(exc)
            return
        state = {re.sub(r"^model\.", "", k): v for k, v in ckpt["state_dict"].items()}
        cfg = {k: ckpt["model_cfg"][k] for k in _CFG_KEYS if k in ckpt["model_cfg"]}
        model = aes.AesMultiOutput(**cfg, target_transform=ckpt["target_transform"])
        model.load_state_dict(state, strict=True)
        self.model = model.to(self.device).eval()
        self.transform = {
            a: (
                float(ckpt["target_transform"][a]["mean"]),
                float(ckpt["target_transform"][a]["std"]),
            )
            for a in AXES
        }

    @property
    def available(self) -> bool:
        return self.model is not None

    @torch.no_grad()
    def score(self, audio: np.ndarray, sr: int) -> dict[str, float]:
        """Scores of one clip ``(C, N)`` or ``(N,)`` at ``sr``: ``{"PQ", "PC", "CE", "CU"}``."""
        if not self.available:
            raise SamuelError(f"aesthetics unavailable: {self.reason}")
        x = np.asarray(audio, np.float32)
        x = resample(convert_channels(x[None] if x.ndim == 1 else x, 1), sr, SR)[0]  # (N',)
        win = WINDOW_S * SR
        n_win = max(1, -(-len(x) // win))
        wav = np.zeros((n_win, win), np.float32)
        mask = np.zeros((n_win, win), bool)
        for i in range(n_win):
            seg = x[i * win : (i + 1) * win]
            wav[i, : len(seg)], mask[i, : len(seg)] = seg, True
        weights = torch.tensor(mask.sum(1) / win, dtype=torch.float64)  # (W,)
        batch = {
            "wav": torch.from_numpy(wav)[:, None].to(self.device),  # (W, 1, 160000)
            "mask": torch.from_numpy(mask)[:, None].to(self.device),
        }
        preds = self.model(batch)  # {axis: (W,)}
        out = {}
        for a in AXES:
            mean, std = self.transform[a]
            p = preds[a].double().cpu().reshape(-1) * std + mean
            out[a] = float((p * weights).sum() / weights.sum())
        return out


class AestheticsMetric(ClipScoreMetric):
    """Aesthetics scores of each generated clip (``preds``), or "unavailable" with the reason.

    Args:
        scorer: an :class:`AestheticsScorer`.
        sample_rate, n_boot, seed, prefix: as :class:`~samuel_pl.metrics.base.ClipScoreMetric`.

    ``update(preds, targets=None, *, vocals=None)``: ``(B, N)`` tensor or a sequence of
    ``(C, N)``/``(N,)`` clips (only ``preds`` is scored; nothing is done when unavailable).
    ``compute()`` -> ``{axis: mean}`` when available; use :meth:`report` for a JSON-ready dict
    that is ``{"status": "unavailable", "reason": ...}`` otherwise.
    """

    KEYS = AXES
    higher_is_better = True

    def __init__(
        self,
        scorer: AestheticsScorer,
        sample_rate: int,
        n_boot: int = 0,
        seed: int = 0,
        prefix: str = "",
        **kwargs,
    ) -> None:
        super().__init__(sample_rate, n_boot, seed, prefix, **kwargs)
        self.scorer = scorer

    def update(
        self,
        preds: Clips,
        targets: Clips | None = None,
        *,
        vocals: Clips | None = None,
        seconds: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        if self.scorer.available:
            super().update(preds)

    def score(
        self, pred: np.ndarray, target: np.ndarray | None, vocal: np.ndarray | None
    ) -> dict[str, float]:
        return self.scorer.score(pred, self.sample_rate)

    def _values(self) -> dict[str, float]:
        if not self.scorer.available:
            raise SamuelError(f"aesthetics unavailable: {self.scorer.reason}")
        return super()._values()

    def report(self) -> dict[str, Any]:
        """``{"status": "ok", "PQ": ..., ...}`` or ``{"status": "unavailable", "reason": ...}``."""
        if not self.scorer.available:
            return {"status": "unavailable", "reason": self.scorer.reason}
        return {"status": "ok", **{k: float(v) for k, v in self.compute().items()}}
