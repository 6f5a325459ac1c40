"""The Live mode in a real browser: headless Chromium's fake microphone sings a WAV into the page;
accompaniment must come back continuously and within the delay, and the take is kept.

Skipped like tests/serve/test_browser.py where Chromium is absent (an error under
SAMUEL_REQUIRE_BROWSER=1, which .ci/run sets).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_helpers import chromium, chromium_missing  # noqa: E402

MISSING = chromium_missing()
if MISSING and os.environ.get("SAMUEL_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"SAMUEL_REQUIRE_BROWSER=1 but {MISSING}")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "chromium is available")
DELAY = 1.5
SING = 6.0  # seconds of singing


@pytest.fixture(scope="module")
def singer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sr = 44100
    t = np.arange(int(sr * 4)) / sr
    notes = 220 * 2 ** (np.array([0, 4, 7, 12, 7, 4, 0, 5]) / 12)
    f = notes[(t * 2).astype(int) % notes.size]
    wav = tmp_path_factory.mktemp("singer") / "voice.wav"
    sf.write(wav, (0.4 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32), sr, "PCM_16")
    driver = chromium(fake_audio=wav)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_singing_into_live_mode_brings_accompaniment_back_in_time(served, singer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    singer.get(base + "/")
    card = singer.find_element(By.ID, "live-card")
    WebDriverWait(singer, 20).until(lambda d: card.is_displayed())
    state = "return window.samuelLive.state"
    singer.find_element(By.ID, "live-start").click()
    WebDriverWait(singer, 30).until(lambda d: d.execute_script(state) == "live")
    time.sleep(SING)
    singer.find_element(By.ID, "live-start").click()
    WebDriverWait(singer, 30).until(lambda d: d.execute_script(state) == "done")
    live = singer.execute_script("return window.samuelLive")
    chunks = live["chunks"]
    assert len(chunks) >= 3, live
    # continuous: chunk after chunk, each starting where the previous one ended
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b["start"] == a["start"] + a["samples"]
    sung = [c for c in chunks if (c["start"] + c["samples"]) / 22050 < SING - 1.0]
    assert sung, chunks
    # within the bound: back before the delay is up (measured on the page's audio clock)
    assert max(c["latency"] for c in sung) <= DELAY, [
        (c["latency"], c["serverLatency"], c["at"], c["wall"], c["start"]) for c in sung
    ]
    assert live["underruns"] == 0 or all(not c["late"] for c in sung)
    assert abs(live["takeSeconds"] - SING) < 2.0, live["takeSeconds"]
    assert singer.find_element(By.ID, "live-take").is_displayed()
    href = singer.find_element(By.ID, "live-mix-download").get_attribute("href")
    assert href.startswith("blob:")
