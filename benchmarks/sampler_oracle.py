"""Sampler error against steps on the Gaussian oracle (samuel_pl.diffusion.gaussian_oracle).

Table: the worst-case max error over the Gaussian family at every step count, for every sampler
that runs ``steps`` steps on every grid, and the step count from which it falls strictly
(docs/sampling_grid.md; tests/diffusion/test_sampler_error_vs_steps.py pins those counts).
Seconds on one core; no model, no data.

    python benchmarks/sampler_oracle.py [--min-steps 5] [--max-steps 25]
    python benchmarks/sampler_oracle.py --contributions log_snr 8 10 13
    python benchmarks/sampler_oracle.py --variants

``--contributions SPACING STEPS...`` prints, for DPM-Solver++(2M) on that grid, what each update
adds to the final error of the family member that sets the worst case (std 2, mean 0,
x_T = +3): the sampler restarted from the exact state (and exact previous x0 prediction) at
grid point k, minus restarted at k + 1. The rows sum to the total error.

``--variants`` prints, for order rules that were tried and not kept, where the worst-case error
of the third-order samplers falls from and its figures at 6, 8, 10, 15 and 25 steps:
lower-order final updates up to 15, 18 or 20 steps (19 is kept); DPM++(3M) with third-order
updates only where the step is at most W wide in lambda (DPM++(2M)'s update elsewhere); the
third-order samplers run as DPM++(2M) on grids where an update they would run at third order
is wider than W.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import write_results  # noqa: E402

import samuel_pl.diffusion.multistep as multistep  # noqa: E402
from samuel_pl.diffusion.gaussian_oracle import (  # noqa: E402
    falls_from,
    gaussian_flow_x0,
    gaussian_v,
    worst_case_error,
)
from samuel_pl.diffusion.multistep import dpmpp_taylor_step, multistep_orders  # noqa: E402
from samuel_pl.diffusion.noise_schedule import CosineSchedule  # noqa: E402
from samuel_pl.diffusion.samplers import (  # noqa: E402
    SAMPLERS,
    SPACINGS,
    Sampler,
    get_sampler,
    sample_dpmpp,
    sampler_timesteps,
)
from samuel_pl.diffusion.solver_base import checked_grid, lambda_grid, x0_hat  # noqa: E402

SCHED = CosineSchedule(800)


def table(min_steps: int, max_steps: int) -> list[dict]:
    """One row per sampler and grid: worst-case error per step count and where it falls from."""
    rows = []
    for name, spec in SAMPLERS.items():
        if not spec.uses_steps:
            continue
        for spacing in SPACINGS:
            errs = {
                n: worst_case_error(name, spacing, n, SCHED)
                for n in range(min_steps, max_steps + 1)
            }
            row = {"sampler": name, "grid": spacing, "falls from": falls_from(errs)}
            rows.append(row | {str(n): round(e, 4) for n, e in errs.items()})
    return rows


def _dpmpp_from(model_fn, x, ts: list[float], start: int, x0_prev) -> torch.Tensor:
    """DPM-Solver++(2M) as sample_dpmpp, started at grid point ``start`` with state x and the
    previous x0 prediction ``x0_prev`` (None at start 0)."""
    _, ab = checked_grid(torch.tensor(ts, dtype=torch.float64), SCHED)
    alpha, sigma, lam = lambda_grid(ab)
    n = len(ts)
    orders = multistep_orders(n - 1, 2)
    for k in range(start, n):
        x0 = x0_hat(model_fn, x, ts[k], SCHED)
        if k == n - 1:
            return x0
        h = lam[k + 1] - lam[k]
        d = x0
        if orders[k] == 2 and x0_prev is not None:
            r = (lam[k] - lam[k - 1]) / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
        x = (sigma[k + 1] / sigma[k]) * x + (alpha[k + 1] * -math.expm1(-h)) * d
        x0_prev = x0
    raise ValueError("empty grid")


def contributions(spacing: str, steps: int) -> tuple[list[float], list[float], float]:
    """(lambda at each update's start, each update's share of the error, total error) of
    DPM-Solver++(2M) for N(0, 2^2) data from x_T = +3 (the family's worst member)."""
    mu = torch.zeros(1, 1, dtype=torch.float64)
    sd = torch.full((1, 1), 2.0, dtype=torch.float64)
    x_T = torch.full((1, 1, 1), 3.0, dtype=torch.float64)
    ts = sampler_timesteps("dpmpp", SCHED, steps, spacing).tolist()

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return gaussian_v(x, t, mu, sd, SCHED)

    def exact_x(t: float) -> torch.Tensor:  # the exact path keeps the standard score fixed
        a_T, a = (float(SCHED.alpha_bar(torch.tensor(v, dtype=torch.float64))) for v in (ts[0], t))
        z = x_T / math.sqrt(a_T * 4 + 1 - a_T)
        return z * math.sqrt(a * 4 + 1 - a)

    target = gaussian_flow_x0(x_T, ts[0], mu, sd, SCHED)
    full = sample_dpmpp(model_fn, x_T, SCHED, torch.tensor(ts, dtype=torch.float64))
    if not torch.allclose(_dpmpp_from(model_fn, x_T, ts, 0, None), full, atol=1e-12, rtol=0):
        raise RuntimeError("the restartable walk does not reproduce sample_dpmpp")
    outs = []
    for k in range(len(ts)):
        prev = x0_hat(model_fn, exact_x(ts[k - 1]), ts[k - 1], SCHED) if k else None
        outs.append(float(_dpmpp_from(model_fn, exact_x(ts[k]), ts, k, prev) - target))
    lams = (SCHED.log_snr(torch.tensor(ts, dtype=torch.float64)) / 2).tolist()
    shares = [outs[k] - outs[k + 1] for k in range(len(ts) - 1)]
    return lams[:-1], shares, outs[0]


THIRD_ORDER = ("dpmpp3m", "unipc", "unipc_bh1")


def _third_order_updates(name: str, points: int) -> list[int]:
    """The updates sampler ``name`` runs at third order on a grid of ``points`` points."""
    if name == "dpmpp3m":
        return [k for k, o in enumerate(multistep_orders(points - 1, 3)) if o == 3]
    orders = multistep_orders(points - 1, 2)  # UniPC: its corrector lifts order 2 to 3
    return [k for k in range(points - 2) if orders[k] == 2]


def second_order_if_wide(name: str, width: float) -> Sampler:
    """Sampler ``name``, run as DPM++(2M) on grids where a third-order update is wider than
    ``width`` in lambda."""
    spec = get_sampler(name)

    def fn(model_fn, x_T, schedule, timesteps, **keywords):  # type: ignore[no-untyped-def]
        lam = (schedule.log_snr(timesteps) / 2).tolist()
        ks = _third_order_updates(name, len(lam))
        wide = any(lam[k + 1] - lam[k] > width for k in ks)
        return (sample_dpmpp if wide else spec.fn)(model_fn, x_T, schedule, timesteps, **keywords)

    return fn  # type: ignore[return-value]


def dpmpp3m_capped(width: float) -> Sampler:
    """DPM++(3M) with its third-order updates only where the step is at most ``width`` wide in
    lambda, DPM++(2M)'s midpoint update elsewhere."""

    def fn(model_fn, x_T, schedule, timesteps, **keywords):  # type: ignore[no-untyped-def]
        ts, ab = checked_grid(timesteps, schedule)
        alpha, sigma, lam = lambda_grid(ab)
        n = len(ts)
        orders = multistep_orders(n - 1, 3)
        x, x0s = x_T, []
        for k in range(n):
            x0s = [*x0s[-2:], x0_hat(model_fn, x, ts[k], schedule)]
            if k == n - 1:
                return x0s[-1]
            o, h, ratio = orders[k], lam[k + 1] - lam[k], sigma[k + 1] / sigma[k]
            if o == 3 and h > width:
                r = (lam[k] - lam[k - 1]) / h
                d = (1 + 1 / (2 * r)) * x0s[-1] - (1 / (2 * r)) * x0s[-2]
                x = ratio * x + (alpha[k + 1] * -math.expm1(-h)) * d
            else:
                x = dpmpp_taylor_step(
                    x, x0s[-o:], lam[k + 1 - o : k + 1], lam[k + 1], ratio, alpha[k + 1]
                )
        raise ValueError("empty grid")

    return fn  # type: ignore[return-value]


def _variant_line(label: str, name: str, fn: Sampler | None, min_steps: int, max_steps: int) -> str:
    parts = []
    for spacing in SPACINGS:
        errs = {
            n: worst_case_error(name, spacing, n, SCHED, fn)
            for n in range(min_steps, max_steps + 1)
        }
        figs = "/".join(f"{errs[n]:.3g}" for n in (6, 8, 10, 15, 25) if n in errs)
        parts.append(f"{spacing} from {falls_from(errs)} ({figs})")
    return f"{label:28s} {name:9s} " + "; ".join(parts)


def variants(min_steps: int, max_steps: int) -> None:
    """Print the tried order rules (module docstring) next to the kept ones."""
    for name in THIRD_ORDER:
        print(_variant_line("kept", name, None, min_steps, max_steps))
    kept = multistep.LOWER_ORDER_FINAL_BELOW
    try:
        for below in (15, 18, 20):
            multistep.LOWER_ORDER_FINAL_BELOW = below  # fewer updates: up to `below` steps
            label = f"lower final up to {below} steps"
            print(_variant_line(label, "dpmpp3m", None, min_steps, max_steps))
    finally:
        multistep.LOWER_ORDER_FINAL_BELOW = kept
    for width in (0.5, 0.75, 1.0, 1.25):
        label = f"3rd order where h <= {width}"
        print(_variant_line(label, "dpmpp3m", dpmpp3m_capped(width), min_steps, max_steps))
    for width in (1.0, 1.1):
        for name in THIRD_ORDER:
            label = f"2M if 3rd-order h > {width}"
            print(
                _variant_line(label, name, second_order_if_wide(name, width), min_steps, max_steps)
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-steps", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=25)
    parser.add_argument("--contributions", nargs="+", metavar="SPACING_THEN_STEPS")
    parser.add_argument("--variants", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.variants:
        variants(args.min_steps, args.max_steps)
        return 0
    if args.contributions:
        spacing, *counts = args.contributions
        for steps in map(int, counts):
            lams, shares, total = contributions(spacing, steps)
            parts = " ".join(f"{lam:+.1f}:{s:+.3f}" for lam, s in zip(lams, shares, strict=True))
            print(f"dpmpp {spacing} {steps} steps: total {total:+.3f} | lambda:share {parts}")
        return 0
    rows = table(args.min_steps, args.max_steps)
    meta = {"table": "worst-case max error over the Gaussian family (x_T = +-3) by steps"}
    print(write_results("sampler_oracle", rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
