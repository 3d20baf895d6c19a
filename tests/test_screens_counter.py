"""The counter officer's console in Chromium: the queue, the applicant's file typed with
live NIK and KK checks, its check (an incomplete one goes back with a printed slip), the
card handed over against a signed receipt; bad values, a double submit and a stale
screen. Tickets are taken and the other officers' steps are done through the JSON API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from appliance.domain import Document, ServiceType, Sex
from appliance.register import Event
from sim._base import Fault
from sim.escpos_printer import EscposPrinterSim, PrintedTicket
from sim.pcscd import PrivatePcscd

from .browser_rig import chromium, new_page, screenshot, serious_violations, sign_in
from .office_rig import PERSON, PIN, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEMPURSARI = "Kec. Tempursari, Kab. Lumajang, Jawa Timur"


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


@pytest_asyncio.fixture(loop_scope="module")
async def counter(station: Office, browser: Browser) -> AsyncIterator[Page]:
    """Siti at the counter's console."""
    context, page = await new_page(browser, _url(station), locale="id-ID")
    # Ready once the console has fetched its live parts on connecting: an answer still on
    # its way could land after the officer's first action and show the queue before it.
    async with page.expect_response("**/loket/antrian"):
        await sign_in(page, "siti", PIN)
    await expect(page).to_have_url(f"{_url(station)}/loket")
    yield page
    await context.close()


def _url(rig: Office) -> str:
    return f"http://127.0.0.1:{rig.station.api.port}"


async def _take(rig: Office, service: ServiceType = ServiceType.BARU) -> str:
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": service})
    return str(ticket["ticket"])


async def _call(page: Page, ticket: str) -> None:
    await page.get_by_role("button", name="Panggil berikutnya").click()
    await expect(page.locator("[data-current-ticket]")).to_have_text(ticket)
    await expect(page.get_by_role("heading", name=f"Buka berkas · {ticket}")).to_be_visible()


async def _fill(page: Page, values: dict[str, Any], documents: tuple[str, ...]) -> None:
    """The applicant's file typed in, as an officer would, field by field."""
    bio = values["biodata"]
    await page.get_by_label("NIK", exact=True).fill(values["nik"])
    await page.get_by_label("Nomor KK").fill(values["kk"])
    await page.get_by_label("Nama lengkap").fill(values["name"])
    await page.get_by_label("Tanggal lahir", exact=True).fill(values["birth_date"])
    await page.get_by_label("Jenis kelamin").select_option(str(values["sex"]))
    await page.get_by_label("Status perkawinan").select_option(str(values["marital_status"]))
    await page.get_by_label("Tempat lahir").fill(bio["birth_place"])
    await page.get_by_label("Alamat").fill(bio["address"])
    await page.get_by_label("RT/RW").fill(bio["rt_rw"])
    await page.get_by_label("Kelurahan/Desa").fill(bio["village"])
    await page.get_by_label("Agama").select_option(bio["religion"])
    await page.get_by_label("Pekerjaan").fill(bio["occupation"])
    for document in documents:
        await page.get_by_label(Document(document).label.id).check()


def _submitted(rig: Office, ticket: str) -> list[Event]:
    return [
        e
        for e in rig.station.register.events()
        if e.type == "application.submitted" and e.data.get("ticket") == ticket
    ]


def _slip_text(slip: PrintedTicket) -> str:
    """The printed slip as one line of words: its lines were wrapped to the roll."""
    return " ".join(slip.text.split())


async def _no_violations(page: Page) -> None:
    assert await serious_violations(page) == []


async def test_a_file_is_opened_checked_and_its_card_handed_over(
    station: Office, counter: Page
) -> None:
    page = counter
    await station.ok("eko", "POST", "/blanks", json={"count": 3, "reference": "BA/2026/001"})
    ticket = await _take(station)
    await _take(station, ServiceType.HILANG)
    queue = page.locator("#queue")
    await expect(queue.locator(".figures")).to_contain_text("2menunggu")
    await expect(queue.locator(".counter-services tr", has_text="Hilang")).to_contain_text("1")
    await _no_violations(page)
    await screenshot(page, "counter")

    await _call(page, ticket)
    values = form(ticket, serial=41)
    await _type_numbers(page, values)
    await _fill(page, values, ("fc_kk",))
    await _no_violations(page)
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "counter-file")

    await page.get_by_label("Pekerjaan").press("Enter")  # the form goes in by the keyboard
    await expect(page.get_by_role("heading", name="Periksa kelengkapan berkas")).to_be_visible()
    await expect(page.get_by_label(Document.FC_KK.label.id)).to_be_checked()
    [submitted] = _submitted(station, ticket)
    app = str(submitted.app)
    await page.get_by_role("button", name="Selesai memeriksa").click()
    await expect(page.get_by_role("heading", name="Berkas lengkap")).to_be_visible()

    await _to_handover(station, app)
    hand_over = page.locator("#worklist").get_by_role("button", name="Serahkan KTP-el Ahmad Fauzi")
    await expect(hand_over).to_be_visible()  # the list followed the live events
    await hand_over.click()
    await expect(page.get_by_role("heading", name="Serahkan KTP-el")).to_be_visible()
    await page.get_by_role("button", name="Tanda tangani & serahkan").click()
    await expect(page.get_by_role("heading", name="KTP-el diserahkan")).to_be_visible()
    signature = page.locator("img[data-receipt]")
    await expect(signature).to_be_visible()
    await expect(signature).to_have_js_property("complete", True)  # loaded, on a busy machine too
    assert await signature.evaluate("image => image.naturalWidth") > 0
    view = await station.ok("siti", "GET", f"/applications/{app}")
    assert view["state"] == "completed"
    await _no_violations(page)
    await screenshot(page, "counter-handover")

    await _receipt_served(page, app)


async def test_the_receipt_signature_is_for_the_counter_officer_only(
    station: Office, browser: Browser
) -> None:
    context, page = await new_page(browser, _url(station))
    await sign_in(page, "eko", PIN)
    await expect(page).to_have_url(f"{_url(station)}/operator")
    refused = await page.request.get("/loket/berkas/20260101-0001/tanda-terima.png")
    assert refused.status == 403
    await context.close()


async def _type_numbers(page: Page, values: dict[str, Any]) -> None:
    """The NIK and KK typed a key at a time: the half-typed number is refused at once, the
    whole one read (birth date, sex, region)."""
    nik = page.get_by_label("NIK", exact=True)
    await nik.press_sequentially(values["nik"][:8], delay=20)
    await expect(page.locator("#check-nik")).to_contain_text("NIK harus 16 digit, bukan 8 digit.")
    await expect(nik).to_have_attribute("aria-invalid", "true")
    await nik.press_sequentially(values["nik"][8:], delay=20)
    decoded = page.locator("#check-nik")
    await expect(decoded).to_contain_text("NIK sah")
    await expect(decoded.locator("[data-decoded=birth]")).to_have_text("17 Mei 1990")
    await expect(decoded.locator("[data-decoded=sex]")).to_have_text("Laki-laki")
    await expect(decoded.locator("[data-decoded=region]")).to_have_text(TEMPURSARI)
    await expect(nik).not_to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Nomor KK").press_sequentially(values["kk"], delay=5)
    await expect(page.locator("#check-kk")).to_contain_text("Nomor KK sah")


async def _receipt_served(page: Page, app: str) -> None:
    """The receipt's signature, as the console fetches it: a PNG never cached."""
    receipt = await page.request.get(f"/loket/berkas/{app}/tanda-terima.png")
    assert receipt.status == 200
    assert receipt.headers["content-type"] == "image/png"
    assert receipt.headers["cache-control"] == "no-store"
    assert (await receipt.body()).startswith(b"\x89PNG")


async def _to_handover(rig: Office, app: str) -> None:
    """The section head, the operator and the devices do their steps (through the API)."""
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    await rig.until(app, lambda v: v["step"] == "activate")
    await rig.take_card(app)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    await rig.until(app, lambda v: v["step"] == "transfer")
    await rig.ok("eko", "POST", f"/applications/{app}/steps/transfer/start")
    await rig.ok("eko", "POST", f"/applications/{app}/transfer")


async def test_bad_values_are_refused_at_their_fields_and_change_nothing(
    station: Office, counter: Page
) -> None:
    page = counter
    ticket = await _take(station)
    await _call(page, ticket)
    head = station.station.register.head()
    submit = page.get_by_role("button", name="Simpan berkas & periksa")
    await submit.click()
    await expect(page.locator("#e-name")).to_have_text("Wajib diisi.")
    await expect(page.locator("#e-nik")).to_have_text("Wajib diisi.")
    await expect(page.locator("#e-religion")).to_have_text("Wajib diisi.")

    values = form(ticket, serial=42)
    await _fill(page, values, ())
    await page.get_by_label("NIK", exact=True).fill("3508001705900001")
    await page.get_by_label("RT/RW").fill("2/4")
    await page.get_by_label("Nama lengkap").fill("Ahmad <b>Fauzi</b>")
    await page.get_by_label("Tanggal lahir", exact=True).fill("2031-01-01")
    async with page.expect_response("**/loket/berkas") as answer:
        await submit.click()
    assert (await answer.value).status == 422
    await expect(page.locator("#e-nik")).to_have_text(
        "Kode kecamatan pada NIK (digit 5-6) tidak boleh 00."
    )
    await expect(page.locator("#e-rt_rw")).to_contain_text("misalnya 002/004")
    await expect(page.get_by_label("NIK", exact=True)).to_have_attribute("aria-invalid", "true")
    # What was typed stays, to be corrected.
    await expect(page.get_by_label("Pekerjaan")).to_have_value("Petani")

    await page.get_by_label("NIK", exact=True).fill(values["nik"])
    await page.get_by_label("RT/RW").fill("002/004")
    await submit.click()
    await expect(page.locator("#e-name")).to_contain_text("dapat dicetak pada KTP-el")
    await page.get_by_label("Nama lengkap").fill("Ahmad Fauzi")
    await submit.click()
    await expect(page.locator("#e-birth_date")).to_have_text(
        "Tanggal lahir tidak boleh sesudah hari ini."
    )
    await _no_violations(page)
    assert station.station.register.head() == head  # nothing was recorded
    assert _submitted(station, ticket) == []


async def test_a_double_submit_opens_one_application(station: Office, counter: Page) -> None:
    page = counter
    first, second = await _take(station), await _take(station)
    await _call(page, first)
    await _fill(page, form(first, serial=43), ("fc_kk",))
    # Two clicks in a row: the button is disabled while the first is on its way.
    await page.get_by_role("button", name="Simpan berkas & periksa").dblclick()
    await expect(page.get_by_role("heading", name="Periksa kelengkapan berkas")).to_be_visible()
    assert len(_submitted(station, first)) == 1
    await page.get_by_role("button", name="Selesai memeriksa").click()
    await expect(page.get_by_role("heading", name="Berkas lengkap")).to_be_visible()

    # The same form sent twice at once, past the browser's guard: one application.
    await _call(page, second)
    await _fill(page, form(second, serial=44), ("fc_kk",))
    statuses = await page.evaluate(
        """async () => {
            const form = document.querySelector("[data-file-form]");
            const csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
            const send = () => fetch("/loket/berkas", {
                method: "POST", body: new FormData(form),
                headers: {"X-CSRF-Token": csrf, "HX-Request": "true"}});
            const answers = await Promise.all([send(), send()]);
            return answers.map(answer => answer.status).sort();
        }"""
    )
    assert statuses == [200, 409]
    assert len(_submitted(station, second)) == 1

    # The same person again on a new ticket, while their application is open.
    third = await _take(station)
    await page.reload()  # the check the first answer started is still this officer's
    await page.get_by_label(Document.FC_KK.label.id).check()
    await page.get_by_role("button", name="Selesai memeriksa").click()
    await expect(page.get_by_role("heading", name="Berkas lengkap")).to_be_visible()
    await _call(page, third)
    await _fill(page, form(third, serial=44), ("fc_kk",))
    await page.get_by_role("button", name="Simpan berkas & periksa").click()
    await expect(page.locator("#e-nik")).to_contain_text(
        "NIK ini sudah memiliki permohonan yang sedang diproses"
    )
    assert _submitted(station, third) == []


async def test_a_double_call_next_calls_one_ticket(station: Office, counter: Page) -> None:
    page = counter
    first, second = await _take(station), await _take(station)
    await page.reload()
    # The call form sent twice at once, past the browser's guard: one ticket called, the
    # other answer says the screen was behind.
    statuses = await page.evaluate(
        """async () => {
            const form = document.querySelector("form[hx-post='/loket/panggil']");
            const csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
            const send = () => fetch("/loket/panggil", {
                method: "POST", body: new FormData(form),
                headers: {"X-CSRF-Token": csrf, "HX-Request": "true"}});
            const answers = await Promise.all([send(), send()]);
            return answers.map(answer => answer.status).sort();
        }"""
    )
    assert statuses == [200, 409]
    called = {view.ticket for view in station.station.pipeline.queue().tickets if view.calls}
    assert first in called
    assert second not in called


async def test_a_stale_screen_says_so_and_changes_nothing(station: Office, counter: Page) -> None:
    page = counter
    ticket = await _take(station)
    await _call(page, ticket)
    await _fill(page, form(ticket, serial=45), ("fc_kk",))
    # Meanwhile, on another screen, the ticket is marked as not present.
    await station.ok("siti", "POST", f"/queue/tickets/{ticket}/no-show")
    head = station.station.register.head()
    async with page.expect_response("**/loket/berkas") as answer:
        await page.get_by_role("button", name="Simpan berkas & periksa").click()
    assert (await answer.value).status == 409
    await expect(page.locator("[data-problem]")).to_have_text(
        f"Nomor {ticket} belum dipanggil ke loket atau sudah dilayani."
    )
    assert station.station.register.head() == head

    # A check finished on another screen: this one's "done" changes nothing more.
    await page.locator("#queue").get_by_role("button", name=f"Panggil ulang {ticket}").first.click()
    await expect(page.locator("[data-current-ticket]")).to_have_text(ticket)
    await _fill(page, form(ticket, serial=45), ("fc_kk",))
    await page.get_by_role("button", name="Simpan berkas & periksa").click()
    await expect(page.get_by_role("heading", name="Periksa kelengkapan berkas")).to_be_visible()
    [submitted] = _submitted(station, ticket)
    await station.ok("siti", "POST", f"/applications/{submitted.app}/check", json={"documents": []})
    head = station.station.register.head()
    async with page.expect_response(f"**/loket/berkas/{submitted.app}/periksa") as answer:
        await page.get_by_role("button", name="Selesai memeriksa").click()
    assert (await answer.value).status == 409
    await expect(page.locator("[data-problem]")).to_contain_text(
        f"Permohonan {submitted.app} tidak sedang dalam langkah check"
    )
    assert station.station.register.head() == head


async def test_an_incomplete_file_goes_back_with_a_slip_of_what_is_missing(
    station: Office, counter: Page
) -> None:
    page = counter
    printer = station.sim.devices["ticket_printer"]
    assert isinstance(printer, EscposPrinterSim)
    ticket, later = await _take(station, ServiceType.HILANG), await _take(station)
    printed = len(printer.printed)
    await _call(page, ticket)
    await page.get_by_label("Jenis layanan").select_option(ServiceType.HILANG.value)
    await _fill(page, form(ticket, serial=46, service=ServiceType.HILANG), ("fc_ktp",))
    await page.get_by_role("button", name="Simpan berkas & periksa").click()
    await page.get_by_role("button", name="Selesai memeriksa").click()
    await expect(page.get_by_role("heading", name="Berkas dikembalikan")).to_be_visible()
    missing = (Document.SURAT_KEHILANGAN, Document.FC_KK)
    await expect(page.locator("[data-missing] li")).to_have_text([d.label.id for d in missing])
    await expect(page.get_by_role("status").filter(has_text="Slip")).to_contain_text(
        "sudah dicetak"
    )
    async with asyncio.timeout(10):
        slips = await printer.wait_for_tickets(printed + 1)
    text = _slip_text(slips[-1])
    assert "BERKAS BELUM LENGKAP" in text
    listed = text.split("Dokumen yang belum ada:", 1)[1].split("Lengkapi dokumen", 1)[0]
    assert listed.strip() == " ".join(f"{n}. {d.label.id}" for n, d in enumerate(missing, 1))
    assert Document.FC_KTP.label.id not in text  # handed in: not on the slip
    await expect(page.locator("#worklist .counter-returned")).to_contain_text(
        Document.SURAT_KEHILANGAN.label.id
    )
    await _no_violations(page)
    await screenshot(page, "counter-returned")

    # The printer out of paper: the return stands, and the screen says the slip did not print.
    printer.inject(Fault.PAPER_OUT)
    await _call(page, later)
    await _fill(page, form(later, serial=47, birth=date(1991, 2, 3), sex=Sex.PEREMPUAN), ())
    await page.get_by_role("button", name="Simpan berkas & periksa").click()
    await page.get_by_role("button", name="Selesai memeriksa").click()
    await expect(page.locator("[data-slip-failed]")).to_contain_text("Slip TIDAK tercetak")
    [submitted] = _submitted(station, later)
    view = await station.ok("siti", "GET", f"/applications/{submitted.app}")
    assert view["state"] == "returned"
    printer.clear(Fault.PAPER_OUT)


async def test_the_counter_is_chosen_once_and_english_is_one_click_away(
    tmp_path: Path, pcscd: PrivatePcscd, browser: Browser
) -> None:
    two = '[pipeline]\ncounters = ["loket-1", "loket-2"]\n'
    async with office(tmp_path, pcscd, extra_config=two) as rig:
        context, page = await new_page(browser, _url(rig))
        # Signed in once the console has fetched its live parts on connecting (an answer
        # still on its way would show the counter as it was before the choice).
        async with page.expect_response("**/loket/antrian"):
            await sign_in(page, "siti", PIN)
        await page.get_by_label("Loket saya").select_option("loket-2")
        await expect(page.locator("#queue")).to_contain_text("Dilayani di loket-2")
        await page.reload()  # this browser remembers where it sits
        await expect(page.get_by_label("Loket saya")).to_have_value("loket-2")
        ticket = await _take(rig)
        await _call(page, ticket)
        called = await rig.ok("siti", "GET", "/queue")
        assert [t["counter"] for t in called["tickets"] if t["ticket"] == ticket] == ["loket-2"]
        # Called again to the other counter, from another screen: this form is stale.
        await _fill(page, form(ticket, serial=48), ("fc_kk",))
        recall = {"counter": "loket-1"}
        await rig.ok("siti", "POST", f"/queue/tickets/{ticket}/recall", json=recall)
        async with page.expect_response("**/loket/berkas") as answer:
            await page.get_by_role("button", name="Simpan berkas & periksa").click()
        assert (await answer.value).status == 409
        await expect(page.locator("[data-problem]")).to_have_text(
            f"Nomor {ticket} sekarang dipanggil ke loket-1; berkasnya diterima di sana."
        )
        assert _submitted(rig, ticket) == []
        await page.get_by_label("Loket saya").select_option("loket-1")
        await expect(page.get_by_role("heading", name=f"Buka berkas · {ticket}")).to_be_visible()

        await page.get_by_role("link", name="English").click()
        await expect(page.get_by_role("button", name="Call next")).to_be_visible()
        await expect(page.get_by_role("heading", name=f"Open the file · {ticket}")).to_be_visible()
        await expect(page.get_by_label("Full name")).to_be_visible()
        await page.get_by_label("NIK", exact=True).press_sequentially("35080", delay=20)
        await expect(page.locator("#check-nik")).to_contain_text("A NIK must have 16 digits")
        await _no_violations(page)
        await context.close()
