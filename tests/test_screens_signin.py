"""Signing in to the consoles in a real browser: the cookie, CSRF, the wrong PIN at its
field, the language switch, the idle countdown and the way back to sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from appliance.clock import ManualTimekeeper
from sim.pcscd import PrivatePcscd

from .browser_rig import chromium, new_page, screenshot, serious_violations, sign_in
from .office_rig import PIN, Office, office

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.fixture
def clock() -> ManualTimekeeper:
    return ManualTimekeeper()


@pytest_asyncio.fixture(loop_scope="module")
async def station(
    tmp_path: Path, pcscd: PrivatePcscd, clock: ManualTimekeeper
) -> AsyncIterator[Office]:
    # Consoles sign out after 2 minutes alone, with a 30-second countdown first.
    extra = "[screens]\nidle_logout_minutes = 2\nidle_warning_seconds = 30\n"
    async with office(tmp_path, pcscd, clock=clock, extra_config=extra) as rig:
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


async def test_an_idle_console_warns_then_signs_out_and_a_click_keeps_it(
    station: Office, browser: Browser, clock: ManualTimekeeper
) -> None:
    context, page = await new_page(browser, _url(station))
    await page.clock.install()
    await sign_in(page, "siti", PIN)
    await expect(page).to_have_url(f"{_url(station)}/loket")
    warning = page.get_by_role("alertdialog")
    await expect(warning).to_be_hidden()
    await page.clock.run_for("01:31")  # 91 s alone: inside the 30-second countdown
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("keluar otomatis")
    await screenshot(page, "console-idle-warning")
    clock.advance(91)
    await warning.get_by_role("button", name="Tetap masuk").click()
    await expect(warning).to_be_hidden()
    # The click reached the station: its session is fresh again there too.
    clock.advance(100)
    fresh = await station.http.get("/loket", headers=_cookie_header(await context.cookies()))
    assert fresh.status_code == 200
    await page.clock.run_for("02:01")
    await expect(page).to_have_url(f"{_url(station)}/masuk?habis=1&kembali=%2Floket")
    await expect(page.locator(".notice")).to_contain_text("tidak ada aktivitas")
    await context.close()


async def test_an_expired_session_returns_to_sign_in_and_back_after(
    station: Office, browser: Browser, clock: ManualTimekeeper
) -> None:
    context, page = await new_page(browser, _url(station))
    await sign_in(page, "siti", PIN)
    await expect(page).to_have_url(f"{_url(station)}/loket")
    # Away from the console (whose live parts would follow the expiry by themselves):
    # the officer comes back to it after the idle limit.
    await page.goto("about:blank")
    clock.advance(121)
    await page.goto(f"{_url(station)}/loket")
    await expect(page).to_have_url(f"{_url(station)}/masuk?kembali=/loket&habis=1")
    await sign_in_here(page)
    await expect(page).to_have_url(f"{_url(station)}/loket")
    await context.close()


async def test_english_is_one_click_away_and_stays_chosen(
    station: Office, browser: Browser
) -> None:
    context, page = await new_page(browser, _url(station))
    await page.goto("/masuk")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Masuk petugas")
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Officer sign-in")
    await page.reload()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.get_by_role("link", name="Bahasa Indonesia").click()
    await expect(page.get_by_role("button", name="Masuk")).to_be_visible()
    await context.close()


async def test_a_console_refuses_an_officer_of_another_role(station: Office) -> None:
    page = await station.http.get("/masuk")
    csrf = page.cookies["ktpel_csrf"]
    signed = await station.http.post(
        "/masuk",
        data={"person": "eko", "pin": PIN, "csrf": csrf},
        headers={"Cookie": f"ktpel_csrf={csrf}"},
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/operator"
    session = signed.cookies["ktpel_sesi"]
    response = await station.http.get("/loket", headers={"Cookie": f"ktpel_sesi={session}"})
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_role"


async def sign_in_here(page: Page) -> None:
    """Sign in on the sign-in page the browser was sent to (keeping its way back)."""
    await page.get_by_label("ID petugas").fill("siti")
    await page.get_by_label("PIN").fill(PIN)
    await page.get_by_role("button", name="Masuk").click()


def _cookie_header(cookies: Sequence[Mapping[str, object]]) -> dict[str, str]:
    """The browser's cookies, sent by hand (httpx keeps no per-request cookies)."""
    pairs = [f"{c['name']}={c['value']}" for c in cookies if "name" in c and "value" in c]
    return {"Cookie": "; ".join(pairs)}
