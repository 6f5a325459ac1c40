"""Make docs/serve.png, the web demo screenshot in README.md and docs/web.md, from the real page.

    python tests/serve/make_screenshot.py --ckpt runs/<demo run>/checkpoints/last.ckpt \
        --vocal runs/<demo run>/samples/<epoch>/<song>_vocals.wav --out docs/serve.png

Serves the checkpoint on a free loopback port, uploads the vocal in headless Chromium with the
checkpoint's default sampler settings, waits for the result and saves the whole page as a
256-colour PNG (small enough to commit). Prints the time the browser saw.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_helpers import chromium, chromium_missing, running_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--vocal", required=True)
    parser.add_argument("--out", default="docs/serve.png")
    parser.add_argument("--width", type=int, default=900)
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        sys.exit(f"error: {missing}")

    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from samuel_pl.generation import Accompanist
    from samuel_pl.web.app import create_app
    from samuel_pl.web.render import Renderer

    app = create_app(Renderer(Accompanist.from_checkpoint(args.ckpt), args.ckpt))
    state = "return document.body.dataset.state"
    with running_server(app) as base:
        driver = chromium(args.width, 1000)
        try:
            driver.get(base + "/")
            WebDriverWait(driver, 20).until(lambda d: d.execute_script(state) == "ready")
            driver.find_element(By.ID, "file").send_keys(str(Path(args.vocal).resolve()))
            driver.find_element(By.ID, "generate").click()
            WebDriverWait(driver, 300).until(lambda d: d.execute_script(state) != "busy")
            if driver.execute_script(state) != "done":
                sys.exit(f"error: {driver.find_element(By.ID, 'error').text}")
            height = driver.execute_script("return document.documentElement.scrollHeight")
            metrics = {"width": args.width, "height": height, "deviceScaleFactor": 1}
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride", {**metrics, "mobile": False}
            )
            png = driver.get_screenshot_as_png()
            seconds = driver.find_element(By.ID, "result").get_attribute("data-browser-seconds")
            print(driver.find_element(By.ID, "stats").text)
        finally:
            driver.quit()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    print(
        f"wrote {out} ({out.stat().st_size // 1024} KB, {image.width}x{image.height}); "
        f"browser: upload to players in {seconds} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
