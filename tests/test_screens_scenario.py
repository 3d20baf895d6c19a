"""A citizen served from a kiosk ticket to the card in hand, by clicks and keys alone:
the kiosk on a touch screen, the board on the TV, and three officers each in a browser
of their own, in Indonesian. The devices are the simulator's; the citizen's fingers on
the scanners and the card carried to the activation reader are the simulator's too
(`present`, `take_card`), as they are people's, not the screens'."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from appliance.domain import Document
from sim.pcscd import PrivatePcscd

from .browser_rig import (
    KIOSK_VIEWPORT,
    TV_VIEWPORT,
    chromium,
    new_page,
    screenshot,
    serious_violations,
    sign_in,
)
from .office_rig import PERSON, PIN, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

SLOW = 30_000
"""Device steps on the simulator (a recording, a card printed) take seconds."""
NAME = "Ratna Dewi Lestari"


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


async def _signed_in(browser: Browser, url: str, person: str, console: str) -> Page:
    _, page = await new_page(browser, url)
    await sign_in(page, person, PIN)
    await expect(page).to_have_url(f"{url}{console}")
    return page


async def _type_file(page: Page, values: dict[str, Any]) -> None:
    bio = values["biodata"]
    await page.get_by_label("NIK", exact=True).press_sequentially(values["nik"])
    await expect(page.locator("#check-nik")).to_contain_text("Laki-laki")
    await page.get_by_label("Nomor KK").press_sequentially(values["kk"])
    await page.get_by_label("Nama lengkap").fill(NAME)
    await page.get_by_label("Tanggal lahir", exact=True).fill(values["birth_date"])
    await page.get_by_label("Jenis kelamin").select_option(str(values["sex"]))
    await page.get_by_label("Status perkawinan").select_option(str(values["marital_status"]))
    await page.get_by_label("Tempat lahir").fill(bio["birth_place"])
    await page.get_by_label("Alamat").fill(bio["address"])
    await page.get_by_label("RT/RW").fill(bio["rt_rw"])
    await page.get_by_label("Kelurahan/Desa").fill(bio["village"])
    await page.get_by_label("Agama").select_option(bio["religion"])
    await page.get_by_label("Pekerjaan").fill(bio["occupation"])


async def test_one_citizen_from_the_kiosk_to_the_card_in_hand(
    station: Office, browser: Browser
) -> None:
    url = f"http://127.0.0.1:{station.station.api.port}"
    _, tv = await new_page(browser, url, viewport=TV_VIEWPORT)
    await tv.goto("/board")
    _, kiosk = await new_page(browser, url, viewport=KIOSK_VIEWPORT, has_touch=True)
    counter = await _signed_in(browser, url, "siti", "/loket")
    head = await _signed_in(browser, url, "budi", "/kasi")
    operator = await _signed_in(browser, url, "eko", "/operator")

    await _blanks_received(head)
    ticket = await _ticket_taken(kiosk)
    assert ticket == "A-001"
    await expect(counter.locator("#queue")).to_contain_text("1menunggu")
    clicked = time.perf_counter()
    await counter.get_by_role("button", name="Panggil berikutnya").click()
    await expect(tv.locator("[data-now-ticket]")).to_have_text(ticket, timeout=1000)
    board_s = time.perf_counter() - clicked
    await expect(tv.locator("[data-now-counter]")).to_have_text("Loket 1")
    await screenshot(tv, "scenario-board-calling")
    app = await _file_taken_in(station, counter, ticket)
    await _validated(head, ticket)
    await _recorded_printed_activated_carried(station, operator, app)
    await _handed_over(counter)

    # The register holds the whole visit, each officer's action under their own name.
    events = [e for e in station.station.register.events() if e.app == app]
    assert events[-1].type == "application.completed"
    by = {(e.type, e.data.get("step")): (e.data.get("by") or {}).get("person") for e in events}
    assert by[("application.submitted", None)] == "siti"
    assert by[("step.finished", "validate")] == "budi"
    assert by[("step.started", "biometric")] == "eko"
    assert by[("step.finished", "handover")] == "siti"
    issued = next(e for e in station.station.register.events() if e.type == "queue.ticket_issued")
    assert issued.data.get("kiosk") is True
    for page in (tv, kiosk, counter, head, operator):
        assert await serious_violations(page) == []
    print(f"board updated {board_s * 1000:.0f} ms after the click")


async def _blanks_received(head: Page) -> None:
    """The section head takes in a delivery of blank cards."""
    receive = head.locator("#receive")
    await receive.get_by_label("Jumlah blangko").fill("10")
    await receive.get_by_label("Nomor berita acara").fill("BA/2026/101")
    await receive.get_by_role("button", name="Catat penerimaan").click()
    await expect(head.locator("#stock")).to_contain_text("10")


async def _ticket_taken(kiosk: Page) -> str:
    """The citizen picks the service on the kiosk, reads what to bring, takes a ticket."""
    await kiosk.goto("/kiosk")
    await kiosk.get_by_role("link", name="KTP elektronik baru bagi WNI").tap()
    await expect(kiosk.get_by_role("listitem").first).to_be_visible()
    await kiosk.get_by_role("button", name="Ambil nomor antrean").tap()
    return (await kiosk.locator("[data-ticket]").inner_text()).strip()


async def _file_taken_in(station: Office, counter: Page, ticket: str) -> str:
    """The counter officer types the file in and checks it complete, by keys."""
    await _type_file(counter, form(ticket, serial=61))
    await counter.get_by_label(Document.FC_KK.label.id).check()
    await counter.get_by_label("Pekerjaan").press("Enter")
    await expect(counter.get_by_role("heading", name="Periksa kelengkapan berkas")).to_be_visible()
    await counter.get_by_role("button", name="Selesai memeriksa").click()
    await expect(counter.get_by_role("heading", name="Berkas lengkap")).to_be_visible()
    [submitted] = [
        e for e in station.station.register.events() if e.type == "application.submitted"
    ]
    return str(submitted.app)


async def _validated(head: Page, ticket: str) -> None:
    """The section head validates it: the queue followed the live events."""
    await head.get_by_role("button", name=f"Periksa berkas {ticket}").click()
    desk = head.locator("#desk")
    await expect(desk).to_contain_text(NAME)
    await desk.get_by_role("button", name="Valid, teruskan ke operator").click()
    await expect(desk.locator(".success")).to_contain_text("valid dan diteruskan ke operator")


async def _recorded_printed_activated_carried(station: Office, operator: Page, app: str) -> None:
    """The operator records the biometrics; the station prints the card; it is activated
    with the citizen's finger and carried to the counter."""
    station.present(PERSON)
    to_record = operator.locator("[data-part=to-record]")
    await to_record.get_by_role("button", name=f"Rekam biometrik {NAME}").click()
    panel = operator.locator("#recording")
    await panel.get_by_role("button", name="Mulai perekaman").click()
    await expect(panel).to_contain_text("Perekaman selesai", timeout=SLOW)
    activation = operator.locator("[data-part=activation]")
    item = activation.locator(".operator-list > li", has_text=NAME)
    await expect(item.locator(".card-steps")).to_contain_text("Dicetak", timeout=SLOW)
    await station.take_card(app)
    await item.get_by_role("button", name=f"Mulai aktivasi {NAME}").click()
    carried = operator.locator("[data-part=carrying] .operator-list > li", has_text=NAME)
    await expect(carried).to_contain_text("Sidik jari cocok", timeout=SLOW)
    await carried.get_by_role("button", name=f"Bawa KTP-el ke loket {NAME}").click()
    await carried.get_by_role("button", name="Sudah diterima loket").click()


async def _handed_over(counter: Page) -> None:
    """The counter hands the card over; the receipt signed on the pad is shown back."""
    worklist = counter.locator("#worklist")
    await worklist.get_by_role("button", name=f"Serahkan KTP-el {NAME}").click()
    await counter.get_by_role("button", name="Tanda tangani & serahkan").click()
    await expect(counter.get_by_role("heading", name="KTP-el diserahkan")).to_be_visible()
    signature = counter.locator("img[data-receipt]")
    await expect(signature).to_be_visible()
    await expect(signature).to_have_js_property("complete", True)  # loaded, on a busy machine too
    assert await signature.evaluate("image => image.naturalWidth") > 0
