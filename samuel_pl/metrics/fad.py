"""``FrechetAudioDistance``: the evaluation's Frechet distance as a torchmetrics Metric.

States are the embeddings themselves (float64), per side, and the number of frames of each
generated clip, all reduced with ``cat`` so the metric syncs across DDP ranks. Keeping the
embeddings (not only their sums) is what the song bootstrap interval and FAD-inf need; they are
computed with the functions of ``samuel_pl.metrics.frechet``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.utilities.data import dim_zero_cat

from samuel_pl.metrics.base import Clips, EvalMetric, as_clips
from samuel_pl.metrics.embedders import AudioEmbedder
from samuel_pl.metrics.frechet import bootstrap_fad_ci, fad_from_embeddings, fad_inf


class FrechetAudioDistance(EvalMetric):
    """Frechet distance between embeddings of generated (``preds``) and reference (``targets``)
    audio, reported as ``key`` (e.g. ``fd_mel``), with a bootstrap interval over generated clips.

    Args:
        embedder: an ``AudioEmbedder`` (``build_embedder("mel")``, ...); frozen, in eval mode.
        sample_rate: rate of the clips given to ``update`` (default: the embedder's).
        n_boot, seed: bootstrap of ``intervals()`` (songs resampled, see ``bootstrap_fad_ci``).
        with_inf: also report ``<key>_inf`` (FAD-inf, Gui et al. 2024) when there are at least
            4 (dim + 1) generated embeddings.

    ``update(preds, targets=None)``: clips ``(B, N)`` or sequences of ``(C, N)``/``(N,)``
    arrays, each embedded by ``embedder.embed`` (downmixed and resampled per clip); a batch
    may hold either side only. :meth:`add_embeddings` adds precomputed embeddings.
    """

    higher_is_better = False

    def __init__(
        self,
        embedder: AudioEmbedder,
        sample_rate: int | None = None,
        n_boot: int = 0,
        seed: int = 0,
        with_inf: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(sample_rate or embedder.sample_rate, n_boot, seed, **kwargs)
        self.embedder = embedder.eval().requires_grad_(False)
        self.with_inf = with_inf
        self.add_state("real_emb", [], dist_reduce_fx="cat")  # (frames, dim) per clip
        self.add_state("fake_emb", [], dist_reduce_fx="cat")  # (frames, dim) per clip
        self.add_state("fake_frames", [], dist_reduce_fx="cat")  # (1,) frames of each clip

    @property
    def name(self) -> str:
        """How this distance is shown, e.g. "FD-mel" or "FAD-VGGish"."""
        return self.embedder.metric_name

    @property
    def key(self) -> str:
        """The reported value's name, e.g. "fd_mel"."""
        return self.name.lower().replace("-", "_")

    def update(
        self,
        preds: Clips | None,
        targets: Clips | None = None,
        *,
        vocals: Clips | None = None,
        seconds: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        self._add(
            [self._embed(c) for c in as_clips(preds)] if preds is not None else (),
            [self._embed(c) for c in as_clips(targets)] if targets is not None else (),
        )

    def add_embeddings(
        self,
        preds: Sequence[np.ndarray | torch.Tensor] = (),
        targets: Sequence[np.ndarray | torch.Tensor] = (),
    ) -> None:
        """Add precomputed embeddings ``(frames, dim)`` per generated / reference clip."""
        # what torchmetrics' wrapped update() does: count the update, drop a cached compute()
        self._update_count += 1
        self._computed = None
        self._add(preds, targets)

    def _add(
        self,
        preds: Sequence[np.ndarray | torch.Tensor],
        targets: Sequence[np.ndarray | torch.Tensor],
    ) -> None:
        for side, clips in (("fake", preds), ("real", targets)):
            for emb in clips:
                x = torch.as_tensor(emb).to(device=self.device, dtype=torch.float64)
                if x.dim() != 2 or x.shape[1] != self.embedder.dim:
                    raise ValueError(
                        f"expected embeddings (frames, {self.embedder.dim}), got {tuple(x.shape)}"
                    )
                getattr(self, f"{side}_emb").append(x)
                if side == "fake":
                    self.fake_frames.append(torch.tensor([x.shape[0]], device=self.device))

    @torch.no_grad()
    def _embed(self, clip: np.ndarray) -> np.ndarray:
        return self.embedder.embed(clip, self.sample_rate)  # (frames, dim)

    def _side(self, side: str) -> np.ndarray:
        """All embeddings ``(M, dim)`` of a side; an error under 2."""
        state = getattr(self, f"{side}_emb")
        n = 0 if isinstance(state, list) and not state else len(dim_zero_cat(state))
        if n < 2:
            raise ValueError(f"FrechetAudioDistance needs >= 2 {side} embeddings, got {n}")
        return dim_zero_cat(state).cpu().numpy().reshape(-1, self.embedder.dim)

    def _songs(self) -> list[np.ndarray]:
        """The generated embeddings split per clip."""
        sizes = dim_zero_cat(self.fake_frames).cpu().numpy().astype(int).tolist()
        return np.split(self._side("fake"), np.cumsum(sizes)[:-1])

    def _inf_ok(self, n_fake: int) -> bool:
        return self.with_inf and n_fake >= 4 * (self.embedder.dim + 1)

    def _values(self) -> dict[str, float]:
        real, fake = self._side("real"), self._side("fake")
        out = {self.key: fad_from_embeddings(real, fake)}
        if self._inf_ok(len(fake)):
            res = fad_inf(real, fake, min_n=2 * (self.embedder.dim + 1), seed=self.seed)
            out[f"{self.key}_inf"] = res.fad_inf
        return out

    def _intervals(self) -> dict[str, tuple[float, float]]:
        out = {k: (v, v) for k, v in self._values().items()}
        songs = self._songs()
        if len(songs) >= 2 and self.n_boot >= 1:
            ci = bootstrap_fad_ci(self._side("real"), songs, n_boot=self.n_boot, seed=self.seed)
            out[self.key] = (ci.low, ci.high)
        return out

    def notes(self) -> list[str]:
        with self._synced():
            n_real, n_fake = len(self._side("real")), len(self._side("fake"))
        dim, out = self.embedder.dim, []
        if min(n_fake, n_real) <= dim:
            out.append(
                f"{self.key}: {n_fake} generated / {n_real} reference embeddings for D={dim}: "
                "covariances are singular, compare values only within this suite"
            )
        if self.with_inf and not self._inf_ok(n_fake):
            out.append(f"{self.key}_inf: needs >= {4 * (dim + 1)} embeddings")
        return out
