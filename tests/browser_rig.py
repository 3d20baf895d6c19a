"""Debian's Chromium driven by Playwright for Python, for the screens' tests.

Never `playwright install`: the browser is the system's (`/usr/bin/chromium`, installed by
the bootstrap). Screenshots go to docs/screens/, where people look at them; axe-core
(shipped by axe-playwright-python) checks each page for accessibility.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

SCREENS = Path(__file__).resolve().parent.parent / "docs" / "screens"
CONSOLE_VIEWPORT = {"width": 1366, "height": 768}
TV_VIEWPORT = {"width": 1920, "height": 1080}
KIOSK_VIEWPORT = {"width": 1080, "height": 1920}
SERIOUS = frozenset({"serious", "critical"})
# What each page asked and was answered, and what its scripts said: pytest shows it under
# "Captured log call" when a test fails, the one record of a race seen only on a busy machine.
_traffic = logging.getLogger("browser")


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("Debian's chromium is not installed: run ./scripts/bootstrap")
    return path


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser, base_url: str, *, viewport: dict[str, int] = CONSOLE_VIEWPORT, **options: Any
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=base_url, viewport=viewport, **options)  # type: ignore[arg-type]
    page = await context.new_page()
    page.on(
        "response",
        lambda r: _traffic.info(
            "%s %s %s -> %s", viewport["width"], r.request.method, r.url, r.status
        ),
    )
    page.on("console", lambda m: _traffic.info("%s console %s", viewport["width"], m.text))
    return context, page


async def screenshot(page: Page, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = await Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v.get("impact") in SERIOUS
    ]


async def sign_in(page: Page, person: str, pin: str) -> None:
    await page.goto("/masuk")
    await page.get_by_label("ID petugas").fill(person)
    await page.get_by_label("PIN").fill(pin)
    await page.get_by_role("button", name="Masuk").click()
