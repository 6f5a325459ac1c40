"""Frechet distance core, FAD-inf, per-song FAD, bootstrap CI and the accumulating Metric."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from samuel_pl.metrics import (
    FrechetAudioDistance,
    MelStatsEmbedder,
    bootstrap_fad_ci,
    fad_from_embeddings,
    fad_inf,
    frechet_distance,
    gaussian_stats,
    per_song_fad,
)


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _scipy_fd(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("d", [1, 3, 16, 64])
def test_metric_fd_matches_scipy_sqrtm(d: int) -> None:
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        _scipy_fd(mu1, s1, mu2, s2), rel=1e-7
    )


def test_metric_fd_closed_form_diagonal() -> None:
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
    v1, v2 = rng.uniform(0.1, 3, size=10), rng.uniform(0.1, 3, size=10)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu1, np.diag(v1), mu1, np.diag(v1)) == pytest.approx(0.0, abs=1e-10)


def test_metric_fd_singular_covariance_and_shape_errors() -> None:
    rng = np.random.default_rng(2)
    few = rng.normal(size=(5, 20))  # 5 samples in 20-D: rank-deficient covariance
    many = rng.normal(size=(400, 20))
    value = fad_from_embeddings(many, few)
    assert np.isfinite(value) and value > 0
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_metric_fd_gaussian_embeddings_grow_with_noise() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(2000, 8))
    assert fad_from_embeddings(ref, ref) == pytest.approx(0.0, abs=1e-9)
    values = [
        fad_from_embeddings(ref, ref + rng.normal(scale=s, size=ref.shape))
        for s in (0.2, 0.5, 1.0, 2.0)
    ]
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_metric_fad_inf_recovers_true_distance() -> None:
    rng = np.random.default_rng(4)
    d = 16
    mu1, mu2 = np.zeros(d), np.full(d, 0.15)
    v1, v2 = np.ones(d), rng.uniform(0.5, 2.0, size=d)
    true = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    gen = mu2 + rng.normal(size=(6000, d)) * np.sqrt(v2)
    res = fad_inf((mu1, np.diag(v1)), gen, steps=20, min_n=200, seed=0)
    naive_small = frechet_distance(mu1, np.diag(v1), *gaussian_stats(gen[:200]))
    assert abs(res.fad_inf - true) < 0.1 * true, (res.fad_inf, true)
    assert abs(res.fad_inf - true) < abs(naive_small - true)
    assert res.slope > 0 and res.r2 > 0.5 and len(res.sizes) == len(res.values)


def test_metric_per_song_fad_and_bootstrap_ci() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(3000, 6))
    songs = [rng.normal(loc=0.3 * (i % 3), size=(60, 6)) for i in range(12)]
    per_song = per_song_fad(ref, songs)
    assert per_song.shape == (12,)
    assert (
        per_song[[i for i in range(12) if i % 3 == 2]].mean()
        > per_song[[i for i in range(12) if i % 3 == 0]].mean()
    )
    ci = bootstrap_fad_ci(ref, songs, n_boot=100, seed=0)
    assert ci.fad == pytest.approx(fad_from_embeddings(ref, np.concatenate(songs)))
    assert ci.low < ci.high
    assert ci.low <= ci.fad <= ci.high


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_metric_accumulating_one_update_equals_many() -> None:
    rng = np.random.default_rng(6)
    emb = MelStatsEmbedder(n_mels=8, n_mfcc=4)  # dim 48
    real = rng.normal(size=(300, emb.dim))
    fake = rng.normal(loc=0.2, size=(250, emb.dim))
    one = FrechetAudioDistance(emb)
    one.add_embeddings(targets=[real])
    one.add_embeddings(preds=[fake])
    many = FrechetAudioDistance(emb)
    for chunk in np.array_split(real, 7):
        many.add_embeddings(targets=[chunk])
    many.add_embeddings(preds=np.array_split(fake, 5))
    expected = fad_from_embeddings(real, fake)
    assert float(one.compute()["fd_mel"]) == pytest.approx(expected, rel=1e-9)
    assert float(many.compute()["fd_mel"]) == pytest.approx(expected, rel=1e-9)
    assert one.name == "FD-mel"
    one.add_embeddings(preds=[fake[:50] + 3.0])  # a later update is not hidden by a cache
    assert float(one.compute()["fd_mel"]) > expected
    one.reset()
    with pytest.raises(ValueError, match="real"):
        one.compute()


def test_metric_states_merge_like_ddp_ranks() -> None:
    """Two "ranks" with half the data each, merged by the states' sum reduction, equal one."""
    rng = np.random.default_rng(7)
    emb = MelStatsEmbedder(n_mels=8, n_mfcc=4)
    real, fake = rng.normal(size=(200, emb.dim)), rng.normal(loc=0.1, size=(180, emb.dim))
    ranks = [FrechetAudioDistance(emb) for _ in range(2)]
    for i, m in enumerate(ranks):
        m.add_embeddings(preds=[fake[i::2]], targets=[real[i::2]])
    ranks[0].merge_state(ranks[1])
    expected = fad_from_embeddings(real, fake)
    assert float(ranks[0].compute()["fd_mel"]) == pytest.approx(expected, rel=1e-9)
