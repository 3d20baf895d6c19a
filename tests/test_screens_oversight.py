"""Oversight through the screens, in Chromium, on one station whose clock the test moves:
the kiosk's questionnaire after a handover (refused at the questions left out, then
taken once); the complaint book written from each channel by the counter officer, the
contact seen by the section head alone, each status change by the section head's clicks;
an overdue complaint escalated and marked once the clock passes its deadline; the
quarterly recap drafted at the counter, approved and published by the Camat on his own
console, and shown live on the waiting-room board, whose every answer and public stream
hold no complainant's contact or account."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from appliance.clock import ManualTimekeeper
from appliance.domain import EventType, ServiceType
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
from .office_rig import PIN, Office, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

NAME = "Sri Wahyuni"
PHONE = "0812 3456 7890"
ACCOUNT = "Petugas loket meminta uang fotokopi"
PRIVATE = (NAME, PHONE, "0812", "Mawar", ACCOUNT, "fotokopi")
DAY_S = 86_400


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def clock() -> ManualTimekeeper:
    return ManualTimekeeper()  # 2025-11-21, a Friday


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def station(
    tmp_path_factory: pytest.TempPathFactory, clock: ManualTimekeeper
) -> AsyncIterator[Office]:
    async with (
        PrivatePcscd() as pcscd,
        office(tmp_path_factory.mktemp("office"), pcscd, clock=clock) as rig,
    ):
        yield rig


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _url(rig: Office) -> str:
    return f"http://127.0.0.1:{rig.station.api.port}"


async def _console(rig: Office, browser: Browser, person: str) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, _url(rig))
    await sign_in(page, person, PIN)
    return context, page


def _events(rig: Office, kind: EventType) -> list[dict[str, object]]:
    return [e.data for e in rig.station.register.events() if e.type == kind]


# ---------------------------------------------------------------- the kiosk's questionnaire


async def test_the_kiosk_takes_one_questionnaire_after_a_handover(
    station: Office, browser: Browser
) -> None:
    _, page = await new_page(browser, _url(station), viewport=KIOSK_VIEWPORT, has_touch=True)
    await page.goto("/kiosk")
    offer = page.get_by_role("link", name="Sudah menerima KTP-el? Isi survei kepuasan")
    await expect(offer).to_have_count(0)  # no card handed over yet: nothing to survey

    # What the counter's handover does once the card is acknowledged (the pipeline's own
    # hook; tests/test_oversight_api.py drives a whole handover to it).
    station.station.pipeline.survey.after_handover(ServiceType.BARU)
    await page.goto("/kiosk")
    await offer.tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bagaimana pelayanan kami?")
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk-survey")

    # Three questions answered, six left out: refused at each of those six.
    for question in ("U1", "U2", "U7"):
        await page.locator(f"#q-{question} label.survey-choice").nth(3).tap()
    head = station.station.register.head()
    async with page.expect_response(re.compile(r"/kiosk/survei$")) as answer:
        await page.get_by_role("button", name="Kirim survei").tap()
    assert (await answer.value).status == 422
    for question in ("U3", "U4", "U5", "U6", "U8", "U9"):
        await expect(page.locator(f"#e-{question}")).to_have_text(
            "Pilih salah satu jawaban untuk pertanyaan ini."
        )
    for question in ("U1", "U2", "U7"):
        await expect(page.locator(f"#e-{question}")).to_have_text("")
        await expect(page.locator(f"#q-{question} input[value='4']")).to_be_checked()
    assert station.station.register.head() == head
    await page.locator("#q-U3").scroll_into_view_if_needed()
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk-survey-refused")

    for question, score in (("U3", 3), ("U4", 4), ("U5", 3), ("U6", 3), ("U8", 2), ("U9", 3)):
        await page.locator(f"#q-{question} label.survey-choice").nth(score - 1).tap()
    await page.get_by_role("radio", name="Perempuan").tap()
    await page.get_by_role("radio", name="30-39").tap()
    await page.get_by_role("button", name="Kirim survei").tap()
    await expect(page.locator("[data-survey-thanks]")).to_have_text("Jawaban Anda sudah tercatat.")
    assert await serious_violations(page) == []
    await screenshot(page, "kiosk-survey-thanks")

    (answered,) = _events(station, EventType.SURVEY_QUESTIONNAIRE_ANSWERED)
    assert answered["service"] == "baru"
    assert answered["answers"] == {
        "U1": 4, "U2": 4, "U3": 3, "U4": 4, "U5": 3, "U6": 3, "U7": 4, "U8": 2, "U9": 3
    }  # fmt: skip
    profile = answered["profile"]
    assert isinstance(profile, dict)
    assert {k: v for k, v in profile.items() if v} == {"sex": "P", "age_band": "30-39"}
    # One questionnaire per handover: the offer is gone, and a form sent again is refused.
    await page.get_by_role("link", name="Selesai").tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ambil nomor antrean")
    await expect(offer).to_have_count(0)
    await page.goto("/kiosk/survei/baru")
    await expect(page.locator(".kiosk-message")).to_contain_text("setelah KTP-el Anda diserahkan")
    await page.context.close()


async def test_the_questionnaire_reads_in_english_one_tap_away(
    station: Office, browser: Browser
) -> None:
    station.station.pipeline.survey.after_handover(ServiceType.HILANG)
    _, page = await new_page(browser, _url(station), viewport=KIOSK_VIEWPORT, has_touch=True)
    await page.goto("/kiosk")
    await page.get_by_role("link", name="English").tap()
    await page.get_by_role("link", name="Received your KTP-el? Take the satisfaction survey").tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text("How was our service?")
    question = page.locator("#q-U4")
    await expect(question.locator("legend")).to_contain_text("How fair was the cost")
    await expect(question.locator("label.survey-choice").nth(3)).to_contain_text("Free")
    await expect(page.get_by_role("radio", name="Prefer not to say")).to_have_count(4)
    await page.context.close()


# ---------------------------------------------------------------- the complaint book


async def _record(page: Page, channel: str, account: str, **fields: str) -> str:
    """Write a complaint in from /pengaduan: its number, from the page it lands on."""
    await page.goto("/pengaduan")
    await page.get_by_label("Saluran", exact=True).select_option(label=channel)
    if "lapor_id" in fields:
        await page.get_by_label("Nomor pelacakan LAPOR!").fill(fields["lapor_id"])
    if "name" in fields:
        await page.get_by_label("Anonim").uncheck()
        await page.get_by_label("Nama pelapor").fill(fields["name"])
        await page.get_by_label("Telepon / WhatsApp").fill(fields["phone"])
    await page.get_by_label("Apa yang terjadi").fill(account)
    if "element" in fields:
        await page.get_by_label("Unsur SKM").select_option(fields["element"])
        await page.get_by_label("Komponen standar pelayanan").select_option(fields["standard"])
        await page.get_by_label("Penyelesaian yang diminta").fill(fields["remedy"])
    await page.get_by_role("button", name="Catat pengaduan").click()
    await expect(page.locator(".success")).to_contain_text("dicatat di buku pengaduan")
    heading = await page.get_by_role("heading", level=1).inner_text()
    match = re.search(r"ADU-\d{4}-\d{4}", heading)
    assert match, heading
    return match.group(0)


async def test_complaints_from_each_channel_through_each_status_by_the_screens(
    station: Office, browser: Browser
) -> None:
    _, counter = await _console(station, browser, "siti")
    await counter.goto("/pengaduan")
    head = station.station.register.head()
    # Refused at the field, nothing recorded: no account; a LAPOR! complaint without its id.
    await counter.get_by_label("Saluran", exact=True).select_option(label="SP4N-LAPOR!")
    await counter.get_by_label("Apa yang terjadi").fill(" ")
    async with counter.expect_response(re.compile(r"/pengaduan$")) as answer:
        await counter.get_by_role("button", name="Catat pengaduan").click()
    assert (await answer.value).status == 422
    await expect(counter.locator("#e-account")).to_have_text("Wajib diisi; tidak boleh kosong.")
    await counter.get_by_label("Apa yang terjadi").fill("Laporan lewat LAPOR!")
    await counter.get_by_role("button", name="Catat pengaduan").click()
    await expect(counter.locator("#e-lapor_id")).to_contain_text("Nomor pelacakan LAPOR!")
    assert station.station.register.head() == head
    assert await serious_violations(counter) == []
    await screenshot(counter, "complaints-refused")

    named = await _record(
        counter, "Telepon / WhatsApp", ACCOUNT, name=NAME, phone=PHONE,
        element="U4", standard="biaya", remedy="Uang dikembalikan",
    )  # fmt: skip
    # The counter officer who wrote it sees no contact.
    await expect(counter.locator("[data-contact]")).to_contain_text("hanya dilihat Kasi")
    await expect(counter.locator("[data-contact]")).not_to_contain_text(NAME)
    desk = await _record(counter, "Langsung di meja informasi", "Antrean tidak bergerak")
    box = await _record(counter, "Kotak saran", "Kursi ruang tunggu kurang")
    lapor = await _record(counter, "SP4N-LAPOR!", "KTP-el belum jadi", lapor_id="LPR-2511-0042")
    channels = {d["number"]: d["channel"] for d in _events(station, EventType.COMPLAINT_RECEIVED)}
    assert channels == {
        named: "telepon",
        desk: "meja_informasi",
        box: "kotak_saran",
        lapor: "lapor",
    }
    (received,) = [
        d for d in _events(station, EventType.COMPLAINT_RECEIVED) if d["number"] == named
    ]
    assert received["anonymous"] is False
    assert NAME not in str(received)
    assert (received["element"], received["standard"]) == ("U4", "biaya")
    # No verify, follow-up or close for the counter officer.
    await counter.goto(f"/pengaduan/{named}")
    await expect(counter.get_by_role("button", name="Verifikasi")).to_have_count(0)
    await counter.goto("/pengaduan")
    for number in (named, desk, box, lapor):
        await expect(counter.locator(f"[data-complaint='{number}'] [data-state]")).to_have_text(
            "Diterima"
        )
    assert await serious_violations(counter) == []
    await screenshot(counter, "complaints")
    await counter.context.close()


async def test_the_section_head_verifies_follows_up_and_closes_and_sees_the_contact(
    station: Office, browser: Browser
) -> None:
    numbers = {
        d["channel"]: str(d["number"]) for d in _events(station, EventType.COMPLAINT_RECEIVED)
    }
    named, desk = numbers["telepon"], numbers["meja_informasi"]
    # The section head sees the contact, and moves the complaint through each status.
    _, head_page = await _console(station, browser, "budi")
    await head_page.goto(f"/pengaduan/{named}")
    await expect(head_page.locator("[data-contact]")).to_contain_text(f"{NAME} · {PHONE}")
    await head_page.get_by_label("Kategori (menentukan tenggat)").select_option("normatif")
    await head_page.get_by_role("button", name="Verifikasi").click()
    await expect(head_page.locator("h1 [data-state]")).to_have_text("Diverifikasi")
    await head_page.get_by_role("button", name="Catat tindak lanjut").click()
    await expect(head_page.locator("#e-action")).to_have_text("Wajib diisi; tidak boleh kosong.")
    await head_page.get_by_label("Apa yang dilakukan").fill("Petugas ditegur; pungutan dihentikan")
    await head_page.get_by_role("button", name="Catat tindak lanjut").click()
    await expect(head_page.locator("h1 [data-state]")).to_have_text("Ditindaklanjuti")
    await expect(head_page.locator(".followups li")).to_contain_text(
        "Budi Santoso: Petugas ditegur; pungutan dihentikan"
    )
    assert await serious_violations(head_page) == []
    await screenshot(head_page, "complaint-head")
    await head_page.get_by_label("Hasil penyelesaian").fill("Uang dikembalikan kepada pelapor")
    await head_page.get_by_role("button", name="Tutup pengaduan").click()
    await expect(head_page.locator("h1 [data-state]")).to_have_text("Selesai")
    moves = [
        e.type
        for e in station.station.register.events()
        if e.type.startswith("complaint.") and e.data.get("number") == named
    ]
    assert moves == [
        EventType.COMPLAINT_RECEIVED,
        EventType.COMPLAINT_VERIFIED,
        EventType.COMPLAINT_FOLLOWED_UP,
        EventType.COMPLAINT_CLOSED,
    ]
    # The desk complaint is verified as minor (2 working days) and left open.
    await head_page.goto(f"/pengaduan/{desk}")
    await head_page.get_by_role("button", name="Verifikasi").click()
    await expect(head_page.locator("h1 [data-state]")).to_have_text("Diverifikasi")

    # Neither the Camat nor the operator sees the contact; the Camat writes nothing.
    for person in ("camat", "eko"):
        _, reader = await _console(station, browser, person)
        await reader.goto(f"/pengaduan/{named}")
        await expect(reader.locator("[data-contact]")).not_to_contain_text(NAME)
        await expect(reader.locator("[data-contact]")).not_to_contain_text("0812")
        await reader.context.close()
    await head_page.context.close()


async def test_an_overdue_complaint_is_escalated_and_marked(
    station: Office, browser: Browser, clock: ManualTimekeeper
) -> None:
    escalated = _events(station, EventType.COMPLAINT_ESCALATED)
    assert escalated == []
    open_ones = {row.number for row in station.station.register.open_complaints()}
    assert len(open_ones) == 3
    _, page = await _console(station, browser, "budi")
    await page.goto("/pengaduan")
    await expect(page.locator("[data-escalated]")).to_have_count(0)
    await expect(page.locator("[data-late]")).to_have_count(0)
    # Past the quarter's end: 2026-01-02. Every complaint still open is past its deadline,
    # and the station's watch escalates each: read on the officers' feed as it happens.
    late: set[str] = set()
    async with (
        asyncio.timeout(30),
        station.http.stream(
            "GET", "/api/v1/events", headers=station.as_("budi"), timeout=None
        ) as stream,
    ):
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        clock.advance(42 * DAY_S)
        async for line in lines:
            if line.startswith("data:") and '"type":"complaint.escalated"' in line:
                late.add(json.loads(line.removeprefix("data:"))["data"]["number"])
                if len(late) == len(open_ones):
                    break
    assert late == open_ones
    await page.context.close()
    _, page = await _console(station, browser, "budi")  # the long wait signed everyone out
    await page.goto("/pengaduan")
    banner = page.locator("[data-escalated]")
    await expect(banner).to_contain_text("dieskalasi ke Kasi Pelayanan")
    for number in sorted(late):
        await expect(banner.get_by_role("link", name=number)).to_be_visible()
        await expect(page.locator(f"[data-complaint='{number}'] [data-late]")).to_have_text(
            "Dieskalasi"
        )
    assert await serious_violations(page) == []
    await screenshot(page, "complaints-escalated")
    # The section head's own console lists them too.
    await page.goto("/kasi")
    listed = page.locator("[data-late-complaints]")
    for number in sorted(late):
        await expect(listed.get_by_role("link", name=number)).to_be_visible()
    assert await serious_violations(page) == []
    await screenshot(page, "head-complaints-late")
    await page.context.close()


# ---------------------------------------------------------------- the recap


async def _public_stream(
    rig: Office, until: str, collected: list[str], connected: asyncio.Event
) -> None:
    """Read the board's feed into `collected` until a line holding `until`."""
    async with (
        httpx.AsyncClient(base_url=_url(rig), timeout=httpx.Timeout(30, read=None)) as http,
        http.stream("GET", "/langsung/umum") as stream,
    ):
        async for line in stream.aiter_lines():
            collected.append(line)
            if line == "event: connected":
                connected.set()
            if until in line:
                return


async def test_the_counter_drafts_the_recap_and_the_camat_reads_the_figures(
    station: Office, browser: Browser
) -> None:
    _, counter = await _console(station, browser, "siti")
    await counter.goto("/pengaduan")
    await expect(counter.get_by_label("Triwulan", exact=True)).to_have_value("2025-Q4")
    await counter.get_by_label("Perbaikan yang dijanjikan").fill(
        "Tambah kursi ruang tunggu\nDaftar biaya (gratis) dipasang di loket"
    )
    await counter.get_by_role("button", name="Susun rekap").click()
    await expect(counter.locator(".success")).to_contain_text("menunggu persetujuan Camat")
    await counter.context.close()

    _, camat = await _console(station, browser, "camat")
    await expect(camat).to_have_url(f"{_url(station)}/pimpinan")
    await expect(camat.get_by_role("link", name="Loket")).to_have_count(0)  # serves no one
    await camat.get_by_label(re.compile("^Periode")).fill("2025-Q5")
    await camat.get_by_role("button", name="Tampilkan").click()
    await expect(camat.locator("#e-periode")).to_contain_text("triwulan")
    await camat.get_by_label(re.compile("^Periode")).fill("2025-Q4")
    await camat.get_by_role("button", name="Tampilkan").click()
    # One questionnaire: IKM = (4+4+3+4+3+3+4+2+3)/9 x 25 = 83.33, grade B.
    await expect(camat.locator("[data-ikm]")).to_have_text("83.33")
    await expect(camat.locator("[data-grade]")).to_have_text("B · Baik")
    await expect(camat.locator("[data-respondents]")).to_have_text("1")
    await expect(camat.locator("[data-received]")).to_have_text("4")
    await expect(camat.locator("[data-status='closed']")).to_have_text("1")
    await expect(camat.locator("[data-escalated]")).to_have_text("3")
    await expect(camat.locator("[data-recap-state]")).to_have_text("Draf, menunggu persetujuan")
    assert await serious_violations(camat) == []
    await screenshot(camat, "supervisor")
    # The performance report of the same period, as `appliance report --format html` makes it.
    await camat.locator("[data-report]").click()
    # Its charts are drawn by matplotlib, loaded on first use: on a busy machine, seconds.
    await expect(camat).to_have_title(
        re.compile(r"^Laporan Evaluasi Kinerja Pelayanan"), timeout=60_000
    )
    await expect(camat.get_by_role("heading", level=1)).to_have_text(
        "Laporan Evaluasi Kinerja Pelayanan"
    )
    await screenshot(camat, "supervisor-report")
    # The Camat serves no applicant: the counter's console is not his.
    assert (refused := await camat.goto("/loket")) is not None
    assert refused.status == 403
    await camat.context.close()


async def test_the_camat_approves_the_recap_and_the_board_shows_it(
    station: Office, browser: Browser
) -> None:
    _, board = await new_page(browser, _url(station), viewport=TV_VIEWPORT)
    await board.goto("/board")
    await expect(board.locator("[data-recap]")).to_have_count(0)
    _, camat = await _console(station, browser, "camat")
    await expect(camat.locator("[data-recap-state]")).to_have_text("Draf, menunggu persetujuan")

    await camat.get_by_role("button", name="Setujui rekap").click()
    await expect(camat.locator(".success")).to_have_text("Rekap 2025-Q4 disetujui.")
    (approved,) = _events(station, EventType.RECAP_APPROVED)
    assert approved["by"] == {"person": "camat", "role": "pimpinan"}

    collected: list[str] = []
    connected = asyncio.Event()
    listening = asyncio.create_task(_public_stream(station, "event: recap", collected, connected))
    async with asyncio.timeout(30):
        await connected.wait()
    await camat.get_by_role("button", name="Umumkan di papan ruang tunggu").click()
    await expect(camat.locator(".success")).to_contain_text("diumumkan di papan")
    async with asyncio.timeout(30):
        await listening
    assert await serious_violations(camat) == []
    await screenshot(camat, "supervisor-published")

    # The board shows it by itself, live.
    recap = board.locator("[data-recap='2025-Q4']")
    await expect(recap).to_contain_text("4 pengaduan")
    await expect(recap).to_contain_text("Tambah kursi ruang tunggu")
    await expect(recap).to_contain_text("Selesai 1")
    assert await serious_violations(board) == []
    await screenshot(board, "board-recap")

    answers = [
        await board.content(),
        (await station.http.get("/board")).text,
        (await station.http.get("/board/rekap")).text,
        (await station.http.get("/api/v1/public/recap")).text,
        "\n".join(collected),
    ]
    for text in answers:
        for private in PRIVATE:
            assert private not in text
