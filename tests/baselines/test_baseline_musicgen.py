"""MusicGen-melody baseline through the production loading path, on tiny RANDOM weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samuel_pl.baselines.musicgen import MusicgenMelodyGenerator, main, melody_chroma


def test_musicgen_tiny_random_weights_generate_at_the_requested_rate_and_length(
    tiny_random_musicgen: Path,
) -> None:
    gen = MusicgenMelodyGenerator(str(tiny_random_musicgen), name="musicgen-melody-tiny-random")
    assert gen.available() == (True, "")
    assert gen.model_sample_rate == 8000
    sr, n = 16000, int(0.7 * 16000)
    t = np.arange(n) / sr
    vocals = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)  # (2, N)
    out = gen.generate(vocals, sr, "song")
    assert out.shape == (1, n) and out.dtype == np.float32
    assert np.isfinite(out).all() and np.abs(out).max() > 0
    assert gen.parameters == sum(p.numel() for p in gen._model.parameters()) > 0
    # The 30 s window is a config value: a short window splits the vocal and keeps the length.
    gen.max_seconds = 0.25
    out = gen.generate(vocals[:1], sr, "song")
    assert out.shape == (1, n) and np.isfinite(out).all()


def test_musicgen_tiny_random_weights_follow_the_seed(tiny_random_musicgen: Path) -> None:
    vocals = np.random.default_rng(0).standard_normal((1, 8000)).astype(np.float32) * 0.1
    a = MusicgenMelodyGenerator(str(tiny_random_musicgen), seed=0).generate(vocals, 8000, "s")
    b = MusicgenMelodyGenerator(str(tiny_random_musicgen), seed=0).generate(vocals, 8000, "s")
    c = MusicgenMelodyGenerator(str(tiny_random_musicgen), seed=1).generate(vocals, 8000, "s")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_musicgen_missing_folder_is_unavailable_with_the_path_and_how_to_get_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "models" / "musicgen-melody"
    ok, reason = MusicgenMelodyGenerator(str(missing)).available()
    assert not ok
    assert str(missing) in reason and "facebook/musicgen-melody" in reason
    assert MusicgenMelodyGenerator(str(missing)).parameters is None


def test_musicgen_audiocraft_backend_is_unavailable_without_audiocraft() -> None:
    pytest.importorskip("transformers")
    try:
        import audiocraft  # noqa: F401

        pytest.skip("audiocraft is installed here")
    except ImportError:
        pass
    ok, reason = MusicgenMelodyGenerator("x", backend="audiocraft").available()
    assert not ok and "audiocraft" in reason


def test_melody_chroma_marks_the_pitch_class_of_a_tone() -> None:
    pytest.importorskip("transformers")
    sr = 8000
    t = np.arange(sr) / sr
    chroma = melody_chroma(np.sin(2 * np.pi * 440.0 * t), sr, n_fft=1024, hop_length=256)
    assert chroma.shape == (1, sr // 256 + 1, 12)
    assert (chroma.sum(-1) == 1).all()  # one-hot per frame
    assert (chroma[0, 2:-2].argmax(-1) == 9).all()  # A, with C = 0


def test_make_tiny_random_command_writes_a_loadable_folder(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    folder = tmp_path / "musicgen-melody-tiny-random"
    assert main(["--make-tiny-random", str(folder)]) == 0
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "preprocessor_config.json", "tokenizer.json"} <= names
    assert "RANDOM weights" in (folder / "README.md").read_text()
    assert MusicgenMelodyGenerator(str(folder)).available() == (True, "")
