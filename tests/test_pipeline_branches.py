"""The SOP's unhappy branches, each run through the local API on simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from appliance.clock import ManualTimekeeper
from appliance.domain import Role
from appliance.hal import DeviceState
from sim._base import Fault
from sim.card_printer import CardPrinterSim
from sim.pcscd import PrivatePcscd
from sim.vpcd import VpcdSlot

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
async def rig(
    tmp_path: Path, pcscd: PrivatePcscd, clock: ManualTimekeeper
) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd, clock=clock) as station:
        yield station


async def _to_counter(rig: Office) -> str:
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    view = await rig.ok("siti", "POST", "/applications", json=form(ticket["ticket"]))
    return str(view["id"])


async def _to_biometric(rig: Office) -> str:
    app = await _to_counter(rig)
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    view = await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    assert (view["step"], view["phase"]) == ("biometric", "waiting")
    return app


def _failed_with(code: str) -> Callable[[dict[str, Any]], bool]:
    def failed(view: dict[str, Any]) -> bool:
        failure = view["last_failure"]
        return view["phase"] == "waiting" and failure is not None and failure["code"] == code

    return failed


def _events(rig: Office, app: str | None, kind: str) -> list[Any]:
    return [e for e in rig.station.register.events() if e.type == kind and e.app == app]


async def _log_in_again(rig: Office) -> None:
    for person in rig.tokens:
        response = await rig.http.post("/api/v1/session", json={"person": person, "secret": PIN})
        assert response.status_code == 201, response.text
        rig.tokens[person] = response.json()["token"]


async def _armed(clock: ManualTimekeeper, seconds: float, *, within: float = 0.001) -> None:
    """Wait until a sleep or timeout falls due `seconds` from now (a watcher has started)."""
    async with asyncio.timeout(10):
        while True:
            due = clock.monotonic_ns() + seconds * 1e9
            if any(abs(entry[0] - due) <= within * 1e9 for entry in clock._timers):
                return
            await clock.timers_changed.wait()


@contextlib.asynccontextmanager
async def _live(rig: Office) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """The live events as the section head's screen reads them, from now on."""
    async with rig.http.stream(
        "GET", "/api/v1/events", headers=rig.as_("budi"), timeout=None
    ) as stream:
        lines = stream.aiter_lines()
        async for line in lines:
            if line.startswith(": connected"):
                break

        async def events() -> AsyncIterator[dict[str, Any]]:
            async for line in lines:
                if line.startswith("data:"):
                    yield json.loads(line.removeprefix("data:"))

        yield events()


async def _through(events: AsyncIterator[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The live events up to and including the next one of type `kind`."""
    seen = []
    async with asyncio.timeout(30):
        async for event in events:
            seen.append(event)
            if event["type"] == kind:
                return seen
    raise AssertionError(f"the live events ended before {kind}")


async def test_a_hung_encoder_fails_the_step_at_its_budget_and_the_retry_prints(
    rig: Office, clock: ManualTimekeeper
) -> None:
    await rig.ok("eko", "POST", "/blanks", json={"count": 3, "reference": "BA/2026/010"})
    encoder = rig.sim.devices["card_encoder"]
    printer = rig.sim.devices["card_printer"]
    assert isinstance(encoder, VpcdSlot)
    assert isinstance(printer, CardPrinterSim)
    encoder.inject(Fault.HANG, {"after_writes": 2})
    app = await _to_biometric(rig)
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    async with asyncio.timeout(30):
        await encoder.holding.wait()  # the chip is part-written; the encoder answers no more
    clock.advance(5 * 60 + 1)  # the SOP's five minutes for encoding and printing

    view = await rig.until(app, _failed_with("budget_exceeded"), allow_failure=True)
    assert (view["step"], view["state"]) == ("encode_print", "in_progress")
    assert view["needs_operator"]  # the printer waits for the operator to start again
    assert view["devices"] == []
    assert view["card"]["state"] == "spoiled"
    assert printer.reject_box == [view["card"]["serial"]]
    assert printer.card is None
    stock = await rig.ok("eko", "GET", "/blanks")
    assert (stock["spoiled"], stock["in_process"], stock["available"]) == (1, 0, 2)
    (spoiled,) = _events(rig, app, "blank.spoiled")
    assert spoiled.data["reason"] == "interrupted"

    encoder.clear(Fault.HANG)
    async with asyncio.timeout(30):
        for name in ("card_printer", "card_encoder"):
            await rig.station.supervisor.wait_for(name, DeviceState.READY)
    devices = await rig.ok("eko", "GET", "/devices")
    assert [devices[name]["state"] for name in ("card_printer", "card_encoder")] == ["READY"] * 2
    view = await rig.ok("eko", "POST", f"/applications/{app}/steps/encode_print/start")
    assert (view["phase"], view["needs_operator"]) == ("active", False)
    view = await rig.until(app, lambda v: v["step"] == "activate")
    assert view["card"]["state"] == "printed"
    assert view["card"]["serial"] in printer.ejected
    stock = await rig.ok("eko", "GET", "/blanks")
    assert stock == {"received": 3, "issued": 0, "spoiled": 1, "in_process": 1, "available": 1}


async def test_a_surat_keterangan_print_cut_off_by_the_budget_still_waits_for_a_blank(
    rig: Office, clock: ManualTimekeeper
) -> None:
    # No blank: the encode step records a Surat Keterangan, whose print then hangs past
    # the step's budget. The application was already waiting for a blank, not for the
    # operator: the next blank received prints its card by itself.
    ticket_printer = rig.sim.devices["ticket_printer"]
    app = await _to_biometric(rig)
    rig.present(PERSON)
    ticket_printer.inject(Fault.HANG)
    async with _live(rig) as events:
        await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
        await _through(events, "suket.issued")
        clock.advance(5 * 60 + 1)
        ticket_printer.clear(Fault.HANG)
        await rig.ok("eko", "POST", "/blanks", json={"count": 1, "reference": "BA/2026/013"})
        await _through(events, "card.printed")
    view = await rig.until(app, lambda v: v["step"] == "activate")
    assert (view["state"], view["needs_operator"]) == ("in_progress", False)
    assert view["card"]["state"] == "printed"
    assert not _events(rig, app, "step.failed")


async def test_an_officer_over_budget_is_escalated_once_and_may_still_finish(
    tmp_path: Path, pcscd: PrivatePcscd, clock: ManualTimekeeper
) -> None:
    budget = "[sop.budget_minutes]\ncheck = 3\n"  # instead of the SOP's two minutes
    async with office(tmp_path, pcscd, clock=clock, extra_config=budget) as rig:
        app = await _to_counter(rig)
        async with _live(rig) as events:
            await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
            await _armed(clock, 3 * 60)
            clock.advance(2 * 60 + 1)
            view = await rig.ok("siti", "GET", f"/applications/{app}")
            assert view["breaches"] == 0  # within the configured budget
            clock.advance(60)
            (*_, breach) = await _through(events, "step.breached")
            assert breach["app"] == app
            assert breach["data"]["step"] == "check"
            assert breach["data"]["budget_ms"] == 3 * 60 * 1000
            assert breach["data"]["by"] == {"role": Role.COUNTER_OFFICER.value, "person": "siti"}

            clock.advance(10 * 60)  # much later still: not aborted, not escalated again
            view = await rig.ok("siti", "GET", f"/applications/{app}")
            assert (view["step"], view["phase"], view["active_by"]) == ("check", "active", "siti")
            assert view["breaches"] == 1
            view = await rig.ok(
                "siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]}
            )
            assert (view["step"], view["phase"], view["breaches"]) == ("validate", "waiting", 1)
            later = await _through(events, "step.finished")
        assert [event["type"] for event in later] == ["step.finished"]
        assert len(_events(rig, app, "step.breached")) == 1
        assert not _events(rig, app, "step.failed")


async def test_a_card_jam_spoils_the_blank_and_the_retry_prints_with_stock_adding_up(
    rig: Office,
) -> None:
    await rig.ok("eko", "POST", "/blanks", json={"count": 2, "reference": "BA/2026/011"})
    printer = rig.sim.devices["card_printer"]
    assert isinstance(printer, CardPrinterSim)
    hopper = printer.hopper
    printer.inject(Fault.JAM)  # the next card to move stops in the card path
    app = await _to_biometric(rig)
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")

    view = await rig.until(app, _failed_with("card_spoiled"), allow_failure=True)
    assert (view["step"], view["needs_operator"]) == ("encode_print", True)
    assert view["card"]["state"] == "spoiled"
    (spoiled,) = _events(rig, app, "blank.spoiled")
    assert spoiled.data["reason"] == "jam"
    stock = await rig.ok("eko", "GET", "/blanks")
    assert (stock["spoiled"], stock["in_process"], stock["available"]) == (1, 0, 1)
    devices = await rig.ok("eko", "GET", "/devices")
    assert devices["card_printer"]["code"] == "card_jam"
    refused = await rig.call("eko", "POST", f"/applications/{app}/steps/encode_print/start")
    assert (refused.status_code, refused.json()["code"]) == (503, "device_not_ready")

    printer.clear(Fault.JAM)  # a person opens the cover and frees the card
    assert printer.card is not None  # still in the card path, already counted
    async with asyncio.timeout(30):
        await rig.station.supervisor.wait_for("card_printer", DeviceState.READY)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/encode_print/start")
    view = await rig.until(app, lambda v: v["step"] == "activate")
    assert view["card"]["state"] == "printed"
    assert view["card"]["serial"] in printer.ejected
    assert len(printer.reject_box) == 1  # the jammed card, put away before the next feed
    stock = await rig.ok("eko", "GET", "/blanks")  # one printed, not yet issued: in process
    assert stock == {"received": 2, "issued": 0, "spoiled": 1, "in_process": 1, "available": 0}
    taken = hopper - printer.hopper  # the blanks that physically left the hopper
    assert taken == stock["issued"] + stock["spoiled"] + stock["in_process"] == 2

    await rig.take_card(app)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    await rig.until(app, lambda v: v["step"] == "transfer")
    stock = await rig.ok("eko", "GET", "/blanks")
    assert stock == {"received": 2, "issued": 1, "spoiled": 1, "in_process": 0, "available": 0}
    assert stock["received"] == stock["issued"] + stock["spoiled"] + stock["available"]


async def test_the_wrong_finger_is_refused_at_activation_and_the_right_one_activates(
    rig: Office,
) -> None:
    await rig.ok("eko", "POST", "/blanks", json={"count": 1, "reference": "BA/2026/012"})
    app = await _to_biometric(rig)
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    await rig.until(app, lambda v: v["step"] == "activate")
    await rig.take_card(app)
    rig.present(OTHER_PERSON)  # someone else puts their finger on the scanner

    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    view = await rig.until(app, _failed_with("no_match"), allow_failure=True)
    assert (view["step"], view["state"]) == ("activate", "in_progress")
    assert view["card"]["state"] == "printed"  # not issued, not spoiled: still the card
    attempts = _events(rig, app, "card.activation_attempt")
    assert len(attempts) == 6  # three attempts on each of the chip's two fingers
    assert not any(attempt.data["matched"] for attempt in attempts)
    assert not _events(rig, app, "blank.issued")
    stock = await rig.ok("eko", "GET", "/blanks")
    assert (stock["issued"], stock["in_process"]) == (0, 1)

    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    view = await rig.until(app, lambda v: v["step"] == "transfer")
    assert view["card"]["state"] == "issued"
    assert _events(rig, app, "card.activation_attempt")[-1].data["matched"]
    stock = await rig.ok("eko", "GET", "/blanks")
    assert (stock["issued"], stock["in_process"]) == (1, 0)


async def test_an_unanswered_call_becomes_a_no_show_unless_recalled(
    rig: Office, clock: ManualTimekeeper
) -> None:
    await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    clock.advance(60)
    await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    clock.advance(60)
    called = await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    assert (called["ticket"], called["state"], called["waited_s"]) == ("A-001", "called", 120.0)
    await _armed(clock, 10 * 60)  # the no-show watch of the call
    queue = await rig.ok("siti", "GET", "/queue")
    assert [t["waited_s"] for t in queue["tickets"]] == [120.0, 60.0]
    assert queue["figures"] == {
        "waiting": 1,
        "called": 1,
        "served": 0,
        "no_show": 0,
        "mean_wait_s": 90.0,
        "max_wait_s": 120.0,
    }

    clock.advance(5 * 60)
    recalled = await rig.ok(
        "siti", "POST", "/queue/tickets/A-001/recall", json={"counter": "loket-1"}
    )
    assert (recalled["state"], recalled["calls"]) == ("called", 2)
    await _armed(clock, 10 * 60)  # a new watch, from the recall
    clock.advance(9 * 60)  # fourteen minutes after the first call, nine after the recall
    ticket = await rig.ok("siti", "GET", "/queue")
    assert ticket["tickets"][0]["state"] == "called"
    assert not _events(rig, None, "queue.no_show")

    async with _live(rig) as events:
        clock.advance(60 + 1)
        (*_, no_show) = await _through(events, "queue.no_show")
    assert no_show["data"]["ticket"] == "A-001"
    assert no_show["data"]["by"] is None  # marked by the station, not an officer
    queue = await rig.ok("siti", "GET", "/queue")
    first, second = queue["tickets"]
    assert (first["state"], first["calls"], first["waited_s"]) == ("no_show", 2, 120.0)
    assert (second["state"], second["waited_s"]) == ("waiting", 60.0 + 5 * 60 + 9 * 60 + 61)
    figures = queue["figures"]
    assert (figures["waiting"], figures["called"], figures["no_show"]) == (1, 0, 1)
    assert figures["max_wait_s"] == second["waited_s"]
    assert figures["mean_wait_s"] == (120.0 + second["waited_s"]) / 2
    assert len(_events(rig, None, "queue.no_show")) == 1

    # The applicant turns up after all: called back and served.
    await rig.ok("siti", "POST", "/queue/tickets/A-001/recall", json={"counter": "loket-1"})
    await rig.ok("siti", "POST", "/applications", json=form("A-001"))
    figures = (await rig.ok("siti", "GET", "/queue"))["figures"]
    assert (figures["served"], figures["no_show"], figures["waiting"]) == (1, 0, 1)


async def test_an_application_open_past_one_working_day_is_overdue_once(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    # Monday 24 November 2025, 10:00 in Lumajang; Tuesday is made a holiday.
    monday = datetime(2025, 11, 24, 3, 0, tzinfo=UTC)
    clock = ManualTimekeeper(wall_ns=int(monday.timestamp()) * 1_000_000_000)
    holiday = "[pipeline]\nholidays = [2025-11-25]\n"
    async with office(tmp_path, pcscd, clock=clock, extra_config=holiday) as rig:
        app = await _to_counter(rig)
        await _armed(clock, 48 * 3600, within=1)  # due Wednesday 10:00, a working day on
        clock.advance(48 * 3600 - 60)
        await _log_in_again(rig)  # the sessions went idle meanwhile
        view = await rig.ok("siti", "GET", f"/applications/{app}")
        assert view["overdue"] is False
        assert not _events(rig, app, "application.overdue")

        async with _live(rig) as events:
            clock.advance(61)
            (*_, overdue) = await _through(events, "application.overdue")
        assert overdue["app"] == app
        assert overdue["data"]["due"] == "2025-11-26T10:00+07:00"
        view = await rig.ok("siti", "GET", f"/applications/{app}")
        assert (view["overdue"], view["state"], view["step"]) == (True, "in_progress", "check")
        listed = await rig.ok("siti", "GET", "/applications", params={"state": "in_progress"})
        assert [(a["id"], a["overdue"]) for a in listed] == [(app, True)]

        clock.advance(24 * 3600)  # a day later still: no second event
        await _log_in_again(rig)
        await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
        assert len(_events(rig, app, "application.overdue")) == 1
