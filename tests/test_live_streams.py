"""The live streams, per audience: officers get what their views show (NIKs masked, no
Family Card number, no biodata), the waiting room's public stream the queue only, with
nothing about a person. Checked on the projections themselves, and on every payload of a
simulated day streamed from a running daemon."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from appliance.api._projection import OFFICER_DATA, PUBLIC_STATE, for_officers, for_the_public
from appliance.domain import ServiceType, mask_nik
from appliance.register import CATALOGUE, Event, EventType, read_events
from sim.day import DayPlan, DurationModel, plan_day
from sim.day_run import STAFF, office_run
from sim.pcscd import PrivatePcscd

from .office_rig import form

TODAY = date.today()  # noqa: DTZ011 - the plan's rules need a calendar day, any one
SIXTEEN_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{16}(?![0-9A-Za-z])")
"""A NIK or KK on its own; not 16 digits that happen to lie inside a hex digest."""


def _event(kind: EventType, data: dict[str, Any], *, seq: int = 7, app: str | None = None) -> Event:
    return Event(
        station="lumajang-test",
        seq=seq,
        ts="2026-05-04T08:00:00.000+07:00",
        mono_ns=1,
        boot_id="boot",
        clock_synced=True,
        type=kind,
        app=app,
        data_json=json.dumps(data),
        prev_hash="0" * 64,
        hash="1" * 64,
        sig="2" * 128,
    )


def _submitted() -> tuple[dict[str, Any], Event]:
    data = form("A-001", serial=5)
    data |= {"ticket_day": "2026-05-04", "by": {"role": "petugas_loket", "person": "siti"}}
    return data, _event(EventType.APPLICATION_SUBMITTED, data, app="20260504-0001")


def test_every_event_type_has_a_projection_for_the_officers() -> None:
    assert set(OFFICER_DATA) == set(CATALOGUE)
    assert set(PUBLIC_STATE) == {
        EventType.QUEUE_TICKET_ISSUED,
        EventType.QUEUE_CALLED,
        EventType.QUEUE_RECALLED,
        EventType.QUEUE_NO_SHOW,
    }


def test_officers_see_a_submission_as_the_views_show_it() -> None:
    data, event = _submitted()
    seen = for_officers(event)
    assert seen["data"] == {
        "nik": mask_nik(data["nik"]),
        "service": data["service"],
        "name": "Ahmad Fauzi",
        "ticket": "A-001",
        "ticket_day": "2026-05-04",
        "documents": data["documents"],
        "by": {"role": "petugas_loket", "person": "siti"},
    }
    text = json.dumps(seen)
    assert not SIXTEEN_DIGITS.search(text)
    for private in ("Kyai Ilyas", "Lumajang", "ISLAM", "Petani", "1990-05-17"):
        assert private not in text


def test_the_public_sees_queue_events_only_and_nothing_of_a_person() -> None:
    _, submitted = _submitted()
    assert for_the_public(submitted) is None
    assert for_the_public(_event(EventType.STEP_STARTED, {"step": "check"}, app="x")) is None
    called = _event(
        EventType.QUEUE_CALLED,
        {
            "day": "2026-05-04",
            "ticket": "A-001",
            "counter": "loket-1",
            "waited_ms": 5,
            "by": {"role": "petugas_loket", "person": "siti"},
        },
        seq=9,
    )
    assert for_the_public(called) == {
        "seq": 9,
        "type": "queue.called",
        "day": "2026-05-04",
        "ticket": "A-001",
        "counter": "loket-1",
        "state": "called",
    }
    issued = _event(
        EventType.QUEUE_TICKET_ISSUED,
        {"day": "2026-05-04", "ticket": "B-002", "service": "hilang", "number": 2},
    )
    assert for_the_public(issued) == {
        "seq": 7,
        "type": "queue.ticket_issued",
        "day": "2026-05-04",
        "ticket": "B-002",
        "service": "hilang",
        "state": "waiting",
    }


def test_an_event_type_this_software_does_not_know_is_sent_without_its_data() -> None:
    unknown = dataclasses.replace(
        _event(EventType.QUEUE_CALLED, {"nik": "3508011705900001"}), type="person.moved"
    )
    assert for_officers(unknown) == {
        "seq": 7,
        "type": "person.moved",
        "app": None,
        "ts": unknown.ts,
    }
    assert for_the_public(unknown) is None


# ================================================================ a simulated day


class Listener:
    """One live stream read to its end, every payload kept as sent."""

    def __init__(self, http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> None:
        self._http = http
        self._path = path
        self._headers = headers
        self.raw: list[str] = []
        self.last_seq = 0
        self.connected = asyncio.Event()
        self._progress = asyncio.Event()

    async def run(self) -> None:
        async with self._http.stream(
            "GET", self._path, headers=self._headers, timeout=None
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("data:"):
                    self.raw.append(line.removeprefix("data:").strip())
                    self.last_seq = json.loads(self.raw[-1])["seq"]
                    self._progress.set()

    async def until(self, seq: int) -> None:
        while self.last_seq < seq:
            self._progress.clear()
            await self._progress.wait()

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.raw]


def _instant_day(*, seed: int) -> DayPlan:
    """Five applicants at once, instant devices, blank cards for all."""
    return plan_day(
        applicants=5,
        seed=seed,
        today=TODAY,
        arrivals_over_s=0.0,
        model=DurationModel.without_people(),
        blank_ratio=1.0,
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(240)
async def test_a_simulated_days_public_stream_carries_no_nik_name_or_address(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = _instant_day(seed=3)
    async with (
        office_run(tmp_path / "office", plan, speed=None, pcscd=pcscd) as run,
        httpx.AsyncClient(base_url=run.api_url, timeout=30) as http,
        contextlib.AsyncExitStack() as streams,
    ):
        login = await http.post(
            "/api/v1/session", json={"person": STAFF.counter, "secret": STAFF.secret}
        )
        assert login.status_code == 201, login.text
        counter_officer = {"Authorization": f"Bearer {login.json()['token']}"}
        public = Listener(http, "/api/v1/public/events", {})
        officer = Listener(http, "/api/v1/events", counter_officer)
        tasks = asyncio.TaskGroup()
        await streams.enter_async_context(tasks)
        for listener in (public, officer):
            reading = tasks.create_task(listener.run())
            streams.callback(reading.cancel)
        async with asyncio.timeout(30):
            await public.connected.wait()
            await officer.connected.wait()
        before = max(event.seq for event in read_events(run.config.register_path))

        await run.play(plan)

        events = [e for e in read_events(run.config.register_path) if e.seq > before]
        queue_seqs = [event.seq for event in events if event.type in PUBLIC_STATE]
        async with asyncio.timeout(60):
            await public.until(queue_seqs[-1])
            await officer.until(events[-1].seq)

    submitted = [event for event in events if event.type == EventType.APPLICATION_SUBMITTED]
    assert len(submitted) >= 3, "the day should have had applications"
    personal = {
        value
        for event in submitted
        for value in (
            event.data["nik"],
            event.data["kk"],
            event.data["name"],
            event.data["biodata"]["address"],
            event.data["biodata"]["birth_place"],
        )
    }

    # The public stream: every queue event of the day, nothing else, nothing personal.
    assert [p["seq"] for p in public.payloads] == queue_seqs
    assert {p["type"] for p in public.payloads} <= {str(kind) for kind in PUBLIC_STATE}
    for raw in public.raw:
        assert not SIXTEEN_DIGITS.search(raw), raw
        assert not [value for value in personal if value in raw], raw
        assert '"app"' not in raw, raw
        assert '"by"' not in raw, raw

    # The counter officer's stream: every event, the submissions with masked NIKs.
    assert [p["seq"] for p in officer.payloads] == [event.seq for event in events]
    by_seq = {p["seq"]: p for p in officer.payloads}
    for event in submitted:
        shown = by_seq[event.seq]["data"]
        assert shown["nik"] == mask_nik(event.data["nik"])
        assert shown["name"] == event.data["name"]
        assert "kk" not in shown
        assert "biodata" not in shown
    for raw in officer.raw:
        assert not SIXTEEN_DIGITS.search(raw), raw
        for event in submitted:
            assert event.data["biodata"]["address"] not in raw
            assert event.data["kk"] not in raw


class PublicScreens:
    """The board and the kiosk as the waiting room sees them through a day: every page
    and fragment fetched again on each event of the public feed, every answer kept."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.answers: list[str] = []
        self.connected = asyncio.Event()
        self._pages = (
            "/board",
            "/board/papan",
            "/kiosk",
            *(f"/kiosk/layanan/{service.value}" for service in ServiceType),
        )

    async def fetch_all(self) -> None:
        for path in self._pages:
            answer = await self._http.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            self.answers.append(answer.text)

    async def run(self) -> None:
        async with self._http.stream("GET", "/langsung/umum", timeout=None) as feed:
            async for line in feed.aiter_lines():
                self.answers.append(line)
                if line.startswith("event: connected"):
                    await self.fetch_all()
                    self.connected.set()
                elif line.startswith("event:"):
                    await self.fetch_all()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(240)
async def test_a_simulated_days_board_and_kiosk_show_no_nik_name_or_address(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = _instant_day(seed=4)
    async with (
        office_run(tmp_path / "office", plan, speed=None, pcscd=pcscd) as run,
        httpx.AsyncClient(base_url=run.api_url, timeout=30) as http,
        asyncio.TaskGroup() as tasks,
    ):
        screens = PublicScreens(http)
        watching = tasks.create_task(screens.run())
        async with asyncio.timeout(30):
            await screens.connected.wait()
        await run.play(plan)
        fetched = len(screens.answers)
        await screens.fetch_all()  # the day's end, as the room sees it
        watching.cancel()
        events = list(read_events(run.config.register_path))

    submitted = [event for event in events if event.type == EventType.APPLICATION_SUBMITTED]
    assert len(submitted) >= 3, "the day should have had applications"
    calls = sum(event.type == EventType.QUEUE_CALLED for event in events)
    assert fetched > calls * 2, "the screens were fetched through the day"
    personal = {
        value
        for event in submitted
        for value in (
            event.data["nik"],
            event.data["kk"],
            event.data["name"],
            event.data["biodata"]["address"],
        )
    }
    apps = {str(event.app) for event in submitted}
    for answer in screens.answers:
        assert not SIXTEEN_DIGITS.search(answer), answer[:200]
        assert not [value for value in personal if value in answer]
        assert not [app for app in apps if app in answer]
