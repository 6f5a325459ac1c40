"""JobQueue: one job at a time in order, queue positions, a bounded queue, cleanup, shutdown."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_helpers import call, call_json, running_server, write_vocal  # noqa: E402

from samuel_pl.errors import SamuelError
from samuel_pl.web.jobs import Job, JobQueue, Progress, QueueFull
from samuel_pl.web.limits import Limits, Rejected, format_of, parse_settings


class Gate:
    """A runner that blocks each job until released and records concurrency."""

    def __init__(self) -> None:
        self.release = threading.Semaphore(0)
        self.order: list[str] = []
        self.active = self.most_active = 0
        self.lock = threading.Lock()

    def __call__(self, job: Job, progress: Progress) -> dict[str, Any]:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            assert self.release.acquire(timeout=10)
            job.total = 2
            progress.update(2)
            if job.settings.get("fail") == "user":
                raise SamuelError("vocals contain NaN samples\nsecond line")
            if job.settings.get("fail") == "bug":
                raise ZeroDivisionError("oops")
            self.order.append(job.meta["name"])
            return {"name": job.meta["name"]}
        finally:
            with self.lock:
                self.active -= 1


def _until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _submit(q: JobQueue, name: str, **settings: Any) -> Job:
    job_id, folder = q.new_folder()
    (folder / "out.wav").write_bytes(b"x")
    return q.submit(job_id, folder, settings, payload=b"audio", meta={"name": name})


def test_one_at_a_time_in_order_with_positions(tmp_path: Path) -> None:
    gate = Gate()
    q = JobQueue(gate, max_queue=2, keep_jobs=10, root=tmp_path)
    q.start()
    try:
        a = _submit(q, "a")
        _until(lambda: a.state == "running")
        b, c = _submit(q, "b"), _submit(q, "c")
        assert (q.position(a), q.position(b), q.position(c)) == (0, 1, 2)
        assert q.snapshot(c)["state"] == "queued" and q.snapshot(c)["position"] == 2
        assert q.full()
        with pytest.raises(QueueFull):
            _submit(q, "d")
        for _ in range(3):
            gate.release.release()
        _until(lambda: c.state == "done")
        assert gate.order == ["a", "b", "c"] and gate.most_active == 1
        assert c.result == {"name": "c"} and c.payload is None
        assert q.snapshot(c)["progress"] == {"done": 2, "total": 2}
        assert not q.full()
    finally:
        q.stop()


def test_errors_are_reported_and_the_worker_keeps_going(tmp_path: Path) -> None:
    gate = Gate()
    q = JobQueue(gate, max_queue=4, root=tmp_path)
    q.start()
    try:
        bad = _submit(q, "bad", fail="user")
        bug = _submit(q, "bug", fail="bug")
        good = _submit(q, "good")
        for _ in range(3):
            gate.release.release()
        _until(lambda: good.state == "done")
        assert (bad.state, bad.error) == ("failed", "vocals contain NaN samples")
        assert bug.state == "failed" and bug.error == "internal error: ZeroDivisionError: oops"
    finally:
        q.stop()


def test_old_finished_jobs_and_their_files_are_deleted(tmp_path: Path) -> None:
    gate = Gate()
    q = JobQueue(gate, max_queue=8, keep_jobs=2, root=tmp_path)
    q.start()
    try:
        jobs = [_submit(q, str(i)) for i in range(4)]
        for _ in jobs:
            gate.release.release()
        _until(lambda: jobs[-1].state == "done")
        assert [q.get(j.id) is not None for j in jobs] == [False, False, True, True]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(j.id for j in jobs[2:])
    finally:
        q.stop()
    assert tmp_path.exists(), "a root given by the caller must not be removed"


def test_stop_cancels_the_running_job_and_removes_its_own_root() -> None:
    started = threading.Event()

    def slow(job: Job, progress: Progress) -> dict[str, Any]:
        started.set()
        while True:  # a sampler loop: only the progress hook can end it
            progress.update(1)
            time.sleep(0.01)

    q = JobQueue(slow, max_queue=1)
    q.start()
    job = _submit(q, "x")
    root = q.root
    assert started.wait(10)
    q.stop(timeout=10)
    assert job.state == "failed" and "shutting down" in (job.error or "")
    assert not root.exists()
    with pytest.raises(QueueFull, match="shutting down"):
        q.submit("id", root, {}, None)


def test_discard_only_removes_folders_of_its_root(tmp_path: Path) -> None:
    q = JobQueue(Gate(), root=tmp_path / "root")
    _, folder = q.new_folder()
    outside = tmp_path / "keep"
    outside.mkdir()
    q.discard(outside)
    q.discard(folder)
    assert outside.exists() and not folder.exists()


def test_settings_and_format_validation() -> None:
    lim = Limits(max_steps=10)
    defaults = {"sampler": "ddim", "steps": 4, "cfg": 1.5}
    samplers = ["ddim", "dpmpp"]
    assert parse_settings({}, samplers, defaults, lim) == {
        "sampler": "ddim",
        "steps": 4,
        "cfg": 1.5,
        "seed": 0,
    }
    got = parse_settings(
        {"sampler": "dpmpp", "steps": "10", "cfg": "0", "seed": "9"}, samplers, defaults, lim
    )
    assert got == {"sampler": "dpmpp", "steps": 10, "cfg": 0.0, "seed": 9}
    got = parse_settings({"spacing": "karras"}, samplers, {**defaults, "spacing": "log_snr"}, lim)
    assert got["spacing"] == "karras"
    assert parse_settings({}, samplers, {**defaults, "spacing": "log_snr"}, lim)["spacing"] == (
        "log_snr"
    )
    bad_values = ({"steps": "11"}, {"cfg": "inf"}, {"cfg": "-1"}, {"seed": "2147483648"})
    for bad in (*bad_values, {"spacing": "linear"}):
        with pytest.raises(Rejected) as err:
            parse_settings(bad, samplers, defaults, lim)
        assert err.value.status == 400
    assert format_of("Take.FLAC") == ".flac" and format_of("a.b.aif") == ".aif"
    for name in ("take.m4a", "take.webm", "", "wav"):
        with pytest.raises(Rejected) as err:
            format_of(name)
        assert (
            err.value.status == 415 and "accepted: AIFF, FLAC, MP3, OGG, WAV" in err.value.message
        )
    with pytest.raises(ValueError):
        Limits(max_bytes=10)


class BlockingRenderer(Gate):
    """Stands in for the model in the app: blocks every job until released."""

    def info(self) -> dict[str, Any]:
        return {"samplers": ["ddim"], "defaults": {"sampler": "ddim", "steps": 2, "cfg": 1.0}}

    def effective(self, settings: dict[str, Any]) -> dict[str, Any]:
        return dict(settings)

    def __call__(self, job: Job, progress: Progress) -> dict[str, Any]:
        job.meta["name"] = job.id
        return super().__call__(job, progress)


def test_http_queue_positions_and_busy_503(tmp_path: Path) -> None:
    from samuel_pl.web.app import create_app

    fake = BlockingRenderer()
    app = create_app(fake, Limits(max_queue=1))  # type: ignore[arg-type]
    body = write_vocal(tmp_path / "v.wav", 0.2, 8000).read_bytes()
    url = "/api/jobs?filename=v.wav"
    with running_server(app) as base:
        status, first = call_json(base + url, body, method="POST")
        assert status == 202, first
        _until(lambda: call_json(f"{base}/api/jobs/{first['id']}")[1]["state"] == "running")
        status, second = call_json(base + url, body, method="POST")
        assert (status, second["state"], second["position"]) == (202, "queued", 1)
        status, headers, raw = call(base + url, body, method="POST")
        assert status == 503 and headers["retry-after"] == "30"
        assert "the server is busy (its queue of 1 is full)" in raw.decode()
        fake.release.release()
        fake.release.release()
        _until(lambda: call_json(f"{base}/api/jobs/{second['id']}")[1]["state"] == "done")
        assert fake.most_active == 1
        assert len(list(app.state.jobs.root.iterdir())) == 2  # the refused upload left nothing
