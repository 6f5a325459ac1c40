"""The decoder shipped in the package (samuel_pl/assets/vocoder_demo.pt) and ``codec.vocoder``'s
choice: the export format round trip with a random vocoder of the demo architecture saved and
loaded here, ``auto`` taking a vocoder only for the codec it was trained on, the opt-outs, and
the real shipped file (small: it is loaded and run here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from samuel_pl.codecs import build_codec
from samuel_pl.codecs import vocoder as voc
from samuel_pl.codecs.mel import MelCodec
from samuel_pl.config import load_config
from samuel_pl.errors import SamuelError
from samuel_pl.nn.vocos import VocosVocoder

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "experiments" / "demo.yaml"
VOC_DEMO = REPO / "experiments" / "vocoder" / "demo.yaml"
SR = 22050
CPU = torch.device("cpu")


def demo_codec(*overrides: str) -> MelCodec:
    codec = build_codec(load_config(DEMO, list(overrides)).codec)
    assert isinstance(codec, MelCodec)
    return codec


def random_checkpoint(tmp: Path) -> tuple[Path, VocosVocoder]:
    """A ``task: vocoder`` checkpoint of experiments/vocoder/demo.yaml's architecture and codec
    holding a seeded random network (no trained weights are needed to test the format)."""
    cfg = load_config(VOC_DEMO)
    sizes = dataclasses.asdict(cfg.vocoder)
    torch.manual_seed(0)
    net = voc.build_vocoder(sizes, 64, 512).eval()
    config = {"task": "vocoder", "codec": dataclasses.asdict(cfg.codec), "vocoder": sizes}
    config["data"] = dataclasses.asdict(cfg.data)
    state = {voc.PREFIX + k: t for k, t in net.state_dict().items()}
    path = tmp / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(
        {"hyper_parameters": {"config": config}, "state_dict": state, "global_step": 7}, path
    )
    return path, net


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, VocosVocoder]:
    ckpt, net = random_checkpoint(tmp_path)
    out = tmp_path / "vocoder.pt"
    voc.export_vocoder(ckpt, out, "fit ...; export ...")
    return out, net


@torch.no_grad()
def test_random_demo_vocoder_saved_and_loaded_locally_decodes_as_before(
    export: tuple[Path, VocosVocoder],
) -> None:
    """The export of a random vocoder of the demo architecture: fp16 weights under 2.5 MB that
    load (weights-only) into a network giving the original's output within fp16 rounding, with
    its codec section and provenance."""
    out, net = export
    assert out.stat().st_size < 2.5e6
    saved = voc.read_vocoder(out)
    assert all(t.dtype == torch.float16 for t in saved.state.values())
    assert saved.provenance["recipe"] == "fit ...; export ..."
    assert saved.provenance["global_step"] == 7 and saved.provenance["parameters"] == 923778
    loaded = voc.load_vocoder(out, demo_codec().latent_fields())
    z = torch.randn(2, 64, 40)
    ref = net(z)
    err = float((loaded(z) - ref).abs().max() / ref.abs().max())
    assert 0 < err < 2e-3, err  # fp16 weights: close, not bit-equal
    with pytest.raises(SamuelError, match=r"vocoder\.pt: already an export"):
        voc.export_vocoder(out, out.with_name("again.pt"), "")


def test_auto_takes_the_shipped_vocoder_only_for_its_own_codec(
    export: tuple[Path, VocosVocoder],
) -> None:
    """``auto``: the vocoder for the codec it was trained on; Griffin-Lim (saying which field
    differs) for any other codec or when the file is missing; ``none`` / "" always Griffin-Lim;
    a named file trained on another codec is refused."""
    out, _ = export
    fields = demo_codec().latent_fields()
    chosen = voc.vocoder_for("auto", fields, "mel", CPU, shipped=out)
    assert isinstance(chosen.vocoder, VocosVocoder) and not chosen.vocoder.training
    assert chosen.note.startswith("the shipped vocoder vocoder.pt") and str(out) in chosen.weights
    other = demo_codec("codec.hop_length=256").latent_fields()
    gl = voc.vocoder_for("auto", other, "mel", CPU, shipped=out)
    assert gl.vocoder is None and gl.weights == ""
    assert gl.note == (
        "Griffin-Lim (the shipped vocoder was trained on codec hop_length=512, "
        "this codec has hop_length=256)"
    )
    pitched = voc.vocoder_for("auto", fields, "pitched", CPU, shipped=out)
    assert pitched.vocoder is None and "type='mel', this codec has type='pitched'" in pitched.note
    missing = voc.vocoder_for("auto", fields, "mel", CPU, shipped=out.with_name("gone.pt"))
    assert missing.vocoder is None and "gone.pt is missing" in missing.note
    for off in ("none", "", None, "griffin_lim"):
        assert voc.vocoder_for(off, fields, "mel", CPU, shipped=out).vocoder is None
    with pytest.raises(
        SamuelError, match=r"vocoder\.pt: the vocoder was trained on codec hop_length=512"
    ):
        voc.vocoder_for(str(out), other, "mel", CPU)


def test_codec_config_chooses_the_decoder(
    export: tuple[Path, VocosVocoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the config: the demo recipe's codec (codec.vocoder defaults to auto) decodes with
    the shipped file, codec.vocoder=none opts out, a named file wins over the shipped one, and
    --vocoder (resolve_vocoder) overrides the saved choice."""
    out, _ = export
    monkeypatch.setattr(voc, "SHIPPED", out)
    assert load_config(DEMO).codec.vocoder == "auto"
    assert demo_codec().vocoder is not None
    assert demo_codec().decoder_weights == voc.weights_key(out)
    off = demo_codec("codec.vocoder=none")
    assert off.vocoder is None and off.decoder_note == "Griffin-Lim (codec.vocoder is off)"
    other, _ = random_checkpoint(out.parent / "other")
    named = demo_codec(f"codec.vocoder={other}")
    assert named.vocoder is not None
    assert named.decoder_note == f"the vocoder {other} + 8 Griffin-Lim refinement iterations"
    cfg = load_config(DEMO).codec
    assert voc.resolve_vocoder(cfg, "none").vocoder == ""
    assert voc.resolve_vocoder(dataclasses.replace(cfg, vocoder=""), "auto").vocoder == "auto"
    assert voc.resolve_vocoder(cfg, None) is cfg


def test_the_shipped_decoder_loads_and_fits_the_demo_codec() -> None:
    """The file in the package: small, fp16, trained on exactly make fit's codec (so
    experiments/demo.yaml decodes with it), with the recipe that reproduces it."""
    shipped = voc.SHIPPED
    assert shipped.is_file() and shipped.stat().st_size < 3e6, shipped
    saved = voc.read_vocoder(shipped)
    assert all(t.dtype == torch.float16 for t in saved.state.values())
    assert "experiments/vocoder/demo.yaml" in saved.provenance["recipe"]
    assert "samuel_pl.codecs.vocoder" in saved.provenance["recipe"]  # the export step
    codec = demo_codec()
    identity = {"type": "mel", **codec.latent_fields()}
    assert voc.trained_identity(saved.codec) == identity
    assert codec.vocoder is not None and codec.decoder_note.startswith("the shipped vocoder")
    long_demo = build_codec(load_config(REPO / "experiments" / "demo_long.yaml").codec)
    assert getattr(long_demo, "vocoder", None) is not None  # the same codec


@torch.no_grad()
def test_a_decode_through_the_shipped_decoder_is_finite_and_the_right_length() -> None:
    """A one-second chord through the demo codec and the shipped vocoder: T frames give
    (T - 1) * hop finite samples, the vocoder ran, and the level is the input's within 6 dB."""
    codec = demo_codec()
    assert codec.vocoder is not None
    t = torch.arange(SR) / SR
    x = sum(0.1 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 277.18, 329.63))
    z = codec.encode(x[None, None], SR)  # (1, 64, T)
    ran: list[torch.Tensor] = []
    hook = codec.vocoder.register_forward_hook(lambda m, i, o: ran.append(o))
    y = codec.decode(z)
    hook.remove()
    assert len(ran) == 1
    assert y.shape == (1, 1, codec.num_samples(z.shape[-1])) and torch.isfinite(y).all()
    rms_in, rms_out = float(x.pow(2).mean().sqrt()), float(y.pow(2).mean().sqrt())
    assert 0.5 < rms_out / rms_in < 2.0, (rms_in, rms_out)


@pytest.mark.slow
def test_fit_decodes_its_samples_with_the_shipped_vocoder_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What make fit does, in small: a debug model on the demo codec writes its final samples
    through the shipped vocoder, and its output and summary name that decoder."""
    import json

    from samuel_pl.cli.main import main
    from tests.codecs.audio_songs import fit_overrides, write_songs

    (tmp_path / "songs").mkdir()
    songs = write_songs(tmp_path / "songs")
    codec = ["codec.n_mels=64", "codec.n_fft=2048", "codec.scale=log", "codec.f_min=110.0"]
    args = ["fit", "--config", str(REPO / "experiments" / "debug.yaml")]
    args += [*fit_overrides(songs, tmp_path, "fit"), *codec, "trainer.max_steps=2"]
    args += ["callbacks.samples_every_n_epochs=0", "callbacks.num_sample_songs=1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "samples decoded by: the shipped vocoder vocoder_demo.pt" in out
    assert "decoded by: the shipped vocoder vocoder_demo.pt" in out.split("== fit summary ==")[1]
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())
    assert summary["decoder"].startswith("the shipped vocoder vocoder_demo.pt + 8 Griffin-Lim")
    assert any(p.endswith("_generated.wav") for p in summary["samples"])
