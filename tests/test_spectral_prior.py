"""The temporal spectral prior: the filter on signals of known spectrum, and the model wrapper."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from samuel_pl.data.spectrum import cache_spectrum
from samuel_pl.diffusion import CosineSchedule
from samuel_pl.diffusion.objective import x0_from_v
from samuel_pl.diffusion.spectral_prior import (
    SpectralPriorDenoiser,
    apply_prior,
    resample_spectrum,
    temporal_spectrum,
    wiener_gain,
)

T = 128


def sinusoids(n: int, c: int = 2, seed: int = 0) -> torch.Tensor:
    """(n, c, T) unit sinusoids of random phase and period in [16, 64] frames: a slow band."""
    g = torch.Generator().manual_seed(seed)
    phase = torch.rand(n, c, 1, generator=g) * 2 * math.pi
    period = 16 + 48 * torch.rand(n, c, 1, generator=g)
    return torch.sin(2 * math.pi * torch.arange(T) / period + phase)


def test_white_noise_has_its_variance_in_every_bin() -> None:
    x = 0.5 * torch.randn(4000, 1, T, generator=torch.Generator().manual_seed(1))
    s = temporal_spectrum(x)[0, 1:-1]  # DC and Nyquist bins are real: twice the spread
    assert s.mean().item() == pytest.approx(0.25, rel=0.02)
    assert float(s.std() / s.mean()) < 0.1


def test_resample_spectrum_is_identity_at_its_length_and_linear_between() -> None:
    s = torch.stack([torch.linspace(0.0, 1.0, T // 2 + 1), torch.ones(T // 2 + 1)])  # (2, F)
    assert torch.allclose(resample_spectrum(s, T), s)
    r = resample_spectrum(s, 3 * T)  # (2, 3T/2 + 1)
    assert r.shape == (2, 3 * T // 2 + 1)
    assert torch.allclose(r[0], torch.linspace(0.0, 1.0, 3 * T // 2 + 1), atol=1e-6)


@pytest.mark.parametrize("mode,gain", [("shrink", lambda w: w), ("blend", lambda w: w * (2 - w))])
def test_flat_spectrum_scales_noise_by_the_wiener_gain(mode: str, gain) -> None:
    """A white prior of power s and noise power r: W = s / (s + r) in every bin, so a network
    that passes its input through (x0_hat = y) is scaled by W (shrink) or W (2 - W) (blend)."""
    s, r = 0.5, 2.0
    y = torch.randn(3, 2, T, generator=torch.Generator().manual_seed(2))
    out = apply_prior(y, y, torch.full((2, T // 2 + 1), s), torch.full((3,), r), mode)
    w = s / (s + r)
    assert torch.allclose(out, gain(w) * y, atol=1e-5)


@pytest.mark.parametrize("mode,gain", [("shrink", lambda w: w), ("blend", lambda w: w * (2 - w))])
def test_keeps_a_slow_sinusoid_and_removes_white_noise(mode: str, gain) -> None:
    """Prior: slow sinusoids (periods 16-64 frames). A sinusoid of period 32 is kept (< 3% of
    its power changes); white noise through a leaky network (x0_hat = y) keeps the mean
    squared gain over the bins, about the band's share of them (~10%)."""
    spectrum = temporal_spectrum(sinusoids(512)) + 1e-4  # (2, F)
    clean = torch.sin(2 * math.pi * torch.arange(T) / 32.0 + 0.3).expand(1, 2, T)
    noise = 0.7 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(4))
    r = torch.tensor([0.49])
    kept = apply_prior(clean, clean, spectrum, r, mode)
    assert float((kept - clean).pow(2).mean() / clean.pow(2).mean()) < 0.03
    left = apply_prior(noise, noise, spectrum, r, mode)
    expected = float(gain(wiener_gain(spectrum, r)).pow(2).mean())
    assert 0.04 < expected < 0.15
    assert float(left.pow(2).mean() / noise.pow(2).mean()) == pytest.approx(expected, rel=0.35)


def test_no_noise_is_the_identity() -> None:
    x0 = torch.randn(2, 3, 40, generator=torch.Generator().manual_seed(5))
    spectrum = torch.rand(3, T // 2 + 1) * torch.linspace(1, 0, T // 2 + 1)
    for mode in ("shrink", "blend"):
        out = apply_prior(x0, x0 * 3, spectrum, torch.zeros(2), mode)
        assert torch.allclose(out, x0, atol=1e-5)
    assert torch.equal(wiener_gain(spectrum, torch.zeros(1))[0], torch.ones_like(spectrum))


def _leaky_model(schedule: CosineSchedule):
    """A 'network' whose x0 estimate is x_t / alpha (passes all the noise): v = ... at t."""

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = schedule.alpha_bar(t.double()).to(x.dtype).reshape(-1, 1, 1)
        return (a.sqrt() * x - x / a.sqrt()) / (1 - a).sqrt()  # v whose x0 is x / alpha

    return fn


def test_wrapper_filters_the_x0_of_the_model_and_respects_max_noise() -> None:
    sch = CosineSchedule(800)
    spectrum = temporal_spectrum(sinusoids(256)) + 1e-4  # (2, F)
    x = torch.randn(2, 2, T, generator=torch.Generator().manual_seed(6))
    t = torch.full((2,), 200.0)
    a = sch.alpha_bar(t)
    raw = _leaky_model(sch)
    v = SpectralPriorDenoiser(raw, sch, spectrum, "shrink")(x, t)
    x0 = x0_from_v(x, v, a)
    r = (1 - a) / a
    expected = apply_prior(x / a.sqrt()[0], x, spectrum, r, "shrink")
    assert torch.allclose(x0, expected, atol=1e-4)
    assert x0.pow(2).mean() < 0.2 * (x / a.sqrt()[0]).pow(2).mean()
    capped = SpectralPriorDenoiser(raw, sch, spectrum, "shrink", max_noise=0.1)
    assert torch.equal(capped(x, t), raw(x, t))  # sigma / alpha ~0.4 > 0.1: left alone
    with pytest.raises(ValueError, match="channels"):
        SpectralPriorDenoiser(raw, sch, spectrum[:1])(x, t)
    with pytest.raises(ValueError, match="mode"):
        SpectralPriorDenoiser(raw, sch, spectrum, "sharpen")


def test_cache_spectrum_z_scores_and_averages_crops(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    songs = {f"s{i}": (3 + 2 * rng.standard_normal((2, 300))).astype(np.float32) for i in range(3)}
    cache = SimpleNamespace(
        path=tmp_path,
        mean=np.full(2, 3.0),
        std=np.full(2, 2.0),
        songs=lambda split: list(songs),
        load=lambda song: (songs[song] * 0, songs[song]),
    )
    s = cache_spectrum(cache, 64)  # type: ignore[arg-type]
    assert s.shape == (2, 33)
    assert float(s[:, 1:-1].mean()) == pytest.approx(1.0, rel=0.1)  # z-scored white noise


def test_plan_wraps_only_when_on_and_refuses_a_model_without_spectrum() -> None:
    from samuel_pl.config import SamplingConfig
    from samuel_pl.diffusion import SamplingError, SamplingPlan

    sch, spectrum = CosineSchedule(800), torch.ones(2, T // 2 + 1)
    fn = _leaky_model(sch)
    off = SamplingPlan.resolve(SamplingConfig(), sch)
    assert off.wrap(fn, sch) is fn and "spectral_prior" not in off.settings()
    on = SamplingPlan.resolve(SamplingConfig(), sch, spectral_prior="blend", spectrum=spectrum)
    wrapped = on.wrap(fn, sch)
    assert isinstance(wrapped, SpectralPriorDenoiser) and wrapped.max_noise == 1.0  # default
    every = SamplingConfig(spectral_prior_max_noise=0.0)
    plan = SamplingPlan.resolve(every, sch, spectral_prior="blend", spectrum=spectrum)
    assert plan.wrap(fn, sch).max_noise is None  # type: ignore[attr-defined]
    assert on.settings()["spectral_prior"] == "blend"
    by_default = SamplingPlan.resolve(
        SamplingConfig(spectral_prior="shrink"), sch, spectrum=spectrum
    )
    assert by_default.spectral_prior == "shrink"
    with pytest.raises(SamplingError, match="temporal spectrum"):
        SamplingPlan.resolve(SamplingConfig(), sch, spectral_prior="blend")
    with pytest.raises(SamplingError, match="spectral_prior"):
        SamplingPlan.resolve(SamplingConfig(), sch, spectral_prior="wiener", spectrum=spectrum)


def test_fit_stores_the_spectrum_and_older_checkpoints_measure_it(
    debug_ckpt: Path, tmp_path: Path
) -> None:
    from samuel_pl.lit import LitSamuel

    module = LitSamuel.from_checkpoint(debug_ckpt)
    stored = module.temporal_spectrum.clone()
    assert stored.shape == (module.latent_mean.numel(), module.cfg.data.crop_frames // 2 + 1)
    assert bool((stored > 0).all())
    ckpt = torch.load(debug_ckpt, map_location="cpu", weights_only=False)
    del ckpt["state_dict"]["temporal_spectrum"]  # a checkpoint from before it was stored
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    module = LitSamuel.from_checkpoint(old)
    assert not bool(module.temporal_spectrum.any())
    plan = module.sampling_plan(spectral_prior="blend")  # measured from the config's cache
    assert plan.spectrum is not None
    torch.testing.assert_close(plan.spectrum, stored)


def test_generate_runs_the_prior_only_when_asked(
    debug_ckpt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import samuel_pl.diffusion.spectral_prior as sp
    from samuel_pl.generation import Accompanist

    calls: list[int] = []
    real = sp.apply_prior
    monkeypatch.setattr(sp, "apply_prior", lambda *a, **k: calls.append(1) or real(*a, **k))
    acc = Accompanist.from_checkpoint(debug_ckpt, device="cpu", vocoder="none")
    vocals = np.random.default_rng(0).standard_normal(acc.sample_rate).astype(np.float32) * 0.1
    acc.generate(vocals, acc.sample_rate, plan=acc.sampling_plan(steps=3))
    assert calls == []
    plan = acc.sampling_plan(steps=3, spectral_prior="blend")
    out = acc.generate(vocals, acc.sample_rate, plan=plan, return_latent=True)
    assert calls and np.isfinite(out.latent).all()
    assert out.settings["spectral_prior"] == "blend"
