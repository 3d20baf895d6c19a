"""The section head's console in a real browser: validate and return with a reason by
clicks, the reason refused at its field when missing, blank cards received (a bad count
refused, a good one updating the stock live), the applicants recorded but not printed, the
decision on a refused activation, what needs attention, a stale screen and a double
submit. The other officers' steps are driven through the JSON API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Request, expect

from appliance.clock import ManualTimekeeper
from appliance.domain import Role
from appliance.staff import add_member
from sim.pcscd import PrivatePcscd

from .browser_rig import chromium, new_page, screenshot, serious_violations, sign_in
from .office_rig import PERSON, PIN, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTHER_PERSON = 12


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
    async with office(tmp_path, pcscd, clock=clock) as rig:
        yield rig


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _url(rig: Office) -> str:
    return f"http://127.0.0.1:{rig.station.api.port}"


async def _console(rig: Office, browser: Browser) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, _url(rig))
    await sign_in(page, "budi", PIN)
    await expect(page).to_have_url(f"{_url(rig)}/kasi")
    return context, page


async def _at_validation(rig: Office, *, serial: int, name: str) -> tuple[str, str]:
    """A file checked complete at the counter: (application, ticket)."""
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    body = form(ticket["ticket"], serial=serial) | {"name": name}
    view = await rig.ok("siti", "POST", "/applications", json=body)
    app = str(view["id"])
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    return app, str(ticket["ticket"])


async def _printed(rig: Office, *, blanks: int, serial: int = 1) -> str:
    """An application validated by the API, recorded and printed: at activation."""
    if blanks:
        await rig.ok("eko", "POST", "/blanks", json={"count": blanks, "reference": "BA/2026/040"})
    app, _ = await _at_validation(rig, serial=serial, name="Sri Wahyuni")
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    return app


def _nik(serial: int) -> str:
    return str(form("A-001", serial=serial)["nik"])


async def _html(page: Page) -> str:
    return await page.content()


async def test_validate_and_return_with_a_reason_by_clicks(
    station: Office, browser: Browser
) -> None:
    first, first_ticket = await _at_validation(station, serial=1, name="Ahmad Fauzi")
    second, second_ticket = await _at_validation(station, serial=2, name="Dewi Kartika")
    context, page = await _console(station, browser)
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))  # noqa: PLW0108 - Playwright wraps no builtin method
    queue = page.locator("#validation")
    await expect(queue.locator("tbody tr")).to_have_count(2)
    await expect(queue).to_contain_text("Ahmad Fauzi")
    assert _nik(1) not in await _html(page)  # masked: 3508********0001
    await expect(queue).to_contain_text(_nik(1)[:4] + "*" * 8 + _nik(1)[-4:])
    assert await serious_violations(page) == []
    await screenshot(page, "head")

    await page.get_by_role("button", name=f"Periksa berkas {first_ticket}").click()
    desk = page.locator("#desk")
    await expect(desk).to_contain_text("Ahmad Fauzi")
    await expect(queue.locator(f"tr[data-app='{first}']")).to_contain_text("Di meja Anda")
    assert await serious_violations(page) == []
    await desk.get_by_role("button", name="Valid, teruskan ke operator").click()
    await expect(desk.locator(".success")).to_contain_text("valid dan diteruskan ke operator")
    await expect(queue.locator("tbody tr")).to_have_count(1)
    view = await station.ok("budi", "GET", f"/applications/{first}")
    assert (view["step"], view["phase"]) == ("biometric", "waiting")

    await page.get_by_role("button", name=f"Periksa berkas {second_ticket}").click()
    await expect(desk).to_contain_text("Dewi Kartika")
    head = station.station.register.head()
    async with page.expect_response(re.compile(r"/kembalikan$")) as refused:
        await desk.get_by_role("button", name="Kembalikan ke pemohon").click()
    assert (await refused.value).status == 422
    await expect(desk.locator("#e-reason")).to_contain_text("Tulis alasan")
    await expect(desk.get_by_label("Alasan dikembalikan")).to_have_attribute("aria-invalid", "true")
    assert station.station.register.head() == head  # nothing changed
    assert await serious_violations(page) == []
    await screenshot(page, "head-return")
    await desk.get_by_label("Alasan dikembalikan").fill("Nama di KK berbeda dengan akta lahir")
    await desk.get_by_role("button", name="Kembalikan ke pemohon").click()
    await expect(desk.locator(".success")).to_contain_text("dikembalikan kepada pemohon")
    await expect(queue).to_contain_text("Tidak ada berkas yang menunggu validasi")
    view = await station.ok("budi", "GET", f"/applications/{second}")
    assert (view["state"], view["return_reason"]) == (
        "returned",
        "Nama di KK berbeda dengan akta lahir",
    )

    # The live refreshes say they are the screen's own, the officer's clicks do not.
    refreshes = [r for r in requests if r.url.endswith("/kasi/antrean")]
    posts = [r for r in requests if r.method == "POST"]
    assert refreshes
    assert all(r.headers.get("x-ktpel-background") == "1" for r in refreshes)
    assert posts
    assert not any("x-ktpel-background" in r.headers for r in posts)
    await context.close()


async def test_a_region_missing_from_the_list_needs_its_confirmation(
    station: Office, browser: Browser
) -> None:
    ticket = await station.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await station.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    body = form(ticket["ticket"])
    body["nik"] = "350899" + body["nik"][6:]  # Lumajang has no district 99
    app = (await station.ok("siti", "POST", "/applications", json=body))["id"]
    await station.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await station.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    context, page = await _console(station, browser)
    await expect(page.locator("#validation")).to_contain_text("perlu konfirmasi")
    await page.get_by_role("button", name=f"Periksa berkas {ticket['ticket']}").click()
    desk = page.locator("#desk")
    await expect(desk.locator(".notice")).to_contain_text("350899")
    await desk.get_by_role("button", name="Valid, teruskan ke operator").click()
    await expect(desk.locator("#e-confirm_region")).to_contain_text("centang konfirmasi")
    assert (await station.ok("budi", "GET", f"/applications/{app}"))["phase"] == "active"
    await desk.get_by_label(re.compile("mengonfirmasi kode wilayah")).check()
    await desk.get_by_role("button", name="Valid, teruskan ke operator").click()
    await expect(desk.locator(".success")).to_contain_text("valid")
    confirmed = [e for e in station.station.register.events() if e.type.endswith("confirmed")]
    assert [(e.app, e.data["code"], e.data["by"]["person"]) for e in confirmed] == [
        (app, "350899", "budi")
    ]
    await context.close()


async def test_a_stale_screen_says_so_and_changes_nothing(
    station: Office, browser: Browser
) -> None:
    app, ticket = await _at_validation(station, serial=3, name="Rina Lestari")
    add_member(
        station.config.staff_path,
        person_id="dewi",
        name="Dewi Anggraini",
        roles=[Role.SECTION_HEAD],
        secret=PIN,
    )
    station.station.staff.reload(station.config.staff_path)
    login = await station.http.post("/api/v1/session", json={"person": "dewi", "secret": PIN})
    station.tokens["dewi"] = login.json()["token"]
    context, page = await _console(station, browser)
    await context.route("**/langsung/petugas", lambda route: route.abort())  # no more news
    await page.reload()
    start = page.get_by_role("button", name=f"Periksa berkas {ticket}")
    await expect(start).to_be_visible()

    # Another section head validates the file meanwhile, on their own screen.
    await station.ok("dewi", "POST", f"/applications/{app}/steps/validate/start")
    await station.ok("dewi", "POST", f"/applications/{app}/validate", json={"valid": True})
    head = station.station.register.head()
    async with page.expect_response(re.compile(r"/mulai$")) as answer:
        await start.click()
    assert (await answer.value).status == 409
    problem = page.locator("#desk .alert")
    await expect(problem).to_contain_text("sudah divalidasi")
    await expect(problem).to_contain_text("Tidak ada yang diubah")
    assert station.station.register.head() == head
    view = await station.ok("budi", "GET", f"/applications/{app}")
    assert (view["step"], view["phase"]) == ("biometric", "waiting")
    await context.close()


async def test_receiving_blanks_refuses_a_bad_count_and_updates_the_stock_live(
    station: Office, browser: Browser
) -> None:
    context, page = await _console(station, browser)
    stock = page.locator("#stock [data-available]")
    await expect(stock).to_have_text("0")
    receive = page.locator("#receive")
    head = station.station.register.head()
    for bad in ("abc", "0", "2001", "-5"):
        await receive.get_by_label("Jumlah blangko").fill(bad)
        await receive.get_by_label("Nomor berita acara").fill("BA/2026/031")
        async with page.expect_response("**/kasi/blangko") as answer:
            await receive.get_by_role("button", name="Catat penerimaan").click()
        assert (await answer.value).status == 422
        await expect(receive.locator("#e-count")).to_contain_text("angka 1 sampai 2000")
    await receive.get_by_label("Jumlah blangko").fill("25")
    await receive.get_by_label("Nomor berita acara").fill("")
    await receive.get_by_role("button", name="Catat penerimaan").click()
    await expect(receive.locator("#e-reference")).to_contain_text("berita acara")
    assert station.station.register.head() == head  # nothing recorded

    await receive.get_by_label("Nomor berita acara").fill("BA/2026/031")
    await receive.get_by_role("button", name="Catat penerimaan").click()
    await expect(receive.locator(".success")).to_contain_text("25 blangko diterima")
    await expect(stock).to_have_text("25")  # the live refresh on "stock"
    await expect(receive.get_by_label("Jumlah blangko")).to_have_value("")
    await station.ok("eko", "POST", "/blanks", json={"count": 10, "reference": "BA/2026/032"})
    await expect(stock).to_have_text("35")  # received elsewhere: shown without a reload
    received = [e for e in station.station.register.events() if e.type == "blank.received"]
    assert [(e.data["count"], e.data["by"]["person"]) for e in received] == [
        (25, "budi"),
        (10, "eko"),
    ]
    await context.close()


async def test_a_form_sent_twice_records_once(station: Office, browser: Browser) -> None:
    context, page = await _console(station, browser)
    receive = page.locator("#receive")
    await expect(receive).to_be_visible()
    once = await receive.locator("input[name=once]").get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await context.cookies() if "name" in c}
    body = {"once": once, "count": "40", "reference": "BA/2026/033", "csrf": cookies["ktpel_csrf"]}
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    async with httpx.AsyncClient(base_url=_url(station), headers={"Cookie": cookie}) as http:
        answers = await asyncio.gather(*(http.post("/kasi/blangko", data=body) for _ in range(3)))
        without = {key: value for key, value in body.items() if key != "csrf"}
        refused = await http.post("/kasi/blangko", data=without | {"once": "another-form"})
    assert [a.status_code for a in answers] == [200] * 3
    assert all("40 blangko diterima" in a.text for a in answers)
    assert refused.status_code == 403  # no CSRF token: refused before anything
    received = [e for e in station.station.register.events() if e.type == "blank.received"]
    assert [e.data["count"] for e in received] == [40]
    await context.close()


async def test_the_recorded_not_printed_are_listed_and_printed_when_blanks_arrive(
    station: Office, browser: Browser
) -> None:
    app = await _printed(station, blanks=0)  # no blank: a Surat Keterangan
    await station.until(app, lambda view: view["state"] == "waiting_blank")
    context, page = await _console(station, browser)
    recorded = page.locator("#recorded")
    row = recorded.locator(f"tr[data-app='{app}']")
    await expect(row).to_contain_text("Sri Wahyuni")
    await expect(row).to_contain_text(_nik(1)[:4] + "*" * 8 + _nik(1)[-4:])
    assert _nik(1) not in await _html(page)
    await expect(page.locator("#stock .alert")).to_contain_text("Blangko habis")
    assert await serious_violations(page) == []
    await recorded.scroll_into_view_if_needed()
    await screenshot(page, "head-stock")

    receive = page.locator("#receive")
    await receive.get_by_label("Jumlah blangko").fill("1")
    await receive.get_by_label("Nomor berita acara").fill("BA/2026/034")
    await receive.get_by_role("button", name="Catat penerimaan").click()
    await station.until(app, lambda view: view["step"] == "activate")  # printed by itself
    await expect(row).to_have_count(0)
    await expect(recorded).to_contain_text("Tidak ada")
    await context.close()


async def test_a_refused_activation_is_tried_again_then_returned_by_the_section_head(
    station: Office, browser: Browser
) -> None:
    app = await _printed(station, blanks=1)
    await station.until(app, lambda view: view["step"] == "activate")
    await station.take_card(app)
    station.present(OTHER_PERSON)  # not the applicant's finger
    await station.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    await station.until(app, lambda view: view["awaits_decision"], allow_failure=True)
    context, page = await _console(station, browser)
    item = page.locator(f"#attention li[data-app='{app}']")
    await expect(item).to_contain_text("Aktivasi ditolak")
    await expect(item).to_contain_text("tidak cocok dengan chip")
    assert await serious_violations(page) == []
    await item.scroll_into_view_if_needed()
    await screenshot(page, "head-decision")

    await item.get_by_role("button", name="Coba aktivasi lagi").click()
    await expect(page.locator("#desk .success")).to_contain_text("diulang dengan kartu yang sama")
    await expect(item).to_have_count(0)
    decided = _decisions(station, app)
    assert [(d["decision"], d["by"]["person"]) for d in decided] == [("retry", "budi")]

    await station.ok("eko", "POST", f"/applications/{app}/steps/activate/start")  # again
    await station.until(app, lambda view: view["awaits_decision"], allow_failure=True)
    await expect(item).to_contain_text("Aktivasi ditolak")
    await item.get_by_role("button", name="Kembalikan berkas").click()
    desk = page.locator("#desk")
    await desk.get_by_role("button", name="Kembalikan berkas").click()
    await expect(desk.locator("#e-reason")).to_contain_text("Tulis alasan")
    assert len(_decisions(station, app)) == 1
    await desk.get_by_label("Alasan dikembalikan").fill("Sidik jari tidak terbaca, rekam ulang")
    await desk.get_by_role("button", name="Kembalikan berkas").click()
    await expect(desk.locator(".success")).to_contain_text("dicatat rusak")
    view = await station.ok("budi", "GET", f"/applications/{app}")
    assert (view["state"], view["card"]["state"]) == ("returned", "spoiled")
    assert [d["decision"] for d in _decisions(station, app)] == ["retry", "return"]
    stock = await station.ok("budi", "GET", "/blanks")
    assert (stock["spoiled"], stock["in_process"], stock["available"]) == (1, 0, 0)
    await context.close()


async def test_breaches_and_a_missed_promise_are_shown_with_what_they_mean(
    station: Office, browser: Browser, clock: ManualTimekeeper
) -> None:
    ticket = await station.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await station.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    body = form(ticket["ticket"]) | {"name": "Bambang Sutrisno"}
    app = (await station.ok("siti", "POST", "/applications", json=body))["id"]
    await station.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await _armed(clock, 2 * 60)  # the check's two minutes
    clock.advance(2 * 60 + 1)
    await station.until(app, lambda view: view["breaches"] == 1)
    clock.advance(4 * 24 * 3600)  # four days: past the one-working-day promise
    for person in ("siti", "budi", "eko"):  # the API's sessions ended meanwhile
        login = await station.http.post("/api/v1/session", json={"person": person, "secret": PIN})
        station.tokens[person] = login.json()["token"]
    await station.until(app, lambda view: view["overdue"])
    context, page = await _console(station, browser)
    item = page.locator(f"#attention li[data-app='{app}']")
    await expect(item).to_contain_text("Janji layanan terlewati")
    await expect(item).to_contain_text("satu hari kerja")
    await expect(item).to_contain_text("Melewati waktu SOP di 1 langkah")
    await expect(item.get_by_role("button")).to_have_count(0)  # nothing to decide here
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Head of public services")
    await expect(item).to_contain_text("Service promise missed")
    await expect(item).to_contain_text("Over the SOP time at 1 step")
    await context.close()


def _decisions(rig: Office, app: str) -> list[dict[str, Any]]:
    events = rig.station.register.events()
    return [dict(e.data) for e in events if e.type == "activation.decided" and e.app == app]


async def _armed(clock: ManualTimekeeper, seconds: float) -> None:
    """Wait until a watch falls due `seconds` from now (the breach watch has started)."""
    async with asyncio.timeout(10):
        while True:
            due = clock.monotonic_ns() + seconds * 1e9
            if any(abs(entry[0] - due) <= 1e6 for entry in clock._timers):
                return
            await clock.timers_changed.wait()
