"""Embedders: the weight-free mel statistics, the registry, VGGish loading, CLAP's extra."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from samuel_pl.errors import SamuelError
from samuel_pl.metrics import EMBEDDERS, FrechetAudioDistance, build_embedder

SR = 16000


def _clips(n: int, seconds: float, seed: int) -> list[np.ndarray]:
    """Tonal synthetic clips: a few decaying partials at random pitches plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = []
    for _ in range(n):
        x = np.zeros_like(t)
        for _ in range(3):
            f = 110 * 2 ** rng.uniform(0, 4)
            x += np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * np.exp(-t * rng.uniform(0.5, 3))
        out.append((0.3 * x / np.abs(x).max() + 0.01 * rng.normal(size=t.shape)).astype(np.float32))
    return out


def test_metric_mel_embedder_shape_and_determinism() -> None:
    emb = build_embedder("mel")
    assert emb.metric_name == "FD-mel" and "vggish" not in emb.metric_name.lower()
    audio = torch.from_numpy(np.stack(_clips(2, 3.0, seed=0)))  # (2, 48000)
    out = emb(audio)
    frames = 1 + (48000 - 2048) // 160  # STFT frames, no centring
    assert out.shape == (2, 1 + (frames - 100) // 50, emb.dim)
    assert emb.dim == 2 * (64 + 20 + 12)
    assert torch.equal(out, emb(audio))
    assert torch.isfinite(out).all()
    # embed() downmixes and resamples by itself: stereo 32 kHz of the same signal ~ same frames
    stereo = np.stack([audio[0].numpy()] * 2)
    up = np.asarray(__import__("soxr").resample(stereo.T, SR, 32000)).T
    e32 = emb.embed(up, 32000)
    assert e32.shape[1] == emb.dim and abs(e32.shape[0] - out.shape[1]) <= 1
    # short clips are zero-padded to one window
    assert emb.embed(np.zeros(1000, np.float32), SR).shape == (1, emb.dim)


def test_metric_fd_mel_zero_for_identical_and_grows_with_noise() -> None:
    ref = _clips(5, 3.0, seed=1)
    rng = np.random.default_rng(2)
    values = []
    for level in (0.0, 0.003, 0.02, 0.1):
        fad = FrechetAudioDistance(build_embedder("mel"), SR)
        fad.update(None, ref)
        noisy = [c + level * rng.normal(size=c.shape).astype(np.float32) for c in ref]
        fad.update(noisy)
        values.append(float(fad.compute()["fd_mel"]))
    assert values[0] == pytest.approx(0.0, abs=1e-6 * max(values))
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_metric_registry_unknown_name() -> None:
    assert set(EMBEDDERS) >= {"mel", "vggish", "clap"}
    with pytest.raises(SamuelError, match="valid: clap, mel, vggish"):
        build_embedder("openl3")


# torchvggish release keys and shapes (features.* convs, embeddings.* linears)
VGGISH_KEYS = {
    "features.0": (64, 1, 3, 3),
    "features.3": (128, 64, 3, 3),
    "features.6": (256, 128, 3, 3),
    "features.8": (256, 256, 3, 3),
    "features.11": (512, 256, 3, 3),
    "features.13": (512, 512, 3, 3),
    "embeddings.0": (4096, 12288),
    "embeddings.2": (4096, 4096),
    "embeddings.4": (128, 4096),
}


@pytest.fixture(scope="module")
def vggish_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from samuel_pl.metrics.vggish import PCA_FILE, WEIGHTS_FILE, VGGishNet

    folder = tmp_path_factory.mktemp("vggish")
    torch.manual_seed(0)
    torch.save(VGGishNet().state_dict(), folder / WEIGHTS_FILE)
    rng = np.random.default_rng(0)
    pca = {"pca_eigen_vectors": rng.normal(size=(128, 128)), "pca_means": rng.normal(size=128)}
    torch.save(pca, folder / PCA_FILE)  # numpy arrays, like the release file
    return folder


def test_metric_vggish_release_keys(vggish_dir: Path) -> None:
    from samuel_pl.metrics.vggish import WEIGHTS_FILE

    state = torch.load(vggish_dir / WEIGHTS_FILE, weights_only=True)
    expected = {f"{k}.weight": v for k, v in VGGISH_KEYS.items()}
    expected |= {f"{k}.bias": (v[0],) for k, v in VGGISH_KEYS.items()}
    assert {k: tuple(t.shape) for k, t in state.items()} == expected


def test_metric_vggish_loads_saved_weights(vggish_dir: Path) -> None:
    from samuel_pl.metrics.vggish import WEIGHTS_FILE

    emb = build_embedder("vggish", weights=vggish_dir)
    saved = torch.load(vggish_dir / WEIGHTS_FILE, weights_only=True)
    assert torch.equal(emb.net.embeddings[4].weight, saved["embeddings.4.weight"])
    audio = torch.from_numpy(np.stack(_clips(2, 2.5, seed=3)))  # (2, 40000)
    out = emb(audio)
    frames = 1 + (40000 - 400) // 160
    assert out.shape == (2, frames // 96, 128)
    assert (out < 0).any()  # no final ReLU for FAD
    post = build_embedder("vggish", weights=vggish_dir / WEIGHTS_FILE, postprocess=True)
    q = post(audio)
    assert q.shape == out.shape and q.min() >= 0 and q.max() <= 255
    assert torch.equal(q, q.round())


def test_metric_vggish_missing_weights_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(SamuelError) as err:
        build_embedder("vggish", weights=tmp_path / "nowhere")
    msg = str(err.value)
    assert "vggish-10086976.pth" in msg and str(tmp_path / "nowhere") in msg
    assert str(tmp_path / "hub" / "checkpoints") in msg and "releases/download" in msg


def test_metric_vggish_hub_cache_location(vggish_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from samuel_pl.metrics.vggish import WEIGHTS_FILE

    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    (hub / "checkpoints" / WEIGHTS_FILE).symlink_to(vggish_dir / WEIGHTS_FILE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    assert build_embedder("vggish").dim == 128


def test_metric_clap_missing_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "laion_clap", None)  # import fails as if not installed
    with pytest.raises(SamuelError, match="pip install laion_clap"):
        build_embedder("clap", weights="music_audioset_epoch_15_esc_90.14.pt")
