"""One generation at a time: a FIFO of jobs served by a single worker thread."""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samuel_pl.errors import SamuelError

log = logging.getLogger("samuel_pl.web")


class QueueFull(Exception):
    """Every queue slot is taken."""


class Cancelled(Exception):
    """The server is shutting down; the running job stops at its next sampler step."""


@dataclass
class Job:
    """One generation request and what became of it."""

    id: str
    folder: Path
    settings: dict[str, Any]
    payload: Any = None
    """What the runner needs (the decoded vocal); dropped when the job ends."""
    size: int = 0
    """Bytes the payload holds (counted against the queue's ``max_bytes`` until the job ends)."""
    meta: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    """queued | running | done | failed"""
    stage: str = "waiting for the model"
    done: int = 0
    total: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None


class Progress:
    """The ``update(n)`` hook handed to ``Accompanist.generate`` for one job."""

    def __init__(self, job: Job, stopping: threading.Event) -> None:
        self.job = job
        self._stopping = stopping

    def update(self, n: int = 1) -> None:
        if self._stopping.is_set():
            raise Cancelled("the server is shutting down")
        self.job.done += int(n)


Runner = Callable[[Job, Progress], dict[str, Any]]


class JobQueue:
    """Runs ``runner(job, progress)`` for submitted jobs, one at a time, in submission order.

    Args:
        runner: does the work and returns the job's result; a SamuelError is the job's error.
        max_queue: jobs that may wait behind the running one (QueueFull beyond it).
        keep_jobs: finished jobs kept (with their folders); the oldest are deleted.
        root: folder for the jobs' files (default: a new temporary folder, removed on stop).
        max_bytes: payload bytes that waiting and running jobs may hold together (QueueFull
            beyond it; a single job is always accepted into an empty queue).
    """

    def __init__(
        self,
        runner: Runner,
        max_queue: int = 4,
        keep_jobs: int = 16,
        root: Path | None = None,
        max_bytes: int = 2**62,
    ) -> None:
        self.runner = runner
        self.max_queue = max_queue
        self.keep_jobs = keep_jobs
        self.max_bytes = max_bytes
        self._root = root
        self._own_root = root is None
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[str] = deque()
        self._finished: deque[str] = deque()
        self._running: str | None = None
        self._lock = threading.Lock()
        self._inbox: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ----- lifecycle ---------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The folder under which every job's files live (created on first use)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="samuel-serve-"))
        elif not self._own_root:
            self._root.mkdir(parents=True, exist_ok=True)
        return self._root

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._stopping.clear()
            self._thread = threading.Thread(target=self._work, name="samuel-serve", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel the running job, drop waiting ones, stop the worker, remove an own root."""
        self._stopping.set()
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._own_root and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    # ----- submitting --------------------------------------------------------------------------
    def full(self) -> bool:
        """Whether a submission now would be refused."""
        with self._lock:
            return self._in_flight() > self.max_queue

    def _in_flight(self) -> int:
        """Jobs waiting or running (call with the lock held)."""
        return len(self._waiting) + (self._running is not None)

    def held_bytes(self) -> int:
        """Payload bytes of the waiting and running jobs."""
        with self._lock:
            return self._held()

    def _held(self) -> int:
        ids = [*self._waiting, *([self._running] if self._running else [])]
        return sum(self._jobs[i].size for i in ids if i in self._jobs)

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (empty) folder under :attr:`root`."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        return job_id, folder

    def submit(
        self,
        job_id: str,
        folder: Path,
        settings: dict[str, Any],
        payload: Any,
        meta: dict[str, Any] | None = None,
        size: int = 0,
    ) -> Job:
        """Queue a job whose folder came from :meth:`new_folder`; QueueFull when no slot is
        free or its ``size`` bytes would take the queue past ``max_bytes``."""
        if self._stopping.is_set():
            raise QueueFull("the server is shutting down")
        with self._lock:
            if self._in_flight() > self.max_queue:
                raise QueueFull(f"the queue is full ({len(self._waiting)} waiting)")
            held = self._held()
            if held and held + size > self.max_bytes:
                raise QueueFull(f"the queue holds {held} bytes of audio already")
            job = Job(
                job_id, folder, dict(settings), payload, size=int(size), meta=dict(meta or {})
            )
            self._jobs[job_id] = job
            self._waiting.append(job_id)
        self._inbox.put(job_id)
        return job

    # ----- reading -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (unknown or already deleted)."""
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """1 for the next job to run, 2 for the one after...; 0 when not waiting."""
        with self._lock:
            try:
                return self._waiting.index(job.id) + 1
            except ValueError:
                return 0

    def snapshot(self, job: Job) -> dict[str, Any]:
        """The job's state as JSON."""
        now = job.finished or time.time()
        return {
            "id": job.id,
            "state": job.state,
            "stage": job.stage,
            "position": self.position(job),
            "progress": {"done": job.done, "total": job.total},
            "elapsed": round(now - (job.started or now), 3),
            "settings": job.settings,
            "error": job.error,
            "result": job.result,
        }

    # ----- the worker --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job_id = self._inbox.get()
            if job_id is None or self._stopping.is_set():
                return
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None:
                    continue
                self._waiting.remove(job_id)
                self._running = job_id
            job.state, job.stage, job.started = "running", "starting", time.time()
            try:
                job.result = self.runner(job, Progress(job, self._stopping))
                job.state, job.stage = "done", "done"
            except SamuelError as exc:
                job.state, job.error = "failed", (str(exc).splitlines() or ["failed"])[0]
            except Cancelled as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                log.exception("job %s failed", job_id)
                job.state, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            finally:
                job.finished, job.payload, job.size = time.time(), None, 0
                if job.state == "failed":
                    job.stage = "failed"
                self._retire(job_id)

    def _retire(self, job_id: str) -> None:
        """Mark a job finished; delete the oldest finished jobs beyond ``keep_jobs``."""
        with self._lock:
            self._running = None
            self._finished.append(job_id)
            old = []
            while len(self._finished) > self.keep_jobs:
                old.append(self._jobs.pop(self._finished.popleft()))
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)

    def discard(self, folder: Path) -> None:
        """Remove the folder of a request that was rejected before it became a job."""
        if folder.parent == self.root:
            shutil.rmtree(folder, ignore_errors=True)
