"""Timestep-dependent mixing of the local and global attention branches (soft alignment).

``context = w_local(t) * local + w_global(t) * global``; ``tau = t / (T_train - 1)``.

- reference: w_global = sqrt(1 - tau), w_local = sqrt(tau) (the reference code; not convex).
- linear: w_local = tau, w_global = 1 - tau (convex).
- alpha_bar: w_global = alpha_bar(t), w_local = 1 - alpha_bar(t) (convex, tied to the noise;
  the caller gives alpha_bar(t): the network knows no noise schedule).
- learned: per-layer gate sigmoid(Linear(time_emb)) = w_global, w_local = 1 - w_global.
- local_only / global_only: (1, 0) / (0, 1).
"""

from __future__ import annotations

from torch import Tensor, nn

MIX_SCHEDULES = ("reference", "linear", "alpha_bar", "learned", "local_only", "global_only")


class TimestepMixer(nn.Module):
    """Mixing weights (w_local, w_global) for timesteps t.

    Args:
        schedule: one of :data:`MIX_SCHEDULES`.
        train_steps: T_train (tau = t / (T_train - 1)).
        time_dim: time-embedding width (learned gate input).
    """

    def __init__(
        self,
        schedule: str = "reference",
        train_steps: int = 800,
        time_dim: int = 0,
    ) -> None:
        super().__init__()
        if schedule not in MIX_SCHEDULES:
            raise ValueError(
                f"unknown mix schedule {schedule!r}; choose one of {', '.join(MIX_SCHEDULES)}"
            )
        self.schedule = schedule
        self.train_steps = int(train_steps)
        self.gate: nn.Linear | None = None
        if schedule == "learned":
            if time_dim <= 0:
                raise ValueError("the learned mix schedule needs time_dim > 0")
            self.gate = nn.Linear(time_dim, 1)
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)  # starts at an even 0.5 / 0.5 mix

    @property
    def needs_alpha_bar(self) -> bool:
        """True when :meth:`forward` needs ``alpha_bar`` (the alpha_bar schedule)."""
        return self.schedule == "alpha_bar"

    def forward(
        self, t: Tensor, temb: Tensor | None = None, alpha_bar: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """t: (B,) step units; temb: (B, time_dim) (learned only); alpha_bar: (B,) noise level
        alpha_bar(t) (alpha_bar only) -> (w_local, w_global), (B,) each."""
        tf = t.float()
        if self.schedule == "learned":
            if temb is None or self.gate is None:
                raise ValueError("the learned mix schedule needs the time embedding")
            g = self.gate(temb).squeeze(-1).float().sigmoid()  # (B,)
            return 1.0 - g, g
        if self.schedule == "local_only":
            return tf.new_ones(tf.shape), tf.new_zeros(tf.shape)
        if self.schedule == "global_only":
            return tf.new_zeros(tf.shape), tf.new_ones(tf.shape)
        if self.schedule == "alpha_bar":
            if alpha_bar is None:
                raise ValueError("the alpha_bar mix schedule needs alpha_bar(t) from the caller")
            a = alpha_bar.float()
            return 1.0 - a, a
        tau = (tf / (self.train_steps - 1)).clamp(0.0, 1.0)
        if self.schedule == "linear":
            return tau, 1.0 - tau
        return tau.sqrt(), (1.0 - tau).sqrt()  # reference

    def weights(
        self, t: Tensor, temb: Tensor | None = None, alpha_bar: Tensor | None = None
    ) -> dict[str, Tensor]:
        """{'local': (B,), 'global': (B,)} detached, for plots."""
        wl, wg = self.forward(t, temb, alpha_bar)
        return {"local": wl.detach(), "global": wg.detach()}
