"""The queue desk's two ways of issuing a ticket, on a real register and a printer that
can be made to fail: the kiosk's is recorded only once printed, and its number is not
used by a print that failed; the officer's is recorded first, as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from appliance.clock import ManualTimekeeper
from appliance.domain import EventType, Role, ServiceType, WorkingCalendar, step_budgets
from appliance.liveness import Liveness
from appliance.pipeline import (
    DeviceSteps,
    Officer,
    PipelineSection,
    StepWork,
    Unavailable,
)
from appliance.pipeline._core import PipelineCore
from appliance.pipeline._deadlines import Deadlines
from appliance.pipeline._queue import QueueDesk
from appliance.register import Register, StationKey

SITI = Officer(person="siti", roles=frozenset({Role.COUNTER_OFFICER}))


@dataclass
class Printer:
    """The part of StepWork the queue uses: prints, or fails as a printer out of paper."""

    working: bool = True
    printed: list[str] = field(default_factory=list)
    release: asyncio.Event | None = None
    """When set, each print waits for it: a print still going while another comes."""
    printing: asyncio.Event = field(default_factory=asyncio.Event)

    async def print_ticket(self, *, number: str, service: ServiceType, issued_at: datetime) -> bool:
        del service, issued_at
        self.printing.set()
        if self.release is not None:
            await self.release.wait()
        if self.working:
            self.printed.append(number)
        return self.working

    def ticket_printer_ready(self) -> bool:
        return self.working


@pytest.fixture
def timekeeper() -> ManualTimekeeper:
    return ManualTimekeeper()


@pytest.fixture
def book(
    tmp_path: Path, station_key: StationKey, timekeeper: ManualTimekeeper
) -> Iterator[Register]:
    with Register.open(
        tmp_path / "register.sqlite3", station_id="lumajang-01", key=station_key, clock=timekeeper
    ) as register:
        yield register


@pytest.fixture
def printer() -> Printer:
    return Printer()


@pytest.fixture
def desk(book: Register, timekeeper: ManualTimekeeper, printer: Printer) -> QueueDesk:
    settings = PipelineSection()
    zone = ZoneInfo("Asia/Jakarta")
    work = cast(StepWork, printer)
    core = PipelineCore(
        register=book,
        clock=timekeeper,
        settings=settings,
        budgets=step_budgets(),
        zone=zone,
        devices={},
        device_steps=DeviceSteps(biometric=(), encode_print=(), activate=(), handover=()),
        work=work,
        liveness=Liveness(),
        disk=None,
        calendar=WorkingCalendar(
            working_days=settings.working_days,
            opening=settings.opening,
            closing=settings.closing,
            holidays=settings.holidays,
            zone=zone,
        ),
    )
    return QueueDesk(core=core, deadlines=Deadlines(core=core), work=work)


def _issued(book: Register) -> list[dict[str, object]]:
    return [e.data for e in book.events() if e.type == EventType.QUEUE_TICKET_ISSUED]


async def test_a_kiosk_ticket_is_recorded_as_the_kiosks_once_printed(
    desk: QueueDesk, book: Register, printer: Printer
) -> None:
    view = await desk.issue_printed_ticket(ServiceType.HILANG)
    assert (view.ticket, view.number, view.printed) == ("C-001", 1, True)
    assert printer.printed == ["C-001"]
    (recorded,) = _issued(book)
    assert recorded["kiosk"] is True
    assert recorded["by"] is None


async def test_a_failed_print_at_the_kiosk_records_nothing_and_keeps_the_number(
    desk: QueueDesk, book: Register, printer: Printer
) -> None:
    await desk.issue_printed_ticket(ServiceType.BARU)
    printer.working = False
    head = book.head()
    with pytest.raises(Unavailable) as refused:
        await desk.issue_printed_ticket(ServiceType.BARU)
    assert refused.value.code == "ticket_not_printed"
    assert "meja informasi" in refused.value.text.id
    assert book.head() == head
    assert not desk.ticket_printer_ready()
    printer.working = True
    view = await desk.issue_printed_ticket(ServiceType.BARU)
    assert view.ticket == "A-002"
    assert printer.printed == ["A-001", "A-002"]


async def test_an_officers_ticket_is_recorded_with_the_officer_even_when_not_printed(
    desk: QueueDesk, book: Register, printer: Printer
) -> None:
    printer.working = False
    view = await desk.issue_ticket(SITI, ServiceType.BARU)
    assert (view.ticket, view.printed) == ("A-001", False)
    (recorded,) = _issued(book)
    assert recorded["by"] == {"role": "petugas_loket", "person": "siti"}
    assert recorded["kiosk"] is False


async def test_a_ticket_asked_for_while_the_kiosks_prints_gets_the_next_number(
    desk: QueueDesk, book: Register, printer: Printer
) -> None:
    printer.release = asyncio.Event()
    at_kiosk = asyncio.create_task(desk.issue_printed_ticket(ServiceType.BARU))
    at_desk = asyncio.create_task(desk.issue_ticket(SITI, ServiceType.BARU))
    await printer.printing.wait()  # the kiosk's holds its number, not yet recorded
    assert _issued(book) == []
    printer.release.set()
    assert (await at_kiosk).ticket == "A-001"
    assert (await at_desk).ticket == "A-002"
    assert [data["ticket"] for data in _issued(book)] == ["A-001", "A-002"]
    assert printer.printed == ["A-001", "A-002"]
