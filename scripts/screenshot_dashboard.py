#!/usr/bin/env python3
"""Take the README's screenshots of the dashboard (``docs/dashboard.png`` and ``docs/dashboard-phone.png``).

A week of conversations with the demo shop is played through the real conversation handler (web chat, SMS,
WhatsApp and email; order questions, wrong emails, refunds, a person asked for), the server is started on a
loopback port, and Debian's chromium (through Playwright) logs in with the admin token and photographs the
overview. Everything runs on a temporary SQLite file.

    scripts/screenshot_dashboard.py [--out docs]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loopback import serve
from playwright.sync_api import sync_playwright
from pydantic import SecretStr

from channels.app import build_runtime, create_app
from lumen_bot.domain.demo import demo_orders
from lumen_bot.domain.messages import InboundMessage
from lumen_bot.settings import load_settings

TOKEN = "screenshot-admin-token"
# What shoppers of the demo shop say, as whole conversations.
DIALOGUES = [
    ["where is my order 1023", "oliver.smith@example.org", "can I get the tracking link?", "thanks!"],
    ["Order 1001 status", "maria.garcia@example.com"],
    ["hi", "has order 1036 shipped?", "priya.patel@example.com"],
    ["my order 1023 hasn't arrived", "oliver@example.org", "oliver.smith@example.org"],
    ["I want a refund for order 1017"],
    ["can I talk to a person please"],
    ["¿dónde está mi pedido 1001?", "maria.garcia@example.com"],
    ["Wo ist meine Bestellung 1036?", "priya.patel@example.com"],
    ["the parcel arrived damaged"],
    ["where's my stuff?", "1023", "oliver.smith@example.org"],
]
CHANNELS = [("web", 5), ("sms", 3), ("whatsapp", 2), ("email", 1)]


async def play_week(database_url: str, now: datetime) -> None:
    """A week of conversations, more on some days than others, stored as the server stores them."""
    moment = now
    settings = load_settings().model_copy(update={"database_url": database_url})
    runtime = build_runtime(settings, clock=lambda: moment)
    try:
        await runtime.order_book.write(demo_orders())
        chooser = random.Random(1042)
        names = [name for name, _ in CHANNELS]
        weights = [weight for _, weight in CHANNELS]
        for days_ago in range(6, -1, -1):
            moment = (now - timedelta(days=days_ago)).replace(hour=8, minute=0)
            for number in range(chooser.randint(6, 14)):
                channel = chooser.choices(names, weights)[0]
                key = {
                    "sms": f"+1555010{days_ago:02d}{number:02d}",
                    "whatsapp": f"+1555020{days_ago:02d}{number:02d}",
                    "email": f"shopper{days_ago}{number}@example.net",
                }.get(channel, f"session-{days_ago}-{number}")
                for text in chooser.choice(DIALOGUES):
                    moment += timedelta(seconds=chooser.randint(20, 90))
                    await runtime.handler.handle(InboundMessage(channel, key, text, moment))
                moment += timedelta(minutes=chooser.randint(10, 50))
    finally:
        await runtime.aclose()


def photograph(database_url: str, now: datetime, out: Path) -> None:
    settings = load_settings().model_copy(
        update={"database_url": database_url, "admin_token": SecretStr(TOKEN), "shop_name": "Acme Outfitters"}
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with serve(create_app(settings, clock=lambda: now)) as base_url, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, viewport, scale in [
            ("dashboard.png", {"width": 1280, "height": 1500}, 1),
            ("dashboard-phone.png", {"width": 390, "height": 1600}, 2),
        ]:
            page = browser.new_page(viewport=viewport, device_scale_factor=scale)
            page.goto(f"{base_url}/admin")
            page.get_by_label("Admin token").fill(TOKEN)
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("heading", name="Overview").wait_for()
            page.screenshot(path=str(out / name), full_page=name == "dashboard.png")
            print(out / name)
            page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(hour=17, minute=30, second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/screenshot.db"
        asyncio.run(play_week(database_url, now))
        photograph(database_url, now, args.out)


if __name__ == "__main__":
    main()
