"""The waiting room's queue: tickets numbered per service and per day, called to a
counter, called again, or marked as not answered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

from appliance._text import Text
from appliance.domain import EventType, Role, ServiceType, TicketState
from appliance.register import TicketRow

from ._core import PipelineCore
from ._deadlines import Deadlines
from ._errors import NotFound, WrongState
from ._forms import Officer
from ._views import QueueFigures, QueueView, TicketView
from ._work import StepWork

TICKET_LETTERS: Final[Mapping[ServiceType, str]] = {
    ServiceType.BARU: "A",
    ServiceType.PINDAH_DATANG: "B",
    ServiceType.HILANG: "C",
    ServiceType.RUSAK: "D",
    ServiceType.PERUBAHAN_DATA: "E",
}


class QueueDesk:
    def __init__(self, *, core: PipelineCore, deadlines: Deadlines, work: StepWork) -> None:
        self._core = core
        self._deadlines = deadlines
        self._work = work

    async def issue_ticket(self, officer: Officer, service: ServiceType) -> TicketView:
        """A ticket recorded, then printed: a failed print leaves a ticket the counter can
        still call by its number (`printed` is false)."""
        del officer  # any logged-in officer (the counter's kiosk) hands out tickets
        core = self._core
        core.ensure_room()
        day = core.today()
        number = core.register.tickets_issued(day, service) + 1
        ticket = f"{TICKET_LETTERS[service]}-{number:03d}"
        core.append(
            EventType.QUEUE_TICKET_ISSUED,
            {"day": day, "ticket": ticket, "service": service, "number": number},
        )
        view = self.ticket(ticket)
        printed = await self._work.print_ticket(
            number=ticket, service=service, issued_at=core.now()
        )
        return view.model_copy(update={"printed": printed})

    def call_next(
        self, officer: Officer, *, counter: str, service: ServiceType | None = None
    ) -> TicketView:
        core = self._core
        core.require(officer, Role.COUNTER_OFFICER)
        core.require_counter(counter)
        day = core.today()
        row = core.register.next_waiting_ticket(day, service)
        if row is None:
            raise NotFound(
                "queue_empty",
                Text("Tidak ada nomor antrian yang menunggu.", "No ticket is waiting."),
            )
        waited = core.elapsed_s(core.register.event(row.issued_seq))
        event = core.append(
            EventType.QUEUE_CALLED,
            {
                "day": day,
                "ticket": row.ticket,
                "counter": counter,
                "waited_ms": round(waited * 1000),
                "by": officer.actor(Role.COUNTER_OFFICER),
            },
        )
        self._deadlines.watch_no_show(day, row.ticket, event)
        return self.ticket(row.ticket)

    def recall(self, officer: Officer, ticket: str, *, counter: str) -> TicketView:
        core = self._core
        core.require(officer, Role.COUNTER_OFFICER)
        core.require_counter(counter)
        view = self.ticket(ticket)
        if view.state not in (TicketState.CALLED, TicketState.NO_SHOW):
            raise WrongState(
                "ticket_not_called",
                Text(
                    f"Nomor {ticket} belum dipanggil atau sudah dilayani.",
                    f"Ticket {ticket} has not been called, or was served already.",
                ),
            )
        event = core.append(
            EventType.QUEUE_RECALLED,
            {
                "day": view.day,
                "ticket": ticket,
                "counter": counter,
                "by": officer.actor(Role.COUNTER_OFFICER),
            },
        )
        self._deadlines.watch_no_show(view.day, ticket, event)
        return self.ticket(ticket)

    def mark_no_show(self, officer: Officer | None, ticket: str) -> TicketView:
        core = self._core
        if officer is not None:
            core.require(officer, Role.COUNTER_OFFICER)
        view = self.ticket(ticket)
        if view.state is not TicketState.CALLED:
            raise WrongState(
                "ticket_not_called",
                Text(f"Nomor {ticket} tidak sedang dipanggil.", f"Ticket {ticket} is not called."),
            )
        by = officer.actor(Role.COUNTER_OFFICER) if officer else None
        core.append(EventType.QUEUE_NO_SHOW, {"day": view.day, "ticket": ticket, "by": by})
        return self.ticket(ticket)

    def ticket(self, ticket: str, *, day: date | None = None) -> TicketView:
        row = self._core.register.ticket(day or self._core.today(), ticket)
        if row is None:
            raise NotFound(
                "unknown_ticket",
                Text(
                    f"Nomor antrian {ticket} tidak ada hari ini.",
                    f"There is no ticket {ticket} today.",
                ),
            )
        return self._view(row)

    def queue(self) -> QueueView:
        day = self._core.today()
        tickets = tuple(self._view(row) for row in self._core.register.tickets(day))
        waits = [t.waited_s for t in tickets]
        states = [t.state for t in tickets]
        figures = QueueFigures(
            waiting=states.count(TicketState.WAITING),
            called=states.count(TicketState.CALLED),
            served=states.count(TicketState.SERVED),
            no_show=states.count(TicketState.NO_SHOW),
            mean_wait_s=sum(waits) / len(waits) if waits else 0.0,
            max_wait_s=max(waits, default=0.0),
        )
        return QueueView(day=day, tickets=tickets, figures=figures)

    def _view(self, row: TicketRow) -> TicketView:
        register = self._core.register
        if row.called_seq is None:
            waited = self._core.elapsed_s(register.event(row.issued_seq))
        else:
            called = register.event(row.called_seq)
            waited = (called.data.get("waited_ms") or 0) / 1000 if called else 0.0
        return TicketView(
            day=row.day,
            ticket=row.ticket,
            service=row.service,
            number=row.number,
            state=row.state,
            counter=row.counter,
            calls=row.calls,
            application=row.application_id,
            waited_s=waited,
        )
