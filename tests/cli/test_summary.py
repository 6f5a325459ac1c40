"""``samuel summary``: the parameter table of every config in experiments/ (nothing encoded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from samuel_pl.cli.main import main
from samuel_pl.codecs import latent_fields
from samuel_pl.config.schema import CodecConfig
from tests.conftest import REPO

CONFIGS = sorted((REPO / "experiments").rglob("*.yaml"))


def _tables(text: str) -> list[tuple[str, list[int], int]]:
    """(heading, row counts, total) of each table printed."""
    out: list[tuple[str, list[int], int]] = []
    heading, rows = "", []
    for line in text.splitlines():
        if line.startswith("total_params "):
            out.append((heading, rows, int(line.split()[1])))
            heading, rows = "", []
        elif line.split()[:1] == ["module"] or line.startswith("#"):
            continue
        elif not heading:
            heading = line
        else:
            rows.append(int(line.split()[1].replace(",", "")))
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "experiments")))
def test_summary_prints_the_table_of_every_config(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[-1].startswith("total_params ")
    tables = _tables(text)
    assert tables
    for heading, rows, total in tables:
        assert total > 0 and sum(rows) == total, heading
    doc = yaml.safe_load(config.read_text())
    if doc.get("task", "diffusion") == "diffusion" and "params" not in doc:
        codec = doc.get("codec", {})
        channels = codec.get("n_mels", CodecConfig().n_mels)
        if codec.get("type") == "pitched":  # 76 semitones from 55 Hz + 8 bands up to 11 kHz
            channels += 8
        assert f"in_channels={channels} " in tables[0][0]  # followed the codec


def test_summary_without_config_is_the_paper_unet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary"]) == 0
    ((heading, _, total),) = _tables(capsys.readouterr().out)
    assert heading.startswith("SamuelUNet  in_channels=64 ")
    assert 15.0e6 < total < 16.0e6  # SPEC: about 15M parameters (reference code 15,571,904)


def test_latent_channels_come_from_config_files_not_weights(tmp_path: Path) -> None:
    assert latent_fields(CodecConfig(type="mel", n_mels=40)).channels == 40
    vae = tmp_path / "vae"
    vae.mkdir()
    (vae / "config.json").write_text(json.dumps({"decoder_input_channels": 32}))
    (vae / "diffusion_pytorch_model.safetensors").write_bytes(b"not read")
    assert latent_fields(CodecConfig(type="stable_audio", path=str(tmp_path))).channels == 32
