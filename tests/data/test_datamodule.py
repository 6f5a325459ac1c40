"""Training crops: both stems z-scored with the train statistics, and frames past a song's end
padded with the codec's encoded silence, the latent that generation pads vocals with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from samuel_pl.codecs import build_codec
from samuel_pl.config import load_config
from samuel_pl.data.datamodule import LatentCrops, SamuelDataModule
from tests.conftest import DEBUG_YAML


class FakeCache:
    path = Path("fake")

    def __init__(self, songs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.data = songs

    def frames(self, song: str) -> int:
        return int(self.data[song][0].shape[-1])

    def load(self, song: str) -> tuple[np.ndarray, np.ndarray]:
        return self.data[song]


def test_crops_are_normalised_and_padded_with_the_given_silence() -> None:
    rng = np.random.default_rng(0)
    voc, acc = rng.normal(3.0, 2.0, (4, 5)), rng.normal(-1.0, 0.5, (4, 5))  # 5 frames, crop 8
    mean, std = np.array([3.0, 2.0, 1.0, 0.0]), np.array([2.0, 1.0, 0.5, 0.25])
    silence = np.array([-7.0, -6.0, -5.0, -4.0])
    crops = LatentCrops(FakeCache({"s": (voc, acc)}), ["s"], 8, mean, std, pad=silence)
    item = crops[0]
    for stem, raw in (("vocals", voc), ("accompaniment", acc)):
        got = item[stem].numpy()
        np.testing.assert_allclose(got[:, :5], (raw - mean[:, None]) / std[:, None], rtol=1e-6)
        pad = np.broadcast_to(((silence - mean) / std)[:, None], (4, 3))
        np.testing.assert_allclose(got[:, 5:], pad, rtol=1e-6)


def test_codec_silence_is_what_zero_padding_encodes_to() -> None:
    codec = build_codec(load_config(DEBUG_YAML).codec)
    n = 5 * codec.hop_length
    t = np.arange(n) / codec.sample_rate
    audio = np.zeros((1, 1, codec.num_samples(24)), dtype=np.float32)
    audio[0, 0, :n] = 0.3 * np.sin(2 * np.pi * 330.0 * t)
    z = codec.encode(torch.from_numpy(audio), codec.sample_rate)[0]  # (C, 24)
    tail = z[:, 10:].numpy()  # frames whose STFT windows hold only the padding
    np.testing.assert_allclose(
        tail, np.broadcast_to(codec.silence().numpy()[:, None], tail.shape), atol=1e-5
    )
    assert not np.allclose(codec.silence().numpy(), 0.0)  # raw zeros would be another latent


def test_datamodule_pads_songs_with_the_cache_silence(debug_overrides: list[str]) -> None:
    cfg = load_config(DEBUG_YAML, [*debug_overrides, "data.crop_frames=16384"])  # > every song
    dm = SamuelDataModule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.val_set is not None
    item = dm.val_set[0]
    frames = dm.cache.frames(item["song"])
    mean, std = dm.stats
    silence = build_codec(cfg.codec).silence().numpy()
    expect = (silence - mean) / np.maximum(std, 1e-5)
    for stem in ("vocals", "accompaniment"):
        tail = item[stem].numpy()[:, frames:]
        assert tail.shape[1] > 0
        np.testing.assert_allclose(
            tail, np.broadcast_to(expect[:, None], tail.shape), rtol=1e-5, atol=1e-5
        )
