"""Take the README's screenshots from a live demo: dashboard, start page, receipt.

Run with ``.venv/bin/python scripts/screenshots.py`` (needs /usr/bin/chromium).
It starts the demo in this process on free ports, logs in, pays for a session
with the test card, lets the simulated car charge, stops it and captures the
receipt.
"""

from __future__ import annotations

import asyncio
import re
import socket
import tempfile
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from ocpp_core import demo
from ocpp_core.demo_ports import Ports

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOW = 90_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def dashboard(page: Page, site: str, password: str) -> None:
    await page.goto(f"{site}/Account/Login")
    await page.locator("#name").fill("admin")
    await page.locator("#password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_text("Charging").first).to_be_visible(timeout=SLOW)
    await page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)


async def paid_session(page: Page, site: str) -> None:
    await page.goto(f"{site}/cp/{demo.PREFIX}0001/1")
    await page.screenshot(path=str(OUT / "start.png"), full_page=True)
    await page.get_by_role("button", name="Pay and start charging").click()
    await page.locator("#card_number").fill("4242 4242 4242 4242")
    await page.get_by_role("button", name=re.compile("^Pay ")).click()
    await expect(page.locator("[data-value=energy]")).to_have_text(
        re.compile(r"^[1-9]\d*\.\d\d kWh"), timeout=SLOW
    )
    await page.get_by_role("button", name="Stop charging").click()
    receipt = page.locator("#receipt [data-receipt=captured]")
    await expect(receipt).to_be_visible(timeout=SLOW)
    await page.screenshot(path=str(OUT / "receipt.png"), full_page=True)


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ports = Ports(free_port(), free_port(), free_port())
    password = "screenshots-admin"  # noqa: S105 -- a throwaway demo account
    with tempfile.TemporaryDirectory() as folder:
        running = asyncio.create_task(
            demo.run_demo(ports, 3, 600, folder=Path(folder), admin_password=password)
        )
        site = f"http://127.0.0.1:{ports.management}"
        await asyncio.sleep(5)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            desktop = await browser.new_page(viewport={"width": 1280, "height": 800})
            await dashboard(desktop, site, password)
            phone = await browser.new_page(viewport={"width": 390, "height": 844})
            await paid_session(phone, site)
            await browser.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
