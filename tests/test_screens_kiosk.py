"""The ticket kiosk in a real browser at a portrait touch screen's size: a citizen taps a
service, reads its requirements and takes a printed ticket; an empty roll issues no
number; a screen tapped too often is told to wait. And the rate limit on its own, on a
clock the test moves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from appliance.domain import EventType
from appliance.hal import DeviceState
from appliance.screens._rate_limit import RateLimit
from sim.escpos_printer import EscposPrinterSim
from sim.pcscd import PrivatePcscd

from .browser_rig import KIOSK_VIEWPORT, chromium, new_page, screenshot, serious_violations
from .office_rig import Office, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

START = "Ambil nomor antrean"
LOST = "KTP elektronik hilang"
NEW = "KTP elektronik baru bagi WNI"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="module")
async def station(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd) as rig:
        yield rig


def _url(rig: Office) -> str:
    return f"http://127.0.0.1:{rig.station.api.port}"


def _printer(rig: Office) -> EscposPrinterSim:
    printer = rig.sim.devices["ticket_printer"]
    assert isinstance(printer, EscposPrinterSim)
    return printer


def _issued(rig: Office) -> list[dict[str, object]]:
    return [
        event.data
        for event in rig.station.register.events()
        if event.type == EventType.QUEUE_TICKET_ISSUED
    ]


async def _kiosk(browser: Browser, rig: Office) -> Page:
    _, page = await new_page(browser, _url(rig), viewport=KIOSK_VIEWPORT, has_touch=True)
    await page.goto("/kiosk")
    await expect(page.get_by_role("heading", level=1)).to_have_text(START)
    return page


async def _take(page: Page, service: str) -> str:
    """Tap `service`, then the button that takes its ticket: the number shown."""
    await page.get_by_role("link", name=service).tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text(service)
    await page.get_by_role("button", name=START).tap()
    number = page.locator("[data-ticket]")
    await expect(number).to_be_visible()
    return await number.inner_text()


async def test_a_citizen_taps_a_service_reads_its_requirements_and_takes_a_printed_ticket(
    station: Office, browser: Browser
) -> None:
    page = await _kiosk(browser, station)
    for label in (NEW, LOST, "KTP elektronik rusak"):
        await expect(page.get_by_role("link", name=label)).to_be_visible()
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk")

    await page.get_by_role("link", name=LOST).tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text(LOST)
    documents = page.get_by_role("listitem")
    await expect(documents).to_have_text(
        [
            "Fotokopi KTP",
            "Surat laporan kehilangan dari kepolisian",
            "Fotokopi Kartu Keluarga (KK) terbaru dan data sudah benar",
        ]
    )
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk-requirements")

    await page.get_by_role("button", name=START).tap()
    await expect(page.locator("[data-ticket]")).to_have_text("C-001")
    await expect(page.get_by_text("Silakan ambil tiket Anda dari printer.")).to_be_visible()
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk-ticket")

    (ticket,) = _printer(station).printed
    assert "C-001" in ticket.text
    assert "KTP elektronik hilang" in ticket.text
    (issued,) = _issued(station)
    assert (issued["ticket"], issued["kiosk"], issued["by"]) == ("C-001", True, None)

    # Back to the start by itself, for the next citizen.
    await expect(page.get_by_role("heading", level=1)).to_have_text(START, timeout=20_000)
    await page.context.close()


async def test_an_empty_roll_issues_no_number_and_the_next_ticket_gets_the_unused_one(
    station: Office, browser: Browser
) -> None:
    printer = _printer(station)
    page = await _kiosk(browser, station)
    assert await _take(page, NEW) == "A-001"
    await page.get_by_role("link", name="Selesai").tap()

    await page.get_by_role("link", name=NEW).tap()
    printer.load_paper(0)  # the roll ends while the citizen reads the requirements
    async with page.expect_response(re.compile(r"/kiosk/tiket$")) as answer:
        await page.get_by_role("button", name=START).tap()
    assert (await answer.value).status == 503
    message = page.get_by_role("alert")
    await expect(message).to_contain_text("Printer tiket sedang bermasalah")
    await expect(message).to_contain_text("meja informasi")
    await expect(page.locator("[data-ticket]")).to_have_count(0)
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk-printer-problem")
    assert [data["ticket"] for data in _issued(station)] == ["A-001"]
    assert len(printer.printed) == 1

    # The start screen says so too, until the printer is put right; then it offers the
    # services again by itself.
    await page.get_by_role("link", name="Kembali ke awal").tap()
    await expect(page.get_by_role("alert")).to_contain_text("Printer tiket sedang bermasalah")
    await expect(page.get_by_role("link", name=NEW)).to_have_count(0)
    printer.load_paper()
    async with asyncio.timeout(30):
        await station.station.supervisor.wait_for("ticket_printer", DeviceState.READY)
    await expect(page.get_by_role("link", name=NEW)).to_be_visible(timeout=15_000)

    assert await _take(page, NEW) == "A-002"
    assert "A-002" in printer.printed[-1].text
    assert [data["ticket"] for data in _issued(station)] == ["A-001", "A-002"]
    await page.context.close()


async def test_a_confirmation_sent_twice_prints_and_records_one_ticket(station: Office) -> None:
    http = station.http
    page = await http.get("/kiosk/layanan/rusak")
    csrf = http.cookies["ktpel_csrf"]
    found = re.search(r'name="permintaan" value="([^"]+)"', page.text)
    assert found is not None
    form = {"csrf": csrf, "layanan": "rusak", "permintaan": found[1]}
    first, second = await asyncio.gather(
        http.post("/kiosk/tiket", data=form), http.post("/kiosk/tiket", data=form)
    )
    assert first.status_code == second.status_code == 200
    for answer in (first, second):
        assert "data-ticket>D-001<" in answer.text
    assert [data["ticket"] for data in _issued(station)] == ["D-001"]
    assert len(_printer(station).printed) == 1


async def test_too_many_tickets_from_one_screen_are_refused_with_a_plain_message(
    tmp_path: Path, pcscd: PrivatePcscd, browser: Browser
) -> None:
    limited = "[screens]\nkiosk_tickets_per_minute = 2\n"
    async with office(tmp_path, pcscd, extra_config=limited) as rig:
        page = await _kiosk(browser, rig)
        for expected in ("A-001", "A-002"):
            assert await _take(page, NEW) == expected
            await page.get_by_role("link", name="Selesai").tap()
        await page.get_by_role("link", name=NEW).tap()
        async with page.expect_response(re.compile(r"/kiosk/tiket$")) as answer:
            await page.get_by_role("button", name=START).tap()
        refused = await answer.value
        assert refused.status == 429
        assert int(await refused.header_value("retry-after") or 0) > 0
        await expect(page.get_by_role("alert")).to_contain_text("Terlalu banyak nomor antrean")
        assert await serious_violations(page) == []
        assert len(_issued(rig)) == 2
        assert len(_printer(rig).printed) == 2
        await page.context.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_limit_is_per_client_over_a_sliding_minute() -> None:
    clock = _Clock()
    limit = RateLimit(limit=3, window_s=60, clock=clock)
    for second in (0, 10, 20):
        clock.now = 1000.0 + second
        assert limit.take("10.0.0.5")
    assert not limit.take("10.0.0.5")
    assert limit.take("10.0.0.6")  # another kiosk is not held back
    assert limit.retry_after_s("10.0.0.5") == pytest.approx(40)
    clock.now = 1060.0  # the first take is a minute old
    assert limit.take("10.0.0.5")
    assert not limit.take("10.0.0.5")


async def test_a_take_given_back_does_not_count() -> None:
    clock = _Clock()
    limit = RateLimit(limit=1, clock=clock)
    assert limit.take("kiosk")
    limit.give_back("kiosk")
    assert limit.take("kiosk")
    assert not limit.take("kiosk")


async def test_the_clients_remembered_are_bounded() -> None:
    limit = RateLimit(limit=1, clock=_Clock(), clients=2)
    for client in ("a", "b", "c"):
        assert limit.take(client)
    assert limit.take("a")  # forgotten, the least recently seen
    assert not limit.take("c")
