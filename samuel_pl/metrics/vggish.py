"""VGGish (Hershey et al. 2017) in plain torch, loading the torchvggish release weights.

Architecture and state-dict keys follow torchvggish, so ``vggish-10086976.pth`` loads with
``strict=True``: ``features.{0,3,6,8,11,13}`` are 3x3 convs (64, 128, 256, 256, 512, 512) with
2x2 max-pools after blocks 1, 2, 4 and 6; ``embeddings.{0,2,4}`` are Linear 12288-4096-4096-128.

Preprocessing is the published one: 16 kHz mono, 25 ms periodic-Hann frames with a 10 ms hop,
|rfft(512)|, 64 HTK-mel bands 125-7500 Hz, ``log(mel + 0.01)``, non-overlapping 0.96 s examples
of 96 frames. For FAD the raw 128-d embedding is used without the final ReLU (as Google's FAD
does); the PCA/quantisation post-processing (``vggish_pca_params-970ea276.pth``) is optional.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from samuel_pl.errors import SamuelError
from samuel_pl.metrics.embedders import AudioEmbedder
from samuel_pl.safeload import load_torch_file

WEIGHTS_FILE = "vggish-10086976.pth"
PCA_FILE = "vggish_pca_params-970ea276.pth"
RELEASE_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"

SR = 16000
WIN, HOP, NFFT = 400, 160, 512  # 25 ms, 10 ms, next power of two
N_MELS, FMIN, FMAX = 64, 125.0, 7500.0
EXAMPLE_FRAMES = 96  # 0.96 s
LOG_OFFSET = 0.01
QUANT_MIN, QUANT_MAX = -2.0, 2.0


class VGGishNet(nn.Module):
    """The VGGish CNN: ``(B, 1, 96, 64)`` log-mel examples -> ``(B, 128)``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                c_in = int(v)
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(True),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Linear(4096, 128),
            nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor, final_relu: bool = True) -> torch.Tensor:
        x = self.features(x)  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (B, 6*4*512) in TF's (H, W, C) order
        for i, layer in enumerate(self.embeddings):
            if i == len(self.embeddings) - 1 and not final_relu:
                break
            x = layer(x)
        return x


def vggish_mel_matrix() -> np.ndarray:
    """HTK-mel triangular filters ``(257, 64)`` with the DC bin zeroed, as in VGGish."""

    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)

    bins_mel = hz_to_mel(np.linspace(0.0, SR / 2, NFFT // 2 + 1))
    edges = np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2)
    lower = (bins_mel[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None]
    upper = (edges[None, 2:] - bins_mel[:, None]) / (edges[2:] - edges[1:-1])[None]
    mat = np.maximum(0.0, np.minimum(lower, upper))
    mat[0, :] = 0.0
    return mat


def find_weights(path: str | Path | None, filename: str = WEIGHTS_FILE) -> Path:
    """Resolve ``filename`` from ``path`` (a file or folder) or the torch hub checkpoint cache."""
    searched: list[Path] = []
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        searched.append(p)
        if (p / filename).is_file():
            return p / filename
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    searched.append(hub)
    if (hub / filename).is_file():
        return hub / filename
    raise SamuelError(
        f"VGGish weights {filename} not found (searched: {', '.join(map(str, searched))}); "
        f"download {RELEASE_URL}{filename} and put it in {hub} or pass its path"
    )


def _load(path: Path) -> dict:
    # weights_only; the PCA release file pickles numeric numpy arrays, which are allowed.
    weights: dict = load_torch_file(path, "VGGish weights", allow_numpy=True)
    return weights


class VGGishEmbedder(AudioEmbedder):
    """VGGish embeddings ``(B, N) 16 kHz -> (B, examples, 128)``, one per 0.96 s.

    Args:
        weights: ``vggish-10086976.pth`` or a folder holding it; default: torch hub cache.
        postprocess: apply the AudioSet PCA + 8-bit quantisation (needs ``vggish_pca_params``).
        pca_weights: the PCA file or its folder; default: next to the weights, then the hub cache.
        final_relu: keep torchvggish's ReLU after the last layer (FAD convention: False).
    """

    name = "vggish"
    metric_name = "FAD-VGGish"
    sample_rate = SR
    dim = 128
    min_samples = WIN + HOP * (EXAMPLE_FRAMES - 1)

    def __init__(
        self,
        weights: str | Path | None = None,
        postprocess: bool = False,
        pca_weights: str | Path | None = None,
        final_relu: bool = False,
    ) -> None:
        super().__init__()
        self.net = VGGishNet()
        file = find_weights(weights)
        self.net.load_state_dict(_load(file), strict=True)
        self.net.eval()
        self.postprocess, self.final_relu = postprocess, final_relu
        self.register_buffer("mel_fb", torch.tensor(vggish_mel_matrix(), dtype=torch.float32))
        self.register_buffer("window", torch.hann_window(WIN, periodic=True))
        self.register_buffer("_pca_matrix", torch.eye(128))
        self.register_buffer("_pca_means", torch.zeros(128, 1))
        if postprocess:
            pca = _load(find_weights(pca_weights or file.parent, PCA_FILE))
            mat = next(pca[k] for k in ("pca_eigen_vectors", "_pca_matrix") if k in pca)
            means = next(pca[k] for k in ("pca_means", "_pca_means") if k in pca)
            self._pca_matrix.copy_(torch.as_tensor(np.asarray(mat), dtype=torch.float32))
            self._pca_means.copy_(
                torch.as_tensor(np.asarray(means), dtype=torch.float32).reshape(-1, 1)
            )

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` 16 kHz -> log-mel frames ``(B, T, 64)``, T = 1 + (N - 400) // 160."""
        frames = audio.float().unfold(-1, WIN, HOP) * self.window  # (B, T, 400)
        mag = torch.fft.rfft(frames, n=NFFT).abs()  # (B, T, 257)
        return torch.log(mag @ self.mel_fb + LOG_OFFSET)  # (B, T, 64)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() != 2:
            raise ValueError(f"expected (batch, samples), got {tuple(audio.shape)}")
        if audio.shape[1] < self.min_samples:
            audio = nn.functional.pad(audio, (0, self.min_samples - audio.shape[1]))
        mel = self.log_mel(audio)  # (B, T, 64)
        b, n_ex = mel.shape[0], mel.shape[1] // EXAMPLE_FRAMES
        ex = mel[:, : n_ex * EXAMPLE_FRAMES].reshape(b * n_ex, 1, EXAMPLE_FRAMES, N_MELS)
        emb = self.net(ex, final_relu=self.final_relu)  # (B * n_ex, 128)
        if self.postprocess:
            emb = (self._pca_matrix @ (emb.T - self._pca_means)).T  # (B * n_ex, 128)
            emb = emb.clamp(QUANT_MIN, QUANT_MAX)
            emb = torch.round((emb - QUANT_MIN) * (255.0 / (QUANT_MAX - QUANT_MIN)))
        return emb.reshape(b, n_ex, 128)  # (B, examples, 128)
