"""EMA of weights: update rule, warmup, state_dict, eval copy."""

from __future__ import annotations

import torch
from torch import nn

from samuel_pl.nn.ema import EMA


def make() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_update_rule_and_buffers() -> None:
    torch.manual_seed(0)
    model = make()
    ema = EMA(model, decay=0.9)
    before = [p.detach().clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    model.train()(torch.randn(8, 3))  # moves BatchNorm running stats
    ema.update(model)
    for s, b, p in zip(ema.module.parameters(), before, model.parameters()):
        torch.testing.assert_close(s, 0.9 * b + 0.1 * p.detach())
    torch.testing.assert_close(ema.module[1].running_mean, model[1].running_mean)
    assert int(ema.num_updates) == 1


def test_warmup_decay_ramps() -> None:
    ema = EMA(make(), decay=0.995, warmup=True)
    assert ema.current_decay() == 0.1  # (1 + 0) / (10 + 0)
    ema.num_updates.fill_(10_000)
    assert ema.current_decay() == 0.995


def test_in_state_dict_no_grad_eval_and_copy_to() -> None:
    model = make()
    owner = nn.Module()
    owner.net = model
    owner.ema = EMA(model, decay=0.5)
    sd = owner.state_dict()
    assert "ema.module.0.weight" in sd and "ema.num_updates" in sd
    owner.train()
    assert not owner.ema.module.training
    assert all(not p.requires_grad for p in owner.ema.module.parameters())
    with torch.no_grad():
        owner.ema.module[0].weight.fill_(3.0)
    fresh = make()
    owner.ema.copy_to(fresh)
    assert torch.all(fresh[0].weight == 3.0)
    x = torch.randn(2, 3)
    torch.testing.assert_close(owner.ema(x), owner.ema.module(x))


def test_update_skips_caches_that_grew_in_the_online_model() -> None:
    """RoPE tables are non-persistent caches: after the online network saw T > 1024 its tables
    are longer than the EMA copy's, and an update must still work (and leave them alone)."""
    from samuel_pl.nn.rope import RotaryEmbedding

    model = nn.Sequential(nn.Linear(8, 8), RotaryEmbedding(8, max_len=16), nn.BatchNorm1d(8))
    ema = EMA(model, decay=0.5)
    model[1].tables(2048, torch.device("cpu"))  # the online copy grows its tables
    model.train()(torch.randn(4, 8))  # BatchNorm statistics (persistent) move
    ema.update(model)
    assert ema.module[1].cos_cached.shape[0] == 16
    torch.testing.assert_close(ema.module[2].running_mean, model[2].running_mean)
