"""``FrechetAudioDistance``: a torchmetrics Metric that accumulates embedding statistics.

States are float64 sums, outer-product sums and counts for the "real" (reference) and "fake"
(generated) sets, reduced with ``sum`` so the metric syncs across DDP ranks and scales to any
number of files. FAD-inf and per-song FAD need the embeddings themselves: use the functions in
``samuel_pl.metrics.frechet`` on embeddings from ``embedder.embed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics import Metric

from samuel_pl.metrics.embedders import AudioEmbedder
from samuel_pl.metrics.frechet import frechet_distance


class FrechetAudioDistance(Metric):
    """Frechet distance between embeddings of reference and generated audio.

    Args:
        embedder: an ``AudioEmbedder`` (``build_embedder("mel")``, ...); frozen, in eval mode.

    ``update(audio, real, sample_rate=None)``: ``audio`` is ``(B, N)`` mono at the embedder's
    rate, or (with ``sample_rate``) a sequence of ``(C, N)``/``(N,)`` arrays or tensors at that
    rate, downmixed and resampled per clip. ``update(embeddings=emb (M, dim), real=...)`` (or
    ``update_embeddings``) adds precomputed embeddings. ``compute()`` returns the distance as a
    float64 scalar tensor; its reported name is ``embedder.metric_name`` (e.g. "FD-mel").
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, embedder: AudioEmbedder, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embedder = embedder.eval().requires_grad_(False)
        d = embedder.dim
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(d, dtype=torch.float64), "sum")
            self.add_state(f"{side}_outer", torch.zeros(d, d, dtype=torch.float64), "sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.float64), "sum")

    @property
    def name(self) -> str:
        """How this distance is reported, e.g. "FD-mel" or "FAD-VGGish"."""
        return self.embedder.metric_name

    def update(
        self,
        audio: torch.Tensor | Sequence[np.ndarray | torch.Tensor] | None = None,
        real: bool = True,
        sample_rate: int | None = None,
        embeddings: torch.Tensor | np.ndarray | None = None,
    ) -> None:
        """Add a batch of clips (embedded here) or precomputed ``embeddings`` (M, dim)."""
        if (audio is None) == (embeddings is None):
            raise ValueError("pass exactly one of audio and embeddings")
        if embeddings is None:
            embeddings = self._embed(audio, sample_rate)
        x = torch.as_tensor(embeddings).to(device=self.real_sum.device, dtype=torch.float64)
        if x.dim() != 2 or x.shape[1] != self.embedder.dim:
            raise ValueError(f"expected embeddings (M, {self.embedder.dim}), got {tuple(x.shape)}")
        side = "real" if real else "fake"
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + x.sum(0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + x.T @ x)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + x.shape[0])

    def update_embeddings(self, emb: torch.Tensor | np.ndarray, real: bool) -> None:
        """Add embeddings ``(M, dim)`` to the real or fake statistics."""
        self.update(embeddings=emb, real=real)

    @torch.no_grad()
    def _embed(
        self, audio: torch.Tensor | Sequence[np.ndarray | torch.Tensor], sample_rate: int | None
    ) -> torch.Tensor:
        if sample_rate is None:
            if not isinstance(audio, torch.Tensor) or audio.dim() != 2:
                raise ValueError("without sample_rate, audio must be a (B, N) tensor")
            return self.embedder(audio).flatten(0, 1)  # (B * frames, dim)
        parts = [
            self.embedder.embed(
                a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a, sample_rate
            )
            for a in audio
        ]
        return torch.from_numpy(np.concatenate(parts))  # (sum of frames, dim)

    def _stats(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        n = float(getattr(self, f"{side}_n"))
        if n < 2:
            raise ValueError(f"FrechetAudioDistance needs >= 2 {side} embeddings, got {n:.0f}")
        s = getattr(self, f"{side}_sum").cpu().numpy()
        outer = getattr(self, f"{side}_outer").cpu().numpy()
        mu = s / n
        cov = (outer - n * np.outer(mu, mu)) / (n - 1)  # unbiased, as np.cov
        return mu, cov

    def compute(self) -> torch.Tensor:
        return torch.tensor(
            frechet_distance(*self._stats("real"), *self._stats("fake")), dtype=torch.float64
        )
