"""SamuelUNet drop_cond per frame (B, T): the null condition on exactly those frames."""

from __future__ import annotations

import torch

from samuel_pl.nn.unet import SamuelUNet


def test_unet_per_frame_drop_is_the_null_condition_on_those_frames() -> None:
    torch.manual_seed(0)
    net = SamuelUNet(in_channels=4, channels=[8, 16], time_dim=8, time_hidden=16, heads=2,
                     window=4, groups=4, train_steps=800).eval()  # fmt: skip
    with torch.no_grad():  # off the init (a zero output layer would hide the condition)
        for p in net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    x, t, cond = torch.randn(1, 4, 16), torch.tensor([300.0]), torch.randn(1, 4, 16)
    frames = torch.zeros(1, 16, dtype=torch.bool)
    frames[:, 10:] = True
    by_hand = cond.clone()
    by_hand[..., 10:] = net.null_cond[None, :, None]
    with torch.no_grad():
        torch.testing.assert_close(net(x, t, cond, drop_cond=frames), net(x, t, by_hand))
        whole = net(x, t, cond, drop_cond=torch.tensor([True]))
        null = net.null_cond[None, :, None].expand_as(cond)
        torch.testing.assert_close(whole, net(x, t, null))
