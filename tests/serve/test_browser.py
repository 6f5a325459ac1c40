"""End to end in Debian's Chromium (headless, Selenium): upload, generate, players, spectrogram.

Skipped, with the reason, where /usr/bin/chromium or chromedriver is absent; ``.ci/run`` installs
both and sets SAMUEL_REQUIRE_BROWSER=1, under which their absence is an error, not a skip.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import MAX_SECONDS  # noqa: E402
from serve_helpers import chromium, chromium_missing, write_vocal  # noqa: E402

MISSING = chromium_missing()
if MISSING and os.environ.get("SAMUEL_REQUIRE_BROWSER") == "1":  # .ci/run sets it
    raise RuntimeError(f"SAMUEL_REQUIRE_BROWSER=1 but {MISSING}")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "chromium is available")

SR_CODEC = 22050


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chromium()
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _open(browser: Any, base: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base + "/")
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.state") == "ready"
    )


def _js(browser: Any, script: str) -> Any:
    return browser.execute_script(script)


def test_upload_generate_play_and_download(
    served: tuple[str, Any], browser: Any, tmp_path: Path, record_property: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    seconds_in = 2.0
    vocal = write_vocal(tmp_path / "my take.wav", seconds_in, 44100)
    _open(browser, base)
    assert (
        _js(browser, "return [...document.querySelectorAll('#sampler option')].length") == 6
    )  # every registered sampler
    browser.find_element(By.ID, "file").send_keys(str(vocal))
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "generate").is_enabled())
    steps = browser.find_element(By.ID, "steps")
    steps.clear()
    steps.send_keys("2")
    browser.find_element(By.ID, "generate").click()
    WebDriverWait(browser, 90).until(
        lambda d: d.execute_script("return document.body.dataset.state") in ("done", "failed")
    )
    assert _js(browser, "return document.body.dataset.state") == "done", browser.find_element(
        By.ID, "error"
    ).text
    assert browser.find_element(By.ID, "result").is_displayed()
    for player in ("acc-player", "mix-player"):
        src = _js(browser, f"return document.getElementById('{player}').src")
        assert src.startswith(base + "/api/jobs/") and src.endswith(".wav"), src
        WebDriverWait(browser, 20).until(
            lambda d, p=player: (
                d.execute_script(f"return document.getElementById('{p}').readyState") >= 1
            )
        )
        duration = _js(browser, f"return document.getElementById('{player}').duration")
        assert duration == pytest.approx(seconds_in, abs=0.05), player
    image = _js(
        browser,
        "const i = document.getElementById('spectrogram');"
        "return [i.complete, i.naturalWidth, i.naturalHeight];",
    )
    assert image[0] and image[1] > 0 and image[2] > 0, image
    link = browser.find_element(By.ID, "acc-download")
    assert link.get_attribute("download") == "my take-accompaniment.wav"
    assert link.get_attribute("href").endswith("accompaniment.wav?download=1")
    stats = browser.find_element(By.ID, "stats").text
    assert "real-time factor" in stats and "ddim, 2 steps" in stats, stats
    browser_seconds = float(
        browser.find_element(By.ID, "result").get_attribute("data-browser-seconds")
    )
    assert 0 < browser_seconds < 90
    record_property("browser_generation_seconds", browser_seconds)
    print(f"\nbrowser: upload to players in {browser_seconds:.2f} s ({stats})")
    shot = tmp_path / "serve.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_rejections_are_shown_on_the_page(served: tuple[str, Any], browser: Any, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    _open(browser, base)
    error = browser.find_element(By.ID, "error")
    notes = tmp_path / "lyrics.txt"
    notes.write_text("la la la")
    browser.find_element(By.ID, "file").send_keys(str(notes))
    WebDriverWait(browser, 10).until(lambda d: error.is_displayed())
    assert "unsupported file type" in error.text
    assert not browser.find_element(By.ID, "generate").is_enabled()
    # checked in the page from the file's metadata: too long
    long = write_vocal(tmp_path / "long.wav", MAX_SECONDS + 2, 8000)
    browser.find_element(By.ID, "file").send_keys(str(long))
    WebDriverWait(browser, 10).until(lambda d: "limit is" in error.text)
    assert f"the limit is {MAX_SECONDS:g} s" in error.text
    assert not browser.find_element(By.ID, "generate").is_enabled()
    # only the server can tell: a text file named .wav
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF but not really a wave file" * 20)
    browser.find_element(By.ID, "file").send_keys(str(fake))
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "generate").is_enabled())
    browser.find_element(By.ID, "generate").click()
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.state") == "failed"
    )
    assert "not audio" in error.text and error.is_displayed()
    assert not browser.find_element(By.ID, "result").is_displayed()


def test_recording_with_a_fake_microphone_becomes_a_wav(served: tuple[str, Any], browser: Any):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = served
    _open(browser, base)
    record = browser.find_element(By.ID, "record")
    record.click()
    seconds = re.compile(r"Stop \(([2-9]|\d\d+) s\)")  # shown rounded: at least 1.5 s recorded
    WebDriverWait(browser, 10, poll_frequency=0.1).until(lambda d: seconds.search(record.text))
    record.click()
    info = browser.find_element(By.ID, "file-info")
    WebDriverWait(browser, 15).until(lambda d: info.text.startswith("recording.wav ·"))
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.getElementById('vocal-player').readyState") >= 1
    )
    duration = _js(browser, "return document.getElementById('vocal-player').duration")
    assert 1.3 < duration < 6, duration
    assert browser.find_element(By.ID, "generate").is_enabled()
    assert not browser.find_element(By.ID, "error").is_displayed()
