"""The operator's console in a real browser: the biometric recording one modality at a
time with its quality against the threshold, a retry, a finger declared missing with its
reason (which reaches the register); the card's encoding and printing, its activation
with the match, the transfer to the counter; the device strip with a device taken away;
bad input, a double submit and a stale screen. The other officers' steps are driven
through the JSON API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Response, expect

from appliance.clock import ManualTimekeeper
from appliance.domain import Role
from appliance.staff import add_member
from sim._base import Fault
from sim.pcscd import PrivatePcscd
from sim.sbi import SbiSimulator
from sim.serial_devices import SignaturePadSim

from .browser_rig import chromium, new_page, screenshot, serious_violations, sign_in
from .office_rig import PERSON, PIN, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

SLOW = 30_000
"""Milliseconds for what a recording, a print or a match takes on a busy machine."""


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
    await sign_in(page, "eko", PIN)
    await expect(page).to_have_url(f"{_url(rig)}/operator")
    return context, page


async def _validated(rig: Office, *, serial: int, name: str) -> str:
    """A file checked and validated through the API: it waits for the operator."""
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    body = form(ticket["ticket"], serial=serial) | {"name": name}
    app = str((await rig.ok("siti", "POST", "/applications", json=body))["id"])
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    return app


def _events(rig: Office, app: str, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in rig.station.register.events() if e.app == app and e.type == kind]


def _camera(rig: Office) -> SbiSimulator:
    camera = rig.sim.devices["camera"]
    assert isinstance(camera, SbiSimulator)
    return camera


async def test_a_recording_one_modality_at_a_time_through_print_activation_and_transfer(
    station: Office, browser: Browser
) -> None:
    await station.ok("eko", "POST", "/blanks", json={"count": 5, "reference": "BA/2026/070"})
    app = await _validated(station, serial=1, name="Ahmad Fauzi")
    await _validated(station, serial=2, name="Siti Rahma")
    # Recorded before (the central records know her): the recording is skipped.
    station.sim.enroll_record(nik=str(form("A-001", serial=3)["nik"]), person=PERSON)
    await _validated(station, serial=3, name="Wulan Sari")
    station.present(PERSON)
    context, page = await _console(station, browser)

    await _record_with_a_missing_finger_and_a_retry(station, page, app)
    await _print_activate_and_carry(station, page, app)
    view = await station.ok("eko", "GET", f"/applications/{app}")
    assert (view["step"], view["phase"]) == ("handover", "waiting")
    await context.close()


async def _record_with_a_missing_finger_and_a_retry(station: Office, page: Page, app: str) -> None:
    to_record = page.locator("[data-part=to-record]")
    await expect(to_record.locator(".operator-list > li")).to_have_count(2)
    await to_record.get_by_role("button", name="Rekam biometrik Ahmad Fauzi").click()
    panel = page.locator("#recording")
    await panel.get_by_text("Ada jari atau mata yang tidak dapat direkam?").click()
    await panel.get_by_label("Jari manis kiri").select_option("amputasi")
    _camera(station).script_scores(30, 35, 32)  # three poor faces: the device gives up
    await panel.get_by_role("button", name="Mulai perekaman").click()

    # The face waits for the operator, below its threshold; the rest waits its turn.
    face = panel.locator("[data-stage=face]")
    await expect(face).to_contain_text("Kualitas kurang", timeout=SLOW)
    await expect(face).to_contain_text("ambang 60")
    await expect(face).to_contain_text("3 percobaan")
    await expect(face.locator(".stage-parts li.low")).to_contain_text("Wajah 35")
    for later in ("left_four", "right_four", "thumbs", "irises", "signature"):
        await expect(panel.locator(f"[data-stage={later}]")).to_contain_text("Menunggu")
    await expect(panel.locator("[data-stage=left_four]")).to_contain_text(
        "Jari manis kiri (Amputasi)"
    )
    assert await serious_violations(page) == []
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "operator-biometrics")

    await face.get_by_role("button", name="Rekam ulang").click()
    await expect(panel).to_contain_text("Perekaman selesai", timeout=SLOW)
    for stage in ("face", "left_four", "right_four", "thumbs", "irises", "signature"):
        await expect(panel.locator(f"[data-stage={stage}]")).to_contain_text("Diterima")
    await expect(panel.locator("[data-stage=left_four] .stage-parts li")).to_have_count(3)
    (recorded,) = _events(station, app, "biometrics.recorded")
    assert recorded["exceptions"] == [{"eye": None, "finger": 9, "reason": "amputasi"}]


async def _print_activate_and_carry(station: Office, page: Page, app: str) -> None:
    # The station prints by itself: the card's progress reaches "printed".
    activation = page.locator("[data-part=activation]")
    item = activation.locator(".operator-list > li", has_text="Ahmad Fauzi")
    await expect(item.locator(".card-steps li.done")).to_have_count(3, timeout=SLOW)
    await expect(item.locator(".card-steps")).to_contain_text("Dicetak")
    assert _events(station, app, "card.printed")

    await station.take_card(app)
    await item.get_by_role("button", name="Mulai aktivasi Ahmad Fauzi").click()
    carrying = page.locator("[data-part=carrying]")
    carried = carrying.locator(".operator-list > li", has_text="Ahmad Fauzi")
    await expect(carried).to_contain_text("Sidik jari cocok", timeout=SLOW)
    (attempt,) = [a for a in _events(station, app, "card.activation_attempt") if a["matched"]]
    shown = f"{attempt['score'] / 1000:.2f}".replace(".", ",")
    await expect(carried).to_contain_text(f"skor {shown}")

    await carried.get_by_role("button", name="Bawa KTP-el ke loket Ahmad Fauzi").click()
    await expect(carried.get_by_role("button", name="Sudah diterima loket")).to_be_visible()
    # The skipped one was printed meanwhile and waits at activation; one waits to be recorded.
    skipped = activation.locator(".operator-list > li", has_text="Wulan Sari")
    await expect(skipped).to_contain_text("perekaman dilewati", timeout=SLOW)
    await expect(page.locator("[data-part=to-record]")).to_contain_text("Siti Rahma")
    assert await serious_violations(page) == []
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "operator")

    await carried.get_by_role("button", name="Sudah diterima loket").click()
    await expect(carrying.locator(".operator-list > li")).to_have_count(0)


async def test_bad_input_a_double_submit_and_a_stale_screen(
    station: Office, browser: Browser
) -> None:
    app = await _validated(station, serial=4, name="Rudi Hartono")
    other = await _validated(station, serial=5, name="Dedi Kurnia")
    station.present(PERSON)
    context, page = await _console(station, browser)
    panel = page.locator("#recording")

    # Nine fingers missing cannot make a card; a reason that is not in the list is refused.
    await page.get_by_role("button", name="Rekam biometrik Rudi Hartono").click()
    await panel.get_by_text("Ada jari atau mata yang tidak dapat direkam?").click()
    for label in ("Ibu jari", "Telunjuk", "Jari tengah", "Jari manis", "Kelingking"):
        await panel.get_by_label(f"{label} kiri").select_option("amputasi")
    for label in ("Telunjuk", "Jari tengah", "Jari manis", "Kelingking"):
        await panel.get_by_label(f"{label} kanan").select_option("cacat_permanen")
    head = station.station.register.head()
    async with page.expect_response(_recording_post) as answer:
        await panel.get_by_role("button", name="Mulai perekaman").click()
    assert (await answer.value).status == 422
    await expect(panel.locator("#e-jari")).to_contain_text("Paling sedikit dua jari")
    await panel.locator("#f-mata-left").evaluate(
        "select => select.add(new Option('lupa', 'lupa', true, true))"
    )
    await panel.get_by_label("Kelingking kanan").select_option("")
    await panel.get_by_role("button", name="Mulai perekaman").click()
    await expect(panel.locator("#e-mata-left")).to_have_text("Pilih alasan dari daftar.")
    await expect(panel.get_by_label("Kelingking kiri")).to_have_value("amputasi")  # kept
    assert station.station.register.head() == head
    assert await serious_violations(page) == []

    # A double submit starts one recording.
    cookies = {c["name"]: c["value"] for c in await context.cookies() if "name" in c}
    headers = {"X-CSRF-Token": cookies["ktpel_csrf"], "HX-Request": "true"}
    both = await asyncio.gather(
        *(context.request.post(f"/operator/rekam/{app}", headers=headers) for _ in range(2))
    )
    assert [r.status for r in both] == [200, 200]
    started = [e for e in _events(station, app, "step.started") if e["step"] == "biometric"]
    assert len(started) == 1
    await station.until(app, lambda v: v["step"] == "encode_print")

    # Another operator takes the next one while this screen has its form open.
    add_member(
        station.config.staff_path,
        person_id="dewi",
        name="Dewi Anggraini",
        roles=[Role.OPERATOR],
        secret=PIN,
    )
    station.station.staff.reload(station.config.staff_path)
    login = await station.http.post("/api/v1/session", json={"person": "dewi", "secret": PIN})
    station.tokens["dewi"] = login.json()["token"]
    await page.reload()
    await page.get_by_role("button", name="Rekam biometrik Dedi Kurnia").click()
    await expect(panel.get_by_role("button", name="Mulai perekaman")).to_be_visible()
    await station.ok("dewi", "POST", f"/applications/{other}/steps/biometric/start")
    head = station.station.register.head()
    async with page.expect_response(_recording_post) as answer:
        await panel.get_by_role("button", name="Mulai perekaman").click()
    assert (await answer.value).status == 409
    await expect(panel.locator(".alert")).to_contain_text("sudah diambil Dewi Anggraini")
    await expect(panel.locator(".alert")).to_contain_text("tidak ada yang diubah")
    assert station.station.register.head() == head
    await station.until(other, lambda v: v["step"] == "encode_print")
    await context.close()


async def test_a_device_taken_away_shows_in_the_strip_with_what_to_do(
    station: Office, browser: Browser
) -> None:
    context, page = await new_page(browser, _url(station))
    async with page.expect_response("**/perangkat"):  # the strip follows the live feed
        await sign_in(page, "eko", PIN)
    strip = page.locator("#devices")
    await expect(strip).to_contain_text("Semua siap")
    pad = station.sim.devices["signature_pad"]
    assert isinstance(pad, SignaturePadSim)
    pad.inject(Fault.UNPLUG)  # its cable pulled
    gone = strip.locator("[data-device=signature_pad]")
    await expect(gone).to_contain_text("Tidak terhubung", timeout=SLOW)
    # Gone, then not found again where it was plugged: either way, said and what to do.
    await expect(gone).to_contain_text(
        re.compile(r"Perangkat tidak (terhubung|ditemukan); periksa")
    )
    await expect(gone).to_contain_text("Periksa kabel dan daya alat tanda tangan elektronik")
    await expect(strip).to_contain_text("1 perlu perhatian")
    assert await serious_violations(page) == []
    await screenshot(page, "operator-devices")
    pad.clear(Fault.UNPLUG)
    await expect(strip).to_contain_text("Semua siap", timeout=SLOW)
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("#devices")).to_contain_text("All ready")
    await context.close()


def _recording_post(response: Response) -> bool:
    """The answer to the panel's form, not to the refreshers beside it (GETs)."""
    return response.request.method == "POST" and "/operator/rekam/" in response.url
