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
