"""The trainable audio VAE: architecture, losses, LitAudioVAE fast_dev_run (with and without the
discriminator), and a VAE checkpoint as the codec of a debug diffusion fit and of generation."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from samuel_pl.cli.main import main
from samuel_pl.codecs import LatentFields, build_codec, latent_fields
from samuel_pl.codecs.base import config_hash
from samuel_pl.codecs.vae import _identity, architecture
from samuel_pl.config import CodecConfig, ConfigError, VAEConfig, load_config
from samuel_pl.errors import SamuelError
from samuel_pl.nn.oobleck import OobleckConfig, OobleckVAE, kl_to_standard_normal
from tests.codecs.audio_songs import SR, fit_debug, fit_overrides, write_songs

REPO = Path(__file__).resolve().parents[2]
VAE_DEBUG = REPO / "experiments" / "vae" / "debug.yaml"
DEBUG = REPO / "experiments" / "debug.yaml"


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_songs(tmp_path_factory.mktemp("vae_songs"))


@pytest.fixture(scope="module")
def vae_ckpt(songs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The debug VAE trained for 2 batches through the fit CLI (``task: vae``)."""
    tmp = tmp_path_factory.mktemp("vae_fit")
    summary = fit_debug(VAE_DEBUG, songs, tmp, "callbacks.num_sample_songs=0")
    assert summary["task"] == "vae"
    assert summary["codec_overrides"].startswith("codec.type=vae codec.path=")
    return Path(summary["checkpoint"])


# -- architecture and losses -------------------------------------------------------------------
@pytest.mark.parametrize("strides", [[2, 4], [3, 5]])
def test_oobleck_lengths(strides: list[int]) -> None:
    cfg = OobleckConfig(audio_channels=2, channels=4, c_mults=[1, 2], strides=strides, latent_dim=3)
    vae = OobleckVAE(cfg)
    hop = math.prod(strides)
    x = torch.randn(2, 2, hop * 7)
    mean, std = vae.encode(x)
    assert mean.shape == std.shape == (2, 3, 7) and bool((std > 0).all())
    assert vae.decode(mean).shape == (2, 2, hop * 7)


@pytest.mark.parametrize("audio_channels", [1, 2])
def test_istft_head_lengths_and_a_stride_product_check(audio_channels: int) -> None:
    cfg = OobleckConfig(
        audio_channels=audio_channels, channels=4, c_mults=[1, 2, 2], strides=[2, 4, 4],
        latent_dim=3, istft_hop=8,
    )  # fmt: skip
    vae = OobleckVAE(cfg)
    assert len(vae.decoder.blocks) == 1  # the head replaces the strides 2 and 4
    mean, _ = vae.encode(torch.randn(2, audio_channels, 32 * 5))
    assert vae.decode(mean).shape == (2, audio_channels, 32 * 5)
    with pytest.raises(ValueError, match=r"istft_hop=16 .* one of \[2, 8, 32\]"):
        OobleckConfig(channels=4, c_mults=[1, 2, 2], strides=[2, 4, 4], istft_hop=16).validate()


def test_istft_head_inverts_the_log_magnitude_and_phase_of_a_real_stft() -> None:
    """With an identity in place of its conv, the head must turn (log|X|, angle X) of a Hann
    STFT (n_fft = 4 hop, per audio channel, magnitudes first) back into the signal."""
    from samuel_pl.nn.istft import ISTFTHead

    hop, frames = 16, 40
    head = ISTFTHead(channels=1, audio_channels=2, hop=hop, wn=False)
    head.conv = torch.nn.Identity()
    x = torch.randn(3, 2, hop * frames, generator=torch.Generator().manual_seed(0))
    spec = torch.stft(
        x.reshape(6, -1), 4 * hop, hop, window=torch.hann_window(4 * hop), return_complex=True
    )[..., :frames]  # (6, bins, frames)
    feats = torch.stack([spec.abs().clamp_min(1e-8).log(), spec.angle()], 1)  # (6, 2, bins, F)
    out = head(feats.reshape(3, 2 * 2 * head.bins, frames))
    assert out.shape == x.shape
    torch.testing.assert_close(
        out[..., hop * 2 : -hop * 2], x[..., hop * 2 : -hop * 2], atol=1e-4, rtol=0
    )


def test_the_vae_config_section_is_the_oobleck_sizes() -> None:
    """One definition: the ``vae`` section carries every Oobleck size under the same name and
    type, and ``OobleckConfig.from_sizes`` reads them without a rename table."""
    sections = {f.name: f.type for f in dataclasses.fields(VAEConfig)}
    for f in dataclasses.fields(OobleckConfig):
        if f.name != "audio_channels":  # data.channels
            assert sections.get(f.name) == f.type, f.name
    v = VAEConfig(channels=5, c_mults=[1, 3], strides=[2, 4], latent_dim=7, dilations=[1, 2])
    v.weight_norm, v.istft_hop = False, 2
    arch = OobleckConfig.from_sizes(dataclasses.asdict(v), 1)
    assert (arch.channels, arch.c_mults, arch.strides, arch.latent_dim) == (5, [1, 3], [2, 4], 7)
    assert (arch.dilations, arch.weight_norm, arch.istft_hop, arch.audio_channels) == (
        [1, 2],
        False,
        2,
        1,
    )
    with pytest.raises(ValueError, match="lack latent_dim"):
        OobleckConfig.from_sizes({k: 1 for k in ("channels", "c_mults", "strides")}, 2)


# codec ids (the latent caches' folder names) of the default section, and of one saved before
# istft_hop existed, from the code before the sizes shared the config's names (commit ea93854):
# config_hash(vars(oobleck_config(dataclasses.asdict(VAEConfig()), 2)))
OLD_ARCH_HASH = {2: "4bb1b282", 1: "2a4b6449"}


def test_vae_codec_ids_are_those_of_existing_caches() -> None:
    d = dataclasses.asdict(VAEConfig())
    assert config_hash(_identity(architecture(d, 2))) == OLD_ARCH_HASH[2]
    d.pop("istft_hop")  # a checkpoint from before the option
    assert config_hash(_identity(architecture(d, 1))) == OLD_ARCH_HASH[1]


def test_kl_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mean, std = torch.randn(2, 5, 7, generator=g), torch.rand(2, 5, 7, generator=g) + 0.1
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, std), torch.distributions.Normal(0.0, 1.0)
    )  # (2, 5, 7) per element
    torch.testing.assert_close(kl_to_standard_normal(mean, std), ref.sum(1).mean())


def test_mr_stft_loss_closed_form_for_a_doubled_signal() -> None:
    """Estimate 2x vs reference x: spectral convergence ||2X - X|| / ||X|| = 1 and mean
    |log 2X - log X| = log 2 at every resolution, so the loss is 1 + log 2."""
    from samuel_pl.nn.stft_loss import MRSTFTDistance, mr_stft_loss

    x = torch.randn(2, 1, 8192, generator=torch.Generator().manual_seed(0))
    expected = 1.0 + math.log(2.0)
    assert float(mr_stft_loss([512, 256, 128])(2 * x, x)) == pytest.approx(expected, abs=1e-4)
    per_clip = MRSTFTDistance()(2 * x, x)
    assert per_clip.shape == (2,)
    torch.testing.assert_close(per_clip, torch.full((2,), expected), atol=1e-4, rtol=0)
    assert float(MRSTFTDistance()(x, x).max()) < 1e-5


def test_discriminator_shapes_and_losses() -> None:
    from samuel_pl.nn.discriminator import (
        MultiScaleSTFTDiscriminator,
        feature_matching_loss,
        hinge_discriminator_loss,
        hinge_generator_loss,
    )

    disc = MultiScaleSTFTDiscriminator([256, 128], audio_channels=2, channels=4)
    logits, feats = disc(torch.randn(3, 2, 2048))
    assert len(logits) == len(feats) == 2 and all(t.shape[0] == 3 for t in logits)
    sure = [torch.full((2, 1, 4, 4), 2.0)]
    assert float(hinge_discriminator_loss(sure, [-s for s in sure])) == 0.0  # beyond the margin
    assert float(hinge_discriminator_loss([-s for s in sure], sure)) == pytest.approx(6.0)
    assert float(hinge_generator_loss([-s for s in sure])) == pytest.approx(3.0)
    assert float(feature_matching_loss(feats, feats).detach()) == 0.0


def test_invalid_vae_config_is_a_config_error() -> None:
    from samuel_pl.lit.vae import LitAudioVAE

    cfg = load_config(VAE_DEBUG, ["vae.c_mults=[1]"])  # fewer multipliers than strides
    with pytest.raises(ConfigError, match="vae"):
        LitAudioVAE(cfg)
    with pytest.raises(ConfigError, match="vae.strides=.*>= 2"):
        load_config(VAE_DEBUG, ["vae.strides=[1,8]"])
    with pytest.raises(ConfigError, match="vae.stems=.*vocals | accompaniment"):
        load_config(VAE_DEBUG, ["vae.stems=[drums]"])
    with pytest.raises(ConfigError, match="trainer.nonfinite='retry'; allowed: stop | skip"):
        load_config(VAE_DEBUG, ["trainer.nonfinite=retry"])


def test_vae_nonfinite_loss_stops_or_is_counted_as_trainer_nonfinite_says() -> None:
    from samuel_pl.errors import NonFiniteError
    from samuel_pl.lit.vae import LitAudioVAE

    stop = LitAudioVAE(load_config(VAE_DEBUG))
    with pytest.raises(NonFiniteError, match=r"generator loss at global step 0.*nonfinite=skip"):
        stop._skip("generator loss", 3)
    skip = LitAudioVAE(load_config(VAE_DEBUG, ["trainer.nonfinite=skip"]))
    skip._skip("generator loss", 3)
    skip._skip("discriminator loss", 4)
    assert skip.nonfinite_skipped == 2


# -- Lightning ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("discriminator", "istft_hop"), [(False, 0), (True, 0), (False, 8)])
def test_lit_audio_vae_fast_dev_run(
    songs: Path, tmp_path: Path, discriminator: bool, istft_hop: int
) -> None:
    import lightning.pytorch as pl

    from samuel_pl.data.audio_crops import AudioDataModule
    from samuel_pl.lit.vae import LitAudioVAE

    over = [*fit_overrides(songs, tmp_path, "run"), f"vae.discriminator={discriminator}"]
    over.append(f"vae.istft_hop={istft_hop}")
    cfg = load_config(VAE_DEBUG, over)
    module = LitAudioVAE(cfg)
    dm = AudioDataModule(cfg, module.segment)
    nets = [module.vae, *([module.disc] if discriminator else [])]
    before = [[p.detach().clone() for p in n.parameters()] for n in nets]
    trainer = pl.Trainer(fast_dev_run=True, logger=False, enable_progress_bar=False)
    trainer.fit(module, datamodule=dm)
    for net, old in zip(nets, before):
        assert any(not torch.equal(a, b) for a, b in zip(old, net.parameters())), net
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss"]) and torch.isfinite(metrics["val/mrstft"])
    assert torch.isfinite(metrics["val/si_sdr"])
    assert ("train/disc" in metrics) == discriminator
    assert ("train/feature" in metrics) == discriminator
    assert int(module.batches_seen) == 1


def test_vae_checkpoint_is_the_codec_of_a_debug_diffusion_fit_and_generation(
    vae_ckpt: Path, songs: Path, tmp_path: Path
) -> None:
    from samuel_pl.generation import Accompanist

    codec = build_codec(CodecConfig(type="vae", path=str(vae_ckpt)))
    assert (codec.latent_channels, codec.hop_length, codec.sample_rate) == (16, 64, SR)
    assert latent_fields(CodecConfig(type="vae", path=str(vae_ckpt))) == LatentFields(
        "vae", 16, SR, 64, codec.audio_channels
    )
    args = ["fit", "--config", str(DEBUG), *fit_overrides(songs, tmp_path, "diff")]
    extra = ["codec.type=vae", f"codec.path={vae_ckpt}", "trainer.max_steps=2"]
    assert main([*args, *extra, "callbacks.sample_frames=32"]) == 0
    summary = json.loads((tmp_path / "diff" / "summary.json").read_text())
    assert summary["global_step"] == 2 and summary["samples"]
    manifest = json.loads((tmp_path / "diff_cache" / "manifest.json").read_text())
    assert manifest["codec_id"] == codec.codec_id and manifest["codec"]["type"] == "vae"
    assert manifest["codec"]["path"] == str(vae_ckpt.resolve())
    wav = next(p for p in summary["samples"] if p.endswith("_generated.wav"))
    audio, sr = sf.read(wav)
    assert sr == SR and np.isfinite(audio).all() and np.abs(audio).max() > 0
    acc = Accompanist.from_checkpoint(summary["checkpoint"], vocoder="none")  # nothing to undo
    assert acc.codec.codec_id == codec.codec_id
    with pytest.raises(SamuelError, match="a vocoder decodes the mel or pitched codec, not vae"):
        Accompanist.from_checkpoint(summary["checkpoint"], vocoder=str(vae_ckpt))
    vocals = np.asarray(sf.read(songs / "song0" / "vocals.wav")[0], dtype=np.float32)[None]
    out = acc.generate(vocals[:, : SR // 2], SR, steps=2, cfg=1.5, seed=0)
    assert out.shape[-1] == SR // 2 and np.isfinite(out).all()


def test_vae_codec_errors(tmp_path: Path) -> None:
    with pytest.raises(SamuelError, match="experiments/vae/demo.yaml"):
        build_codec(CodecConfig(type="vae", path=str(tmp_path / "none.ckpt")))
    fake = tmp_path / "diffusion.ckpt"
    torch.save({"hyper_parameters": {"config": {"task": "diffusion"}}, "state_dict": {}}, fake)
    expected = r"diffusion\.ckpt: this is a SAMUeL checkpoint; use it as --ckpt .* `task: vae`"
    with pytest.raises(SamuelError, match=expected):
        build_codec(CodecConfig(type="vae", path=str(fake)))
    # A file that is no checkpoint at all, and a pickle of code, get the shared loader's words.
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(SamuelError, match=r"empty\.ckpt: not a checkpoint file \(empty file\)"):
        build_codec(CodecConfig(type="vae", path=str(tmp_path / "empty.ckpt")))
    torch.save({"state_dict": {}, "x": _Boom()}, tmp_path / "boom.ckpt")
    with pytest.raises(SamuelError, match=r"refused to load checkpoint: it wants to build posix"):
        build_codec(CodecConfig(type="vae", path=str(tmp_path / "boom.ckpt")))


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("true",))
