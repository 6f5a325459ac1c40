"""``stable_audio`` codec: diffusers and stable-audio-tools layouts (random weights), SPEC shapes,
chunked vs whole processing, precision, posterior sampling, missing-weights error."""

from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path

import diffusers  # the vae extra, installed by `make install`
import pytest
import torch
from torch import nn

from samuel_pl.codecs import LatentFields, build_codec, latent_fields
from samuel_pl.codecs.stable_audio import MODEL_PAGE, StableAudioCodec
from samuel_pl.config import CodecConfig
from samuel_pl.errors import SamuelError
from tests.codecs.sat_reference import SATAutoencoder, sat_config

SR = 8000
# A small Oobleck: hop 8, 4 latent channels, stereo.
SMALL = {
    "encoder_hidden_size": 8,
    "downsampling_ratios": [2, 4],
    "channel_multiples": [1, 2],
    "decoder_channels": 8,
    "decoder_input_channels": 4,
    "audio_channels": 2,
    "sampling_rate": SR,
}
HOP = 8


def _random_oobleck(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # diffusers' old weight_norm API
        model = diffusers.AutoencoderOobleck(**SMALL)
    with torch.no_grad():  # Snake parameters start at zero: make them (and biases) random
        for name, p in model.named_parameters():
            if name.endswith(("alpha", "beta", "bias")):
                p.copy_(0.3 * torch.randn(p.shape))
    return model.eval()


def _audio(n: int, channels: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / SR
    tone = torch.sin(2 * math.pi * 330 * t) * (0.5 + 0.5 * torch.sin(2 * math.pi * 2 * t))
    return (0.3 * tone + 0.05 * torch.randn(channels, n, generator=g))[None]  # (1, C, n)


def test_random_weight_oobleck_saved_with_save_pretrained_loads_through_codec_path(
    tmp_path: Path,
) -> None:
    model = _random_oobleck()
    checkout = tmp_path / "stable-audio-open"
    model.save_pretrained(checkout / "vae")  # the vae folder of a full checkout
    x = _audio(HOP * 50)
    with torch.no_grad():
        mean = model.encode(x).latent_dist.mean  # (1, 4, 50)
        audio = model.decode(mean).sample  # (1, 2, 400)
    for path in (checkout, checkout / "vae"):  # full checkout (subfolder="vae") and the folder
        codec = build_codec(CodecConfig(type="stable_audio", path=str(path), chunk_frames=0))
        assert isinstance(codec, StableAudioCodec)
        assert (codec.sample_rate, codec.audio_channels, codec.latent_channels) == (SR, 2, 4)
        assert codec.hop_length == HOP and codec.identity["format"] == "diffusers"
        cfg = CodecConfig(type="stable_audio", path=str(path))
        assert latent_fields(cfg) == LatentFields("stable_audio", 4, SR, HOP, 2)  # config only
        z = codec.encode(x, SR)
        torch.testing.assert_close(z, mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(codec.decode(z), audio, rtol=1e-4, atol=1e-5)


def test_default_architecture_builds_offline_with_spec_shapes() -> None:
    codec = StableAudioCodec.from_architecture(device="meta")  # SAO 1.0 config, no weights
    assert codec.hop_length == 2048 and codec.latent_channels == 64
    assert (codec.sample_rate, codec.audio_channels) == (44100, 2)
    assert codec.frame_rate == pytest.approx(21.53, abs=0.01)  # SPEC.md: 21.53 frames/s
    assert codec.num_samples(1024) / 44100 == pytest.approx(47.55, abs=0.01)  # 1024 frames
    assert codec.num_frames(44100 * 30) == math.ceil(44100 * 30 / 2048)
    params = sum(p.numel() for p in codec.model.parameters())
    assert 150e6 < params < 160e6  # the Stable Audio Open paper's 156M-parameter autoencoder
    assert codec.identity["weights"] == "random"


@pytest.mark.parametrize("n", [HOP * 20, HOP * 20 + 1, HOP * 21 - 1, 3])
def test_latent_length_arithmetic(n: int) -> None:
    codec = StableAudioCodec.from_architecture(**SMALL)
    z = codec.encode(_audio(n), SR)
    assert z.shape == (1, 4, math.ceil(n / HOP)) and z.shape[-1] == codec.num_frames(n)
    y = codec.decode(z)
    assert y.shape == (1, 2, z.shape[-1] * HOP) and y.shape[-1] == codec.num_samples(z.shape[-1])


@pytest.mark.parametrize(
    ("prefix", "config_name", "weights_name", "parametrized"),
    [
        ("autoencoder.", "vae_config.json", "vae_model.ckpt", False),
        ("pretransform.model.", "model_config.json", "model.safetensors", True),
    ],
)
def test_stable_audio_tools_layout_random_checkpoint(
    tmp_path: Path, prefix: str, config_name: str, weights_name: str, parametrized: bool
) -> None:
    ref = SATAutoencoder(io=2, ch=8, c_mults=[1, 2], strides=[2, 4], latent=4).eval()
    state = {prefix + k: v.detach().clone() for k, v in ref.state_dict().items()}
    if parametrized:  # newer torch's weight-norm names
        state = {
            k.replace("weight_g", "parametrizations.weight.original0").replace(
                "weight_v", "parametrizations.weight.original1"
            ): v
            for k, v in state.items()
        }
    state["conditioner.encoder.layers.0.bias"] = torch.zeros(3)  # unrelated keys are ignored
    config = sat_config(2, 8, [1, 2], [2, 4], 4, SR)
    if config_name == "model_config.json":  # a full model: the autoencoder is the pretransform
        config = {"sample_rate": SR, "model": {"pretransform": {"type": "autoencoder",
                  "config": config["model"]}}}  # fmt: skip
    (tmp_path / config_name).write_text(json.dumps(config))
    if weights_name.endswith(".ckpt"):
        torch.save({"state_dict": state}, tmp_path / weights_name)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / weights_name)
    codec = build_codec(CodecConfig(type="stable_audio", path=str(tmp_path), chunk_frames=0))
    assert codec.identity["format"] == "stable-audio-tools"
    fields = latent_fields(CodecConfig(type="stable_audio", path=str(tmp_path)))
    assert fields == LatentFields("stable_audio", 4, SR, codec.hop_length, 2) and HOP == 8
    x = _audio(HOP * 40)
    with torch.no_grad():
        expected_mean = ref.encode(x).chunk(2, dim=1)[0]
        z = codec.encode(x, SR)
        torch.testing.assert_close(z, expected_mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(codec.decode(z), ref.decode(z), rtol=1e-4, atol=1e-5)


def test_chunked_decode_and_encode_match_whole_within_tolerance() -> None:
    """This small decoder's receptive field reaches 19.5 frames either way (``SMALL``: hop 8).
    Windows of 192 frames sharing 96: the crossfade covers the central 48 shared frames, so each
    window keeps 24 frames of margin and sees every output's whole receptive field. Stated
    tolerance: max |difference| <= 1e-4 x the whole decode's peak (float rounding); a hard cut
    without overlap must be clearly worse."""
    model = _random_oobleck(seed=3)
    z = torch.randn(1, 4, 500, generator=torch.Generator().manual_seed(1))
    whole = StableAudioCodec.from_model(model, {"weights": "random"}, CodecConfig(chunk_frames=0))
    chunked = StableAudioCodec.from_model(
        _random_oobleck(seed=3), {}, CodecConfig(chunk_frames=192, chunk_overlap=96)
    )
    hard = StableAudioCodec.from_model(
        _random_oobleck(seed=3), {}, CodecConfig(chunk_frames=192, chunk_overlap=0)
    )
    ref = whole.decode(z)
    peak = ref.abs().max()
    err = (chunked.decode(z) - ref).abs().max()
    assert err <= 1e-4 * peak, (err, peak)
    assert (hard.decode(z) - ref).abs().max() > 10 * err
    x = _audio(HOP * 500)
    ref_z = whole.encode(x, SR)
    assert (chunked.encode(x, SR) - ref_z).abs().max() <= 1e-4 * ref_z.abs().max()


def _float64_encode(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Posterior mean of ``model`` computed in float64 (weight norm folded like the codec's)."""
    codec = StableAudioCodec.from_model(model, {"weights": "w"}, CodecConfig(chunk_frames=0))
    enc = nn.Module.to(codec.model, dtype=torch.float64).encoder
    with torch.no_grad():
        return enc(x.double()).chunk(2, dim=1)[0]


def test_bf16_precision_and_posterior_sampling() -> None:
    model = _random_oobleck(seed=5)
    base = StableAudioCodec.from_model(model, {"weights": "w"}, CodecConfig(chunk_frames=0))
    x = _audio(HOP * 30)
    z32 = base.encode(x, SR)
    bf16 = StableAudioCodec.from_model(
        _random_oobleck(seed=5), {"weights": "w"}, CodecConfig(precision="bf16", chunk_frames=0)
    )
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    zb = bf16.encode(x, SR)
    assert zb.dtype == torch.float32
    # Against float64 references (no CPU-specific kernel in them): the bf16-rounded weights
    # computed in float32 on CPU (oneDNN's bf16 convolutions are wrong on some CPUs: a latent
    # 0.79 off a peak of 1.07 on an Intel Xeon) and the full-precision model.
    z64 = _float64_encode(_random_oobleck(seed=5), x)
    peak = z64.abs().max()
    assert (z32.double() - z64).abs().max() <= 1e-5 * peak
    rounded = nn.Module.to(copy.deepcopy(bf16.model), dtype=torch.float64)  # the bf16 weights
    with torch.no_grad():
        zb64 = rounded.encoder(x.double()).chunk(2, dim=1)[0]
    assert (zb.double() - zb64).abs().max() <= 1e-5 * peak  # float32 compute, not bf16
    assert (zb.double() - z64).abs().max() <= 0.05 * peak  # bf16 weights are close enough
    bf16.decode(zb)  # decoding runs on the same float32 copy
    assert next(bf16.model.parameters()).dtype == torch.bfloat16  # the stored weights stay bf16
    assert bf16.codec_id != base.codec_id
    cfg = CodecConfig(sample_posterior=True, chunk_frames=0)
    sampled = StableAudioCodec.from_model(_random_oobleck(seed=5), {"weights": "w"}, cfg)
    zs = sampled.encode(x, SR)
    assert not torch.allclose(zs, z32) and torch.equal(zs, sampled.encode(x, SR))
    assert sampled.codec_id != base.codec_id


def test_missing_weights_error_names_files_folder_and_licence_page(tmp_path: Path) -> None:
    with pytest.raises(SamuelError) as err:
        build_codec(CodecConfig(type="stable_audio", path=str(tmp_path)))
    msg = str(err.value)
    assert str(tmp_path.resolve()) in msg and MODEL_PAGE in msg and "License" in msg
    assert "vae/config.json" in msg and "vae_model.ckpt" in msg and "\n" not in msg
    with pytest.raises(SamuelError, match="codec.path is empty"):
        build_codec(CodecConfig(type="stable_audio"))
    (tmp_path / "vae_model.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(SamuelError, match="config beside it"):
        build_codec(CodecConfig(type="stable_audio", path=str(tmp_path / "vae_model.ckpt")))
