"""Oversight through the JSON API of a whole station on simulated devices: the keypad
lit after a handover and its press recorded once, the kiosk's questionnaire, the
complaint book by role with the contact shown to the section head alone, the recap
approved by the Camat and shown to the public, the supervisor refused every action that
serves an applicant, bad input refused with its code and Indonesian words while nothing
changes, and the period's figures recomputed from the exported register equal to the
station's."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from appliance.clock import ManualTimekeeper
from appliance.oversight import Period, figures, figures_document
from appliance.register import export_jsonl, read_jsonl
from sim.pcscd import PrivatePcscd
from sim.serial_devices import SatisfactionKeypadSim

from .office_rig import PERSON, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

QUARTER = "2025-Q4"  # the ManualTimekeeper's day, 2025-11-21
CONTACT = {"name": "Sri Wahyuni", "phone": "0812 3456 7890", "address": "Jl. Mawar 3"}
ANSWERS = {f"U{i}": 3 for i in range(1, 10)} | {"U4": 4, "U7": 4}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Office]:
    async with (
        PrivatePcscd() as pcscd,
        office(tmp_path_factory.mktemp("office"), pcscd, clock=ManualTimekeeper()) as station,
    ):
        await station.ok("eko", "POST", "/blanks", json={"count": 2, "reference": "BA/1"})
        yield station


async def _events_until(rig: Office, kind: str, act: Any) -> dict[str, Any]:
    """Run `act`, then read the officers' live events until one of `kind` arrives."""
    async with (
        asyncio.timeout(60),
        rig.http.stream("GET", "/api/v1/events", headers=rig.as_("budi"), timeout=None) as stream,
    ):
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        await act()
        async for line in lines:
            if line.startswith("data:") and f'"type":"{kind}"' in line:
                event: dict[str, Any] = json.loads(line.removeprefix("data:"))
                return event
    raise AssertionError("unreachable")


async def _handed_over(rig: Office, serial: int) -> str:
    await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    called = await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    app = (
        await rig.ok("siti", "POST", "/applications", json=form(called["ticket"], serial=serial))
    )["id"]
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    await rig.until(app, lambda view: view["step"] == "activate")
    await rig.take_card(app)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    await rig.until(app, lambda view: view["step"] == "transfer")
    await rig.ok("eko", "POST", f"/applications/{app}/steps/transfer/start")
    await rig.ok("eko", "POST", f"/applications/{app}/transfer")
    await rig.ok("siti", "POST", f"/applications/{app}/steps/handover/start")

    async def hand_over() -> None:
        await rig.ok("siti", "POST", f"/applications/{app}/handover")

    pressed = await _events_until(rig, "survey.keypad_pressed", hand_over)
    assert set(pressed["data"]) == {"service", "rating"}  # nobody's, but the service's
    assert pressed["app"] is None
    assert pressed["data"]["service"] == "baru"
    return str(app)


async def test_a_handover_lights_the_keypad_and_its_press_is_recorded_once(rig: Office) -> None:
    keypad = rig.sim.devices["satisfaction_keypad"]
    assert isinstance(keypad, SatisfactionKeypadSim)
    await _handed_over(rig, serial=1)
    assert "ARM" in [frame.kind for frame in keypad.received]
    assert not keypad.armed, "the buttons go dark after the press"
    head = rig.station.register.head()
    again = await rig.http.post("/api/v1/survey/keypad", json={"rating": "puas"})
    assert (again.status_code, again.json()["code"]) == (409, "keypad_already_pressed")
    assert again.json()["message"].startswith("Penilaian untuk penyerahan ini sudah tercatat")
    assert rig.station.register.head() == head


async def test_the_kiosks_questionnaire_is_taken_once_per_handover(rig: Office) -> None:
    offers = (await rig.http.get("/api/v1/survey/offers")).json()
    assert offers["questionnaires"]["baru"] == 1
    head = rig.station.register.head()
    for answer, code in ((5, "less_than_equal"), (0, "greater_than_equal")):
        bad = await rig.http.post(
            "/api/v1/survey/questionnaires",
            json={"service": "baru", "answers": ANSWERS | {"U3": answer}},
        )
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
        (detail,) = bad.json()["details"]
        assert (detail["field"], detail["code"]) == ("body.answers.U3", code)
        assert detail["problem"] in ("Paling besar 4.", "Paling kecil 1.")
    wrong_service = await rig.http.post(
        "/api/v1/survey/questionnaires", json={"service": "hilang", "answers": ANSWERS}
    )
    assert (wrong_service.status_code, wrong_service.json()["code"]) == (
        409,
        "no_survey_invitation",
    )
    assert rig.station.register.head() == head
    taken = await rig.http.post(
        "/api/v1/survey/questionnaires",
        json={"service": "baru", "answers": ANSWERS, "profile": {"sex": "P", "age_band": "30-39"}},
    )
    assert taken.status_code == 201, taken.text
    head = rig.station.register.head()
    twice = await rig.http.post(
        "/api/v1/survey/questionnaires", json={"service": "baru", "answers": ANSWERS}
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "no_survey_invitation")
    assert rig.station.register.head() == head


async def test_the_supervisor_serves_no_applicant(rig: Office) -> None:
    head = rig.station.register.head()
    refused = [
        ("POST", "/queue/tickets", {"service": "baru"}),
        ("POST", "/queue/call-next", {"counter": "loket-1"}),
        ("POST", "/applications", form("A-001", serial=7)),
        ("POST", "/blanks", {"count": 1, "reference": "BA/2"}),
        ("POST", "/complaints", {"channel": "telepon", "account": "Lama."}),
    ]
    for method, path, body in refused:
        response = await rig.call("camat", method, path, json=body)
        assert response.status_code == 403, (path, response.text)
    applications = await rig.ok("camat", "GET", "/applications")
    for view in applications:
        response = await rig.call("camat", "POST", f"/applications/{view['id']}/steps/check/start")
        assert response.status_code == 403
    assert rig.station.register.head() == head


async def test_the_complaint_book_by_role_and_the_recap_on_the_board(rig: Office) -> None:
    head = rig.station.register.head()
    for body, field, code in (
        ({"channel": "meja_informasi", "account": " "}, "body.account", "complaint_text_missing"),
        (
            {"channel": "telepon", "account": "Telepon saya 081234567890"},
            "body.account",
            "complaint_text_has_number",
        ),
    ):
        bad = await rig.call("siti", "POST", "/complaints", json=body)
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
        (detail,) = bad.json()["details"]
        assert (detail["field"], detail["code"]) == (field, code)
        assert detail["problem"] == detail["messages"]["id"]
    assert rig.station.register.head() == head

    named = await rig.ok(
        "siti",
        "POST",
        "/complaints",
        json={"channel": "meja_informasi", "account": "Antrean lama.", "contact": CONTACT},
    )
    number = named["number"]
    assert named["contact"] is None  # the counter officer records it, and sees no contact
    for channel, extra in (
        ("kotak_saran", {}),
        ("telepon", {}),
        ("lapor", {"lapor_id": "LPR-2512345"}),
    ):
        await rig.ok(
            "siti", "POST", "/complaints", json={"channel": channel, "account": "Lama.", **extra}
        )
    assert (await rig.ok("budi", "GET", f"/complaints/{number}"))["contact"]["phone"] == CONTACT[
        "phone"
    ]
    for person in ("siti", "eko", "camat"):
        assert (await rig.ok(person, "GET", f"/complaints/{number}"))["contact"] is None
    forbidden = await rig.call(
        "siti", "POST", f"/complaints/{number}/verify", json={"category": "ringan"}
    )
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "wrong_role")
    await rig.ok("budi", "POST", f"/complaints/{number}/verify", json={"category": "ringan"})
    await rig.ok("budi", "POST", f"/complaints/{number}/follow-up", json={"action": "Ditegur."})
    closed = await rig.ok("budi", "POST", f"/complaints/{number}/close", json={"outcome": "Beres."})
    assert closed["state"] == "closed"

    # The quarter has not ended on the station's day: the recap waits for its end.
    early = await rig.call("siti", "POST", "/recaps", json={"period": QUARTER})
    assert (early.status_code, early.json()["code"]) == (409, "recap_too_early")
    past = "2025-Q3"
    await rig.ok("siti", "POST", "/recaps", json={"period": past, "improvements": ["Kursi."]})
    refused = await rig.call("budi", "POST", f"/recaps/{past}/approve")
    assert refused.status_code == 403
    await rig.ok("camat", "POST", f"/recaps/{past}/approve")

    async def publish() -> None:
        await rig.ok("camat", "POST", f"/recaps/{past}/publish")

    async with (
        asyncio.timeout(30),
        rig.http.stream("GET", "/api/v1/public/events", timeout=None) as stream,
    ):
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        await publish()
        data = await anext(line async for line in lines if line.startswith("data:"))
    assert json.loads(data.removeprefix("data:"))["period"] == past
    board = await rig.http.get("/api/v1/public/recap")
    assert board.json()["period"] == past
    assert board.json()["improvements"] == ["Kursi."]
    for text in (board.text, data, (await rig.http.get("/api/v1/survey/offers")).text):
        for private in ("Sri Wahyuni", "0812 3456 7890", "Mawar", "Antrean lama"):
            assert private not in text


async def test_the_figures_recomputed_from_the_exported_register_equal_the_stations(
    rig: Office,
) -> None:
    bad = await rig.call("camat", "GET", "/figures", params={"period": "2025-Q5"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    (detail,) = bad.json()["details"]
    assert (detail["field"], detail["code"]) == ("query.period", "period_unparsable")
    assert "triwulan" in detail["problem"]
    refused = await rig.call("siti", "GET", "/figures", params={"period": QUARTER})
    assert refused.status_code == 403
    station = await rig.ok("camat", "GET", "/figures", params={"period": QUARTER})
    survey = station["survey"]
    assert survey["served"] == 1
    assert survey["keypad"]["presses"] == 1
    assert survey["respondents"] == 1
    assert survey["ikm"] == {"shown": "80.56", "exact": "725/9"}  # (7 x 3 + 2 x 4) / 9 x 25
    assert station["complaints"]["received"] == 4
    exported = io.StringIO()
    export_jsonl(rig.station.register.events(), exported)
    assert "Sri Wahyuni" not in exported.getvalue()
    assert "0812 3456 7890" not in exported.getvalue()
    events = read_jsonl(exported.getvalue().splitlines())
    recomputed = figures_document(figures(events, Period.parse(QUARTER), rig.config.zone))
    assert recomputed == station
