"""``samuel encode`` end to end on a folder source, through the CLI dispatcher."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samuel_pl.cli.main import main
from tests.conftest import TEST_CACHE_HOME

SR = 22050


@pytest.fixture()
def folder_root(tmp_path: Path) -> Path:
    """Four 2-second songs as ``root/<song>/{vocals,accompaniment}.wav``."""
    root = tmp_path / "songs"
    t = np.arange(2 * SR) / SR
    for i in range(4):
        d = root / f"song{i}"
        d.mkdir(parents=True)
        f0 = 200.0 + 40 * i
        sf.write(d / "vocals.wav", (0.3 * np.sin(2 * math.pi * f0 * t)).astype(np.float32), SR)
        acc = 0.2 * np.sin(2 * math.pi * f0 / 2 * t) + 0.1 * np.sin(2 * math.pi * f0 * 1.5 * t)
        sf.write(d / "accompaniment.wav", acc.astype(np.float32), SR)
    return root


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text("codec:\n  type: mel\n  n_mels: 32\n", encoding="utf-8")
    return path


def test_encode_folder_source_end_to_end(folder_root: Path, config: Path, capsys) -> None:
    args = ["encode", "--config", str(config), "data.source=folder", f"data.root={folder_root}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    cache_dir = Path(out.split("cache: ", 1)[1].split(" (built)")[0])
    # The default cache is outside the dataset: $XDG_CACHE_HOME/samuel_pl/<fingerprint>/<codec>
    assert cache_dir.parent.parent == TEST_CACHE_HOME / "samuel_pl"
    assert cache_dir.name.startswith("mel-") and len(cache_dir.parent.name) == 16
    assert sorted(p.name for p in folder_root.iterdir()) == [f"song{i}" for i in range(4)]
    assert "songs: train=2 val=1 test=1" in out and "skipped: 0" in out and "seconds:" in out
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    assert len(manifest["songs"]) == 4 and manifest["codec"]["latent_channels"] == 32
    assert len(manifest["stats"]["mean"]) == 32
    assert main(args) == 0
    assert "(reused)" in capsys.readouterr().out
    assert main([*args, "--force"]) == 0
    assert "(built)" in capsys.readouterr().out


def test_default_cache_works_on_a_read_only_dataset_and_is_keyed_by_the_data(
    folder_root: Path, config: Path, locked_dir: Path, capsys
) -> None:
    root = locked_dir / "songs"
    locked_dir.chmod(0o755)
    shutil.copytree(folder_root, root)
    for d in [root, *root.iterdir(), locked_dir]:
        d.chmod(0o555)  # (as root, the locked_dir fixture refuses file creation there too)
    args = ["encode", "--config", str(config), "data.source=folder", f"data.root={root}"]
    assert main(args) == 0
    first = Path(capsys.readouterr().out.split("cache: ", 1)[1].split(" (built)")[0])
    assert first.is_relative_to(TEST_CACHE_HOME)
    # Another split of the same root is other data: its own folder, no mismatch error.
    assert main([*args, "data.val_fraction=0.5"]) == 0
    second = Path(capsys.readouterr().out.split("cache: ", 1)[1].split(" (built)")[0])
    assert second != first and second.name == first.name
    assert (first / "manifest.json").is_file() and (second / "manifest.json").is_file()
    assert sorted(p.name for p in root.iterdir()) == [f"song{i}" for i in range(4)]
    for d in [root, *root.iterdir()]:
        d.chmod(0o755)


def test_changed_codec_settings_with_explicit_cache_dir_are_refused(
    folder_root: Path, config: Path, tmp_path: Path, capsys
) -> None:
    base = ["encode", "--config", str(config), "data.source=folder", f"data.root={folder_root}"]
    base.append(f"data.cache_dir={tmp_path / 'latents'}")
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "codec.hop_length=256"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "samuel_pl.encode" in err and "--force" in err


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.bogus=1", "unknown config key 'data.bogus'"),
        ("codec.type=stable_audio", "no Stable Audio Open VAE weights"),
    ],
)
def test_bad_config_exits_non_zero_with_one_line(
    folder_root: Path, config: Path, capsys, override: str, message: str
) -> None:
    args = ["encode", "--config", str(config), "data.source=folder", f"data.root={folder_root}"]
    assert main([*args, override]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_missing_root_exits_non_zero(tmp_path: Path, config: Path, capsys) -> None:
    args = ["encode", "--config", str(config), "data.source=folder", f"data.root={tmp_path}/none"]
    assert main(args) != 0
    assert capsys.readouterr().err.startswith("error: ")
