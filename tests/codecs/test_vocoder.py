"""The mel codec's vocoder (``task: vocoder``): network lengths, training through the fit CLI,
the mel codec decoding with a saved checkpoint (a random-weights vocoder of the demo
architecture's family, trained 2 batches here: no trained weights exist in tests), and the
errors for a checkpoint that does not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from samuel_pl.cli.main import main
from samuel_pl.codecs import build_codec
from samuel_pl.codecs.mel import MelCodec
from samuel_pl.config import CodecConfig, ConfigError, load_config
from samuel_pl.errors import SamuelError
from samuel_pl.nn.vocos import VocosVocoder
from tests.codecs.audio_songs import SR, fit_debug, fit_overrides, write_songs

REPO = Path(__file__).resolve().parents[2]
VOC_DEBUG = REPO / "experiments" / "vocoder" / "debug.yaml"
DEBUG_CODEC = {"n_mels": 16, "n_fft": 1024, "hop_length": 512}  # experiments/vocoder/debug.yaml


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_songs(tmp_path_factory.mktemp("vocoder_songs"))


@pytest.fixture(scope="module")
def voc_ckpt(songs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The debug vocoder trained for 2 batches through the fit CLI (``task: vocoder``)."""
    tmp = tmp_path_factory.mktemp("vocoder_fit")
    summary = fit_debug(VOC_DEBUG, songs, tmp, "callbacks.num_sample_songs=1")
    assert summary["task"] == "vocoder"
    assert summary["codec_overrides"] == f"codec.vocoder={Path(summary['checkpoint']).resolve()}"
    assert any(p.endswith("_reconstruction.wav") for p in summary["samples"])
    return Path(summary["checkpoint"])


@pytest.mark.parametrize("frames", [1, 2, 17])
def test_vocos_output_length_is_the_mel_codecs(frames: int) -> None:
    """T centred frames decode to (T - 1) * hop samples, as MelCodec.num_samples says."""
    codec = MelCodec(**DEBUG_CODEC)
    net = VocosVocoder(16, 512, dim=8, intermediate=16, layers=1)
    out = net(torch.randn(2, 16, frames))
    assert out.shape == (2, 1, codec.num_samples(frames))


def test_vocoder_learns_a_tone_through_the_shared_training_loop() -> None:
    """40 steps of LitVocoder's own training_step on one crop lower its MR-STFT loss by 15%: the
    generator's parameters are in the optimiser and the loss compares the right signals."""
    import lightning.pytorch as pl

    from samuel_pl.lit.vocoder import LitVocoder

    cfg = load_config(VOC_DEBUG, ["trainer.max_steps=40", "optim.warmup_steps=1"])
    module = LitVocoder(cfg)
    t = torch.arange(module.segment) / SR
    x = (0.3 * torch.sin(2 * torch.pi * 440.0 * t))[None, None]  # (1, 1, N)
    loader = torch.utils.data.DataLoader([{"audio": x[0]}] * 40, batch_size=1)
    with torch.no_grad():
        before = float(module.stft_loss(*module.generate(x, train=False)[:2]))
    trainer = pl.Trainer(max_steps=40, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, loader)
    with torch.no_grad():
        after = float(module.stft_loss(*module.generate(x, train=False)[:2]))
    assert after < 0.85 * before, (before, after)


def test_the_codec_feature_loss_scores_the_renditions_features() -> None:
    """vocoder.codec_weight adds w x L1(codec features of the rendition, of the crop); a
    rendition equal to the crop (an identity "vocoder") scores 0, and 0 turns the term off."""
    from samuel_pl.lit.vocoder import LitVocoder

    module = LitVocoder(load_config(VOC_DEBUG, ["vocoder.codec_weight=2.0"]))
    t = torch.arange(module.segment) / SR
    x = (0.3 * torch.sin(2 * torch.pi * 330.0 * t))[None, None]  # (1, 1, N)
    with torch.no_grad():
        y, ref, extra, terms = module.generate(x, train=True)
    feats = module.codec.encode(x, SR)
    expected = (module.codec.encode(y, SR) - feats).abs().mean()
    torch.testing.assert_close(terms["codec_l1"], expected)
    torch.testing.assert_close(extra, 2.0 * expected)
    exact = x[..., : y.shape[-1]].detach()
    module.vocoder.forward = lambda f: exact  # type: ignore[method-assign]
    n = exact.shape[-1]
    _, _, extra, terms = module.generate(x, train=True)
    head = (module.codec.encode(exact, SR) - feats)[..., : n // 512 - 2]  # away from the end
    assert float(head.abs().max()) < 1e-4
    assert float(terms["codec_l1"].detach()) < float(expected.detach())
    off = LitVocoder(load_config(VOC_DEBUG, ["vocoder.codec_weight=0"]))
    assert off.generate(x, train=True)[2] is None


def test_the_codec_feature_loss_trains_the_vocoder() -> None:
    """The codec term's gradient reaches the vocoder's weights (a detached term would add a
    number to the loss and train nothing): it matches a finite difference along the gradient."""
    from samuel_pl.lit.vocoder import LitVocoder

    torch.manual_seed(0)
    module = LitVocoder(load_config(VOC_DEBUG, ["vocoder.codec_weight=1.0"]))
    t = torch.arange(module.segment) / SR
    x = (0.3 * torch.sin(2 * torch.pi * 330.0 * t))[None, None]  # (1, 1, N)
    _, _, extra, _ = module.generate(x, train=True)
    assert extra is not None and extra.requires_grad
    params = [p for p in module.vocoder.parameters() if p.requires_grad]
    grads = torch.autograd.grad(extra, params, allow_unused=True)
    assert all(g is not None for g in grads)
    norm2 = sum(float((g * g).sum()) for g in grads)
    assert norm2 > 0
    eps = 1e-3 / norm2**0.5  # a step of 1e-3 along the gradient
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p -= eps * g
        lower = module.generate(x, train=True)[2]
    assert lower is not None
    predicted = eps * norm2  # first-order decrease
    assert float(extra.detach() - lower) == pytest.approx(predicted, rel=0.2)


def test_mel_codec_decodes_with_the_vocoder_checkpoint(voc_ckpt: Path) -> None:
    codec = build_codec(CodecConfig(**DEBUG_CODEC, vocoder=str(voc_ckpt), vocoder_refine=0))
    assert isinstance(codec, MelCodec) and codec.vocoder is not None
    assert not codec.vocoder.training
    z = codec.encode(torch.randn(1, 1, SR // 2) * 0.1, SR)  # (1, 16, T)
    out = codec.decode(z)
    assert out.shape == (1, 1, codec.num_samples(z.shape[-1]))
    torch.testing.assert_close(out, codec.vocoder(z))  # the vocoder, not Griffin-Lim
    gl = codec.decode(z, n_iter=2)  # asking for iterations still gives Griffin-Lim
    assert gl.shape == out.shape and not torch.allclose(gl, out)
    plain = build_codec(CodecConfig(**DEBUG_CODEC))
    torch.testing.assert_close(plain.decode(z, n_iter=2), gl)
    assert plain.codec_id == codec.codec_id  # same latents: caches are shared


def _latent_error(codec: MelCodec, audio: torch.Tensor, z: torch.Tensor) -> float:
    """Mean |encode(audio) - z| (log units) of (B, N) audio against frames z (B, M, T)."""
    return float((codec.encode(audio[:, None], SR) - z).abs().mean())


def _gain_roughness(codec: MelCodec, audio: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean |second difference across frequency| of log(|audio| / |ref|) on the filters' band,
    (B, N) audio each: small when audio is ref times a smooth (per-band) gain, i.e. when it
    keeps ref's partials where ref drew them."""
    lo, hi = codec.band
    a, r = (codec.stft(y).abs()[:, lo:hi].clamp_min(1e-6).log() for y in (audio, ref))
    return float((a - r).diff(n=2, dim=1).abs().mean())


def _band_log_error(codec: MelCodec, audio: torch.Tensor, target: torch.Tensor) -> float:
    """Mean |log magnitude - log target| on the filters' band, (B, N) audio vs (B, F, T)."""
    lo, hi = codec.band
    mag = codec.stft(audio).abs()[:, lo:hi]
    return float((mag.clamp_min(1e-5).log() - target[:, lo:hi].clamp_min(1e-5).log()).abs().mean())


@torch.no_grad()
def test_refinement_imposes_the_codec_band_and_keeps_the_rest_with_a_random_vocoder() -> None:
    """vocoder_refine > 0: Griffin-Lim from the vocoder's phase pulls the filters' band (here
    30 Hz-4 kHz) to the frames' own magnitudes, closer than the raw rendition, and leaves the
    bins outside it near the vocoder's (Griffin-Lim alone puts nothing there). A random vocoder
    of the demo architecture stands in for a trained one."""
    codec = MelCodec(n_mels=16, n_fft=1024, hop_length=512, f_max=4000.0, vocoder_refine=6)
    torch.manual_seed(0)
    codec.vocoder = VocosVocoder(16, 512, dim=32, intermediate=64, layers=2).eval()
    lo, hi = codec.band
    assert 0 < lo < hi < 400  # the band stops well below Nyquist (bin 512)
    t = torch.arange(SR) / SR
    x = 0.2 * torch.sin(2 * torch.pi * 220.0 * t) + 0.1 * torch.sin(2 * torch.pi * 330.0 * t)
    z = codec.encode(x[None, None], SR)  # (1, 16, T)
    raw = codec.vocoder(z)[:, 0]  # (1, N)
    refined = codec.decode(z)[:, 0]
    assert refined.shape == raw.shape
    # the refined rendition's filter outputs are closer to the frames than the raw one's
    assert _latent_error(codec, refined, z) < 0.8 * _latent_error(codec, raw, z)
    # projection (default) vs the minimum-norm inversion (mode="nnls"): both pull the frames
    # in (on this random vocoder the projection less tightly after 6 iterations: 0.21 vs 0.15
    # log units), but only the projection keeps the vocoder's own in-band spectrum
    nnls = codec.refine(z, raw, 6, mode="nnls")
    assert _latent_error(codec, nnls, z) < 0.8 * _latent_error(codec, raw, z)
    keep, lose = _gain_roughness(codec, refined, raw), _gain_roughness(codec, nnls, raw)
    assert keep < 0.5 * lose, (keep, lose)
    gl = codec.decode(z, n_iter=6)[:, 0]
    cases = (("raw", raw), ("refined", refined), ("gl", gl))
    above = {name: float(codec.stft(y).abs()[:, hi:].norm()) for name, y in cases}
    assert 0.7 < above["refined"] / above["raw"] < 1.6, above  # the vocoder's high band stays
    assert above["gl"] < 0.3 * above["refined"], above  # Griffin-Lim alone has next to nothing
    torch.testing.assert_close(refined, codec.refine(z, raw, 6))
    codec.vocoder_refine = 0
    torch.testing.assert_close(codec.decode(z)[:, 0], raw)


def test_generation_decodes_with_the_vocoder(voc_ckpt: Path, songs: Path, tmp_path: Path) -> None:
    """A debug diffusion checkpoint generates through the vocoder when --vocoder is given."""
    from samuel_pl.generation import Accompanist

    args = ["fit", "--config", str(REPO / "experiments" / "debug.yaml")]
    args += [*fit_overrides(songs, tmp_path, "diff"), "trainer.max_steps=2"]
    args += ["callbacks.samples_every_n_epochs=0", "callbacks.num_sample_songs=0"]
    args += [f"codec.{k}={v}" for k, v in DEBUG_CODEC.items()]
    assert main(args) == 0
    ckpt = tmp_path / "diff" / "checkpoints" / "last.ckpt"
    acc = Accompanist.from_checkpoint(ckpt, "cpu", vocoder=voc_ckpt)
    assert acc.codec.vocoder is not None
    decoded: list[torch.Tensor] = []
    hook = acc.codec.vocoder.register_forward_hook(lambda m, i, o: decoded.append(o))
    vocals = np.asarray(0.2 * np.sin(2 * np.pi * 330 * np.arange(SR) / SR), np.float32)[None]
    out = acc.generate(vocals, SR, steps=2, cfg=1.5, seed=0)
    hook.remove()
    assert len(decoded) == 1 and out.shape[-1] == SR and np.isfinite(out).all()
    assert Accompanist.from_checkpoint(ckpt, "cpu").codec.vocoder is None
    # a checkpoint whose saved vocoder is missing on this machine: --vocoder none still works,
    # because the override replaces the path before the codec loads anything
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    saved["hyper_parameters"]["config"]["codec"]["vocoder"] = str(tmp_path / "gone.ckpt")
    moved = tmp_path / "moved.ckpt"
    torch.save(saved, moved)
    with pytest.raises(SamuelError, match=r"gone\.ckpt not found"):
        Accompanist.from_checkpoint(moved, "cpu")
    assert Accompanist.from_checkpoint(moved, "cpu", vocoder="none").codec.vocoder is None


def test_vocoder_errors_name_the_file_and_the_problem(voc_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(SamuelError, match=r"none\.ckpt not found.*experiments/vocoder/demo.yaml"):
        build_codec(CodecConfig(**DEBUG_CODEC, vocoder=str(tmp_path / "none.ckpt")))
    other = {**DEBUG_CODEC, "n_mels": 24}
    with pytest.raises(
        SamuelError, match=r"last\.ckpt: the vocoder was trained on codec n_mels=16"
    ):
        build_codec(CodecConfig(**other, vocoder=str(voc_ckpt)))
    pitched = CodecConfig(type="pitched", n_mels=76, f_min=55.0, vocoder=str(voc_ckpt))
    with pytest.raises(SamuelError, match=r"last\.ckpt: the vocoder was trained on codec f_min"):
        build_codec(pitched)  # a mel codec's vocoder on the pitched codec
    fake = tmp_path / "diffusion.ckpt"
    torch.save({"hyper_parameters": {"config": {"task": "diffusion"}}, "state_dict": {}}, fake)
    with pytest.raises(SamuelError, match=r"diffusion\.ckpt: this is a SAMUeL .*`task: vocoder`"):
        build_codec(CodecConfig(**DEBUG_CODEC, vocoder=str(fake)))
    with pytest.raises(ConfigError, match="codec.type='stable_audio'.*codec.type=mel"):
        from samuel_pl.lit.vocoder import LitVocoder

        LitVocoder(load_config(VOC_DEBUG, ["codec.type=stable_audio"]))
    with pytest.raises(ConfigError, match="vocoder.kernel=4; allowed: an odd number"):
        load_config(VOC_DEBUG, ["vocoder.kernel=4"])
