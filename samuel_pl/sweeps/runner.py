"""Run a sweep: one MLflow parent run, a child run per trial, resumable, optionally parallel.

Re-running a sweep finds its parent run (experiment + sweep name) and skips every trial whose
child run is marked done; failed or interrupted trials run again (a trial interrupted after
its first checkpoint continues from it: trials use ``resume=auto``). With ``workers > 1`` each
trial runs in its own spawned process with its own torch thread budget, so a crash or an
out-of-memory kill costs one trial, which is recorded as failed.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from samuel_pl.config import to_yaml
from samuel_pl.files import write_text
from samuel_pl.sweeps.spec import (
    SweepConfig,
    Trial,
    expand,
    experiment_name,
    load_sweep,
    out_dir,
)
from samuel_pl.sweeps.trial import STOP, Outcome, run_trial
from samuel_pl.tracking import client_for, ensure_experiment, git_commit, normalise_uri
from samuel_pl.tracking.ranking import ranked_markdown
from samuel_pl.tracking.run_io import (
    finish_run,
    log_metrics,
    reopen_run,
    set_tags,
    start_run,
    upload_file,
)
from samuel_pl.tracking.runs import KIND, SWEEP, RunRecord, find_sweep_parent, load_runs

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
Executor = Callable[[list[Trial]], list[Outcome]]


@dataclass
class SweepResult:
    """What ``run_sweep`` did."""

    parent_id: str
    experiment: str
    uri: str
    metric: str
    table: str
    ran: list[Outcome] = field(default_factory=list)
    skipped: int = 0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.ran if o.status != "done"]


def _parent(client: Any, exp_id: str, spec: SweepConfig, path: Path) -> str:
    found = find_sweep_parent(client, exp_id, spec.name)
    if found is not None:
        reopen_run(client, found.run_id)
        return found.run_id
    tags = {KIND: "sweep", SWEEP: spec.name, "sweep.file": str(path), "git_commit": git_commit()}
    params = {
        k: str(getattr(spec, k)) for k in ("method", "base", "suite", "budget", "search_seed")
    }
    return start_run(client, exp_id, f"sweep-{spec.name}", tags, params)


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's preemption, ``docker stop``) stops the whole sweep as
    Ctrl-C does, instead of failing the current trial and starting the next: the handler raises
    KeyboardInterrupt, which trials re-raise. Lightning's own SIGTERM handler calls it too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        STOP.set()  # read by run_trial, whatever Lightning makes of the exception below
        raise KeyboardInterrupt(f"signal {signum}")

    STOP.clear()
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _worker(
    spec: SweepConfig, trial: Trial, parent: str, out: str, threads: int, conn: Any
) -> None:
    import torch

    torch.set_num_threads(threads)
    conn.send(run_trial(spec, trial, parent, Path(out)))
    conn.close()


def _crashed(spec: SweepConfig, trial: Trial, parent: str, out: Path, code: int | None) -> Outcome:
    from samuel_pl.sweeps.trial import _record_failure

    exc = RuntimeError(f"worker process exited with code {code} before reporting a result")
    try:
        run_id = _record_failure(spec, trial, parent, out / trial.slug, exc, None)
    except Exception:  # noqa: BLE001 - the store itself may be the problem
        run_id = ""
    return Outcome(trial.key, trial.slug, "failed", run_id, 0.0, str(exc))


class _Runner:
    """Executes trials in this process (workers == 1) or in spawned worker processes."""

    def __init__(
        self, spec: SweepConfig, parent: str, out: Path, workers: int, threads: int, bar: tqdm
    ) -> None:
        self.spec, self.parent, self.out, self.bar = spec, parent, out, bar
        self.workers, self.threads = workers, threads

    def _report(self, o: Outcome) -> None:
        m = self.spec.metric
        what = f"{m}={o.metrics[m]:.4g}" if m in o.metrics else o.error if o.error else ""
        self.bar.write(f"[{o.status}] {o.slug} ({o.seconds:.0f} s) {what}")
        self.bar.update(1)

    def __call__(self, trials: list[Trial]) -> list[Outcome]:
        if self.workers <= 1:
            return self._inline(trials)
        return self._spawned(trials)

    def _inline(self, trials: list[Trial]) -> list[Outcome]:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        outcomes = []
        try:
            for t in trials:
                self.bar.set_postfix_str(t.slug[:40])
                outcomes.append(run_trial(self.spec, t, self.parent, self.out))
                self._report(outcomes[-1])
        finally:
            torch.set_num_threads(before)
        return outcomes

    def _spawned(self, trials: list[Trial]) -> list[Outcome]:
        ctx = mp.get_context("spawn")
        from samuel_pl.training.run import temporary_env  # not at import: keeps --help light

        queue, outcomes = list(trials), []
        running: dict[Any, tuple[Any, Trial, Any]] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    t = queue.pop(0)
                    recv, send = ctx.Pipe(duplex=False)
                    args = (self.spec, t, self.parent, str(self.out), self.threads, send)
                    p = ctx.Process(target=_worker, args=args, name=f"trial-{t.slug}")
                    with temporary_env({k: str(self.threads) for k in THREAD_VARS}):
                        p.start()
                    send.close()
                    running[p.sentinel] = (p, t, recv)
                for sentinel in wait(list(running)):
                    p, t, recv = running.pop(sentinel)
                    p.join()
                    o = recv.recv() if recv.poll() else None
                    if o is None:
                        o = _crashed(self.spec, t, self.parent, self.out, p.exitcode)
                    outcomes.append(o)
                    self._report(o)
        finally:
            for p, _, _ in running.values():
                p.terminate()
        return outcomes


def _optuna(spec: SweepConfig, done: dict[str, RunRecord], execute: Executor) -> list[Outcome]:
    from samuel_pl.sweeps.search import optuna_search

    return optuna_search(spec, list(done.values()), execute)


def run_sweep(
    path: str | Path,
    overrides: list[str] | None = None,
    workers: int = 1,
    threads: int = 0,
    progress: bool = True,
) -> SweepResult:
    """Run (or resume) the sweep in ``path``; return the ranked table and what ran."""
    path = Path(path)
    spec = load_sweep(path, overrides)
    spec.tracking.uri = normalise_uri(spec.tracking.uri)
    workers = max(1, int(workers))
    threads = threads or spec.threads or max(1, (os.cpu_count() or 1) // workers)
    out = out_dir(spec).resolve()
    out.mkdir(parents=True, exist_ok=True)
    uri, experiment = spec.tracking.uri, experiment_name(spec)
    client = client_for(uri)
    exp_id = ensure_experiment(client, uri, experiment)
    parent = _parent(client, exp_id, spec, path)
    tags = {"sweep.metric": spec.metric, "sweep.mode": spec.mode}
    set_tags(client, parent, tags | {"sweep.columns": json.dumps(spec.columns)})
    upload_file(client, parent, write_text(out / "sweep.yaml", to_yaml(spec)))
    done = {r.key: r for r in load_runs(client, exp_id, parent=parent) if r.ok}
    trials = expand(spec, str(path))
    todo = [t for t in trials if t.key not in done]
    skipped = len(trials) - len(todo)
    total = len(trials) if spec.method != "optuna" else spec.budget * len(spec.seeds)
    print(
        f"sweep {spec.name}: {total} trials, {skipped} done before (skipped), "
        f"{workers} worker(s) x {threads} thread(s); MLflow {uri} experiment {experiment}"
    )
    t0 = time.time()
    status = "FAILED"
    with tqdm(total=total, initial=skipped, desc=f"sweep {spec.name}", disable=not progress) as bar:
        execute = _Runner(spec, parent, out, workers, threads, bar)
        try:
            with stop_on_sigterm():
                ran = _optuna(spec, done, execute) if spec.method == "optuna" else execute(todo)
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            table = _finish(client, exp_id, parent, spec, out, status)
    n_failed = sum(o.status != "done" for o in ran)
    timing = {"sweep/wall_time_s": time.time() - t0}
    log_metrics(client, parent, timing | {"sweep/trials_failed_this_run": float(n_failed)})
    return SweepResult(parent, experiment, uri, spec.metric, table, ran, skipped)


def _finish(
    client: Any, exp_id: str, parent: str, spec: SweepConfig, out: Path, status: str
) -> str:
    """Ranked table to ``out/ranked.md`` and the parent run; parent summary metrics."""
    runs = load_runs(client, exp_id, parent=parent)
    table = ranked_markdown(runs, spec.metric, spec.mode, spec.columns)
    upload_file(client, parent, write_text(out / "ranked.md", table))
    done = [r for r in runs if r.ok]
    summary = {
        "sweep/trials_done": float(len(done)),
        "sweep/trials_failed": float(len(runs) - len(done)),
    }
    values = [r.metrics[spec.metric] for r in done if spec.metric in r.metrics]
    if values:
        summary[f"best/{spec.metric}"] = min(values) if spec.mode == "min" else max(values)
    log_metrics(client, parent, summary)
    finish_run(client, parent, status)
    return table
