"""Signing in to the consoles in a real browser: the cookie, CSRF, the wrong PIN at its
field, the language switch, the idle countdown and the way back to sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from sim.pcscd import PrivatePcscd

from .browser_rig import chromium, new_page, screenshot, serious_violations, sign_in
from .office_rig import PIN, Office, office

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module")
async def station(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd) as rig:
        yield rig


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _url(rig: Office) -> str:
    return f"http://127.0.0.1:{rig.station.api.port}"


async def test_sign_in_lands_on_the_role_console_with_a_strict_http_only_cookie(
    station: Office, browser: Browser
) -> None:
    context, page = await new_page(browser, _url(station))
    await page.goto("/loket")
    await expect(page).to_have_url(f"{_url(station)}/masuk?kembali=/loket")
    assert await serious_violations(page) == []
    await screenshot(page, "signin")
    await page.get_by_label("ID petugas").fill("siti")
    await page.get_by_label("PIN").fill("000000")
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.locator("#e-pin")).to_contain_text("salah")
    await sign_in(page, "siti", PIN)
    await expect(page).to_have_url(f"{_url(station)}/loket")
    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    session = cookies["ktpel_sesi"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Strict"
    await context.close()


async def test_a_form_without_its_csrf_token_is_refused(station: Office) -> None:
    response = await station.http.post("/masuk", data={"person": "siti", "pin": PIN})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
