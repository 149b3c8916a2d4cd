#!/usr/bin/env python3
"""Take docs/widget.png: the demo storefront with the widget open, after tracking demo order 1042.

    .venv/bin/python scripts/widget_screenshot.py [--out docs/widget.png]

Starts Lumen on a free port with the demo orders in a temporary database and drives Debian's chromium
with Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
LUMEN = Path(sys.executable).parent / "lumen"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Lumen did not start at {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "widget.png")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("error: Debian's chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 2
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "LUMEN_DATABASE_URL": f"sqlite:///{scratch}/demo.db",
            "LUMEN_SHOP_NAME": "Acme Outfitters",
        }
        subprocess.run([LUMEN, "demo"], env=env, check=True, capture_output=True)
        server = subprocess.Popen([LUMEN, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthz")
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 720}, device_scale_factor=1)
                page.goto(base)
                page.get_by_role("button", name=re.compile("chat", re.IGNORECASE)).click()
                page.get_by_role("button", name="Where's my order?").click()
                log = page.get_by_role("log", name="Conversation")
                expect(log).to_contain_text("What's your order number?")
                for text, answer in (
                    ("1042", "what's the email address"),
                    ("jane.doe@example.com", "shipped"),
                ):
                    page.get_by_label("Message").fill(text)
                    page.get_by_label("Message").press("Enter")
                    expect(log).to_contain_text(answer)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
