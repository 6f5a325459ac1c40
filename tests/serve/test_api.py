"""The demo's HTTP API on a real server: a short vocal end to end, and every rejection."""

from __future__ import annotations

import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import MAX_BYTES, MAX_SECONDS, MAX_STEPS  # noqa: E402
from serve_helpers import call, call_json, wait_done, write_vocal  # noqa: E402

from samuel_pl.config import SamplingConfig  # noqa: E402

SR_CODEC = 22050  # the debug config's mel codec
FAST = "sampler=ddim&steps=2&cfg=1.5&seed=3"


def _post(base: str, body: bytes, query: str, **headers: str) -> tuple[int, dict[str, Any]]:
    hdrs = {"content-type": "application/octet-stream", **headers}
    return call_json(f"{base}/api/jobs?{query}", body, headers=hdrs, method="POST")


def _post_declared(base: str, size: int, query: str) -> tuple[int, dict[str, Any]]:
    """POST headers declaring a ``size``-byte body, and no body: the server must answer from
    the Content-Length alone (sending the body races its early close: a broken pipe)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("POST", f"/api/jobs?{query}")
        conn.putheader("content-type", "application/octet-stream")
        conn.putheader("content-length", str(size))
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _folders(app: Any) -> set[str]:
    return {p.name for p in app.state.jobs.root.iterdir()}


def test_info_describes_model_and_limits(served: tuple[str, Any]) -> None:
    base, _ = served
    status, info = call_json(f"{base}/api/info")
    assert status == 200
    assert info["samplers"] == ["ancestral", "ddim", "dpmpp", "dpmpp3m", "unipc", "unipc_bh1"]
    grid = SamplingConfig().spacing  # the debug config leaves the schema's default spacing
    assert info["defaults"] == {"sampler": "ddim", "steps": 3, "cfg": 1.5, "spacing": grid}
    assert info["spacings"] == ["auto", "uniform", "log_snr", "karras"]
    assert info["sample_rate"] == SR_CODEC and info["device"] == "cpu"
    assert info["limits"]["max_seconds"] == MAX_SECONDS
    assert info["limits"]["max_bytes"] == MAX_BYTES
    assert "wav" in info["limits"]["formats"] and "mp3" in info["limits"]["formats"]


def test_page_and_assets_are_served_with_a_strict_policy(served: tuple[str, Any]) -> None:
    base, _ = served
    status, headers, body = call(f"{base}/")
    assert status == 200 and b'id="generate"' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for asset in ("app.js", "style.css"):
        assert call(f"{base}/static/{asset}")[0] == 200


def test_short_vocal_gives_audio_of_the_same_duration(served: tuple[str, Any], tmp_path) -> None:
    base, _ = served
    n_in, sr_in = 66150, 44100  # 1.5 s of stereo at 44.1 kHz
    src = write_vocal(tmp_path / "take 1.flac", n_in / sr_in, sr_in, channels=2)
    status, job = _post(base, src.read_bytes(), f"filename=take%201.flac&{FAST}")
    assert status == 202, job
    assert job["state"] in ("queued", "running")
    grid = SamplingConfig().spacing
    expect = {"sampler": "ddim", "steps": 2, "cfg": 1.5, "spacing": grid, "seed": 3}
    assert job["settings"] == expect
    job = wait_done(base, job["id"])
    assert job["state"] == "done", job["error"]
    res = job["result"]
    assert job["progress"]["done"] == job["progress"]["total"] == 2 * res["windows"]
    n_out = round(n_in * SR_CODEC / sr_in)
    for key in ("accompaniment", "mix"):
        status, headers, body = call(base + res[key])
        assert status == 200 and headers["content-type"] == "audio/wav"
        audio, sr = sf.read(io.BytesIO(body), always_2d=True)
        assert sr == SR_CODEC and audio.shape[0] == n_out, key
        assert 0.0 < abs(audio).max() < 1.0
    status, headers, body = call(base + res["spectrogram"])
    assert status == 200 and body.startswith(b"\x89PNG") and headers["content-type"] == "image/png"
    assert res["audio_seconds"] == pytest.approx(n_out / SR_CODEC, abs=1e-3)
    assert res["rtf"] == pytest.approx(res["generation_seconds"] / res["audio_seconds"], rel=0.01)
    status, headers, _ = call(base + res["accompaniment"] + "?download=1")
    assert headers["content-disposition"] == 'attachment; filename="take_1-accompaniment.wav"'


def test_same_seed_same_accompaniment(served: tuple[str, Any], tmp_path) -> None:
    base, _ = served
    body = write_vocal(tmp_path / "v.wav", 0.5, 16000).read_bytes()
    outs = []
    for seed in (7, 7, 8):
        status, job = _post(base, body, f"filename=v.wav&sampler=ddim&steps=2&seed={seed}")
        assert status == 202, job
        job = wait_done(base, job["id"])
        outs.append(call(base + job["result"]["accompaniment"])[2])
    assert outs[0] == outs[1] and outs[0] != outs[2]


@pytest.mark.parametrize(
    ("make", "query", "status", "words"),
    [
        ("long", "filename=long.wav", 413, f"limit is {MAX_SECONDS:g} s"),
        ("text", "filename=notes.wav", 415, "not audio"),
        ("text", "filename=notes.txt", 415, "unsupported file type ('.txt')"),
        ("wav", "filename=take", 415, "no extension"),
        ("big", "filename=big.wav", 413, "larger than the 1.0 MB limit"),
        ("chunked", "filename=big.wav", 413, "larger than the 1.0 MB limit"),
        ("empty", "filename=e.wav", 400, "upload is empty"),
        ("wav", "filename=v.wav&steps=0", 400, f"steps must be between 1 and {MAX_STEPS}"),
        ("wav", "filename=v.wav&steps=lots", 400, "steps must be an integer, got 'lots'"),
        ("wav", "filename=v.wav&sampler=euler", 400, "unknown sampler 'euler'"),
        ("wav", "filename=v.wav&cfg=nan", 400, "guidance must be between 0 and 20"),
        ("wav", "filename=v.wav&seed=-1", 400, "seed must be between"),
        (
            "wav",
            "filename=v.wav&sampler=ancestral",
            400,
            f"800 steps; this server allows at most {MAX_STEPS}",
        ),
    ],
)
def test_rejections_are_clear_and_leave_nothing(
    served: tuple[str, Any], tmp_path, make: str, query: str, status: int, words: str
) -> None:
    base, app = served
    bodies = {
        "long": lambda: write_vocal(tmp_path / "l.wav", MAX_SECONDS + 1, 8000).read_bytes(),
        "text": lambda: b"these are lyrics, not audio\n" * 10,
        "wav": lambda: write_vocal(tmp_path / "s.wav", 0.3, 8000).read_bytes(),
        "big": lambda: MAX_BYTES + 1,  # declared in Content-Length, not sent
        "chunked": lambda: iter([b"\0" * 2**16] * (MAX_BYTES // 2**16 + 1)),  # no Content-Length
        "empty": lambda: b"",
    }
    before = _folders(app)
    data = bodies[make]()
    got, body = _post_declared(base, data, query) if make == "big" else _post(base, data, query)
    assert got == status, body
    assert words in body["error"], body["error"]
    assert _folders(app) == before, "a rejected upload left files behind"


def test_ancestral_steps_are_the_training_steps(renderer: Any) -> None:
    eff = renderer.effective({"sampler": "ancestral", "steps": 2, "cfg": 1.0, "seed": 0})
    assert eff["steps"] == int(renderer.acc.module.schedule.train_steps) > 2


def test_multipart_upload_is_refused_with_a_hint(served: tuple[str, Any]) -> None:
    base, _ = served
    got, body = _post(base, b"--x\r\n", "filename=v.wav", **{"content-type": "multipart/form-data"})
    assert got == 415 and "request body" in body["error"]


def test_no_file_outside_the_outputs_is_served(served: tuple[str, Any], tmp_path) -> None:
    base, _ = served
    body = write_vocal(tmp_path / "v.wav", 0.3, 8000).read_bytes()
    status, job = _post(base, body, f"filename=v.wav&{FAST}")
    assert status == 202, job
    job = wait_done(base, job["id"])
    assert call(base + job["result"]["mix"])[0] == 200
    for path in (
        "/api/jobs/{id}/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/{id}/../../../../etc/passwd",
        "/api/jobs/{id}/input.wav",
        "/api/jobs/{id}/%2E%2E",
        "/api/jobs/..%2F{id}/mix.wav",
        "/api/jobs/{unknown}/mix.wav",
        "/static/..%2Fapp.py",
        "/static/../jobs.py",
    ):
        url = base + path.format(id=job["id"], unknown=uuid.uuid4().hex)
        status, _, body = call(url)
        assert status == 404, (url, body[:200])
        assert b"root:" not in body and b"import" not in body, url
    status, _, body = call(base + f"/api/jobs/{uuid.uuid4().hex}")
    assert status == 404 and "unknown job" in json.loads(body)["error"]
