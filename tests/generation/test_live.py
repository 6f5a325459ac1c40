"""The live engine: causal chunks, the condition it sees, emission, the real-time driver."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samuel_pl.codecs import build_codec
from samuel_pl.config.loader import load_config
from samuel_pl.errors import SamuelError
from samuel_pl.generation.live_engine import LiveConfig, LiveEngine
from samuel_pl.generation.live_stream import (
    LiveStream,
    listener_audio,
    play_realtime,
    summary_line,
)
from samuel_pl.lit import LitSamuel
from samuel_pl.training import resolve_in_channels
from tests.conftest import DEBUG_YAML

SR = 22050


@pytest.fixture(scope="module")
def parts() -> tuple[LitSamuel, torch.nn.Module]:
    torch.manual_seed(0)
    module = LitSamuel(resolve_in_channels(load_config(DEBUG_YAML))).eval()
    with torch.no_grad():  # off the init: a zero output layer would make every chunk the same
        for p in module.ema.module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return module, build_codec(module.cfg.codec).eval()


def _engine(parts, **kw) -> LiveEngine:
    return LiveEngine(*parts, LiveConfig(**{"latency": 1.0, "lookahead": 0.1, **kw}))


def _vocal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = 220 * 2 ** (rng.integers(0, 12, size=t.size // 4410 + 1) / 12)[(t * 5).astype(int)]
    return (0.3 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)


def _run_all(engine: LiveEngine, vocal: np.ndarray) -> list:
    engine.push(vocal)
    engine.close()
    chunks = []
    while engine.ready():
        chunks.append(engine.step())
    return chunks


def test_chunks_tile_the_input_and_each_needs_only_its_past_and_lookahead(parts) -> None:
    vocal = _vocal(5.0)
    chunks = _run_all(_engine(parts), vocal)
    starts = [c.start for c in chunks]
    ends = [c.start + c.audio.size for c in chunks]
    assert starts[0] == 0 and starts[1:] == ends[:-1] and ends[-1] == vocal.size
    # causality: a vocal that differs only after sample X gives the same chunks up to X
    cut = chunks[3].needed
    other = vocal.copy()
    other[cut:] = _vocal(5.0, seed=1)[cut:]
    again = _run_all(_engine(parts), other)
    for c, d in zip(chunks, again, strict=True):
        if c.needed <= cut:
            assert np.array_equal(c.audio, d.audio), c.index
    assert not np.array_equal(chunks[5].audio, again[5].audio)  # the change does reach later


def test_the_condition_is_the_offline_latent_up_to_the_lookahead_then_null(parts) -> None:
    engine = _engine(parts)
    vocal = _vocal(3.0)
    engine.push(vocal[: engine.needed()])
    s, seen = 0, engine.chunk + engine.lookahead
    cond = engine._condition(s, seen)  # (1, C, W)
    module, codec = parts
    offline = module.normalize(codec.encode(torch.from_numpy(vocal)[None, None], SR))
    torch.testing.assert_close(cond[..., :seen], offline[..., :seen], rtol=1e-4, atol=1e-4)
    null = module.ema.module.null_cond[None, :, None].expand(1, -1, engine.window - seen)
    torch.testing.assert_close(cond[..., seen:], null)


def test_emitted_audio_is_independent_of_arrival_timing(parts) -> None:
    vocal = _vocal(4.0)
    offline = np.concatenate([c.audio for c in _run_all(_engine(parts), vocal)])
    stream = LiveStream(_engine(parts))
    results = play_realtime(stream, vocal, SR, block=0.05)
    live = np.concatenate([r.chunk.audio for r in results])
    assert np.array_equal(live, offline)
    summary = stream.summary()
    assert summary["chunks"] == len(results) and summary["underruns"] == 0
    heard = listener_audio(results, vocal.size, SR, 1.0)
    assert np.array_equal(heard, offline)
    assert summary_line(summary).startswith("latency p50 ")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_late_chunks_are_underruns_and_a_stream_behind_skips_to_catch_up(parts) -> None:
    clock = FakeClock()
    engine = _engine(parts)
    step = engine.step

    def slow_step():  # every chunk takes 1.5 s of (fake) time: more than the 1 s latency
        clock.now += 1.5
        return step()

    engine.step = slow_step  # type: ignore[method-assign]
    stream = LiveStream(engine, clock=clock)
    vocal = _vocal(4.0)
    for i in range(0, vocal.size, 1024):  # all audio arrives at once (fake time stands still)
        stream.feed(vocal[i : i + 1024])
    stream.close()
    stream.start()
    got = []
    while (item := stream.out.get(timeout=60)) is not None:
        got.append(item)
    s = stream.summary()
    assert s["underruns"] == len(got) and s["skipped"] >= 1
    assert all(r.late for r in got)
    assert s["latency_p50_s"] >= 1.5
    heard = listener_audio(got, vocal.size, SR, 1.0)
    for r in got:  # the first (ready - arrived - latency) s of every late chunk were not heard
        lost = int((r.latency - 1.0) * SR)
        assert not heard[r.chunk.start : r.chunk.start + min(lost, r.chunk.audio.size)].any()


def test_a_consumer_that_never_reads_costs_a_bounded_queue(parts) -> None:
    stream = LiveStream(_engine(parts), max_out=2)
    stream.start()
    vocal = _vocal(4.0)
    stream.feed(vocal)
    stream.close()
    stream.join(timeout=120)
    assert not stream.alive and stream.error is None
    assert stream.out.qsize() == 2 and stream.dropped >= 3
    items = [stream.out.get_nowait() for _ in range(2)]
    assert items[-1] is None  # the end marker always gets in


def test_abort_stops_the_worker(parts) -> None:
    stream = LiveStream(_engine(parts)).start()
    stream.feed(_vocal(0.2))
    stream.abort()
    stream.join(timeout=30)
    assert not stream.alive


def test_impossible_settings_are_one_line_errors(parts) -> None:
    with pytest.raises(SamuelError, match="latency 0.05 s is too short"):
        _engine(parts, latency=0.05)
    with pytest.raises(SamuelError, match="exceed the model's window of 32 frames"):
        _engine(parts, latency=3.0, chunk=1.0)
    engine = _engine(parts)
    with pytest.raises(SamuelError, match="has not arrived"):
        engine.step()
    with pytest.raises(SamuelError, match="NaN"):
        engine.push(np.array([np.nan], np.float32))
