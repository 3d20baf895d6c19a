"""The waiting room's queue: tickets numbered per service and per day, called to a
counter, called again, or marked as not answered.

A ticket comes two ways. An officer hands one out: it is recorded, then printed, and a
failed print still leaves a number the officer can tell the citizen. A citizen takes one
at the kiosk, where nobody could tell them a number the printer did not print: it is
printed first and recorded only once printed, so a failed print uses no number. One
lock runs from choosing a number to recording it, so the two ways never choose the same
one, and the printer prints one ticket at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from typing import Final

from appliance._text import Text
from appliance.domain import TICKET_TRANSITIONS, Agent, EventType, Role, ServiceType, TicketState
from appliance.logs import get_logger
from appliance.register import TicketRow

from ._core import PipelineCore
from ._deadlines import Deadlines
from ._errors import Forbidden, NotFound, Unavailable, WrongState
from ._forms import Officer
from ._views import CallView, QueueFigures, QueueView, TicketView
from ._work import StepWork

log = get_logger(__name__)

TICKET_LETTERS: Final[Mapping[ServiceType, str]] = {
    ServiceType.BARU: "A",
    ServiceType.PINDAH_DATANG: "B",
    ServiceType.HILANG: "C",
    ServiceType.RUSAK: "D",
    ServiceType.PERUBAHAN_DATA: "E",
}


TICKET_NOT_PRINTED: Final = Text(
    "Printer tiket sedang bermasalah, jadi nomor antrean tidak dapat dicetak. "
    "Silakan ambil nomor antrean di meja informasi.",
    "The ticket printer has a problem, so no queue number could be printed. "
    "Please get a queue number at the information desk.",
)

# The officers (any role) hand tickets out, as the workflow's table says.
_ANY_OFFICER_ROLES: Final = (Role.COUNTER_OFFICER, Role.SECTION_HEAD, Role.OPERATOR)


_CALLS: Final = (EventType.QUEUE_CALLED, EventType.QUEUE_RECALLED)


class QueueDesk:
    def __init__(self, *, core: PipelineCore, deadlines: Deadlines, work: StepWork) -> None:
        self._core = core
        self._deadlines = deadlines
        self._work = work
        self._numbering = asyncio.Lock()

    async def issue_ticket(self, officer: Officer, service: ServiceType) -> TicketView:
        """An officer's ticket: recorded, then printed. A failed print leaves a ticket the
        counter can still call by its number (`printed` is false): the officer tells the
        citizen the number."""
        _require_issuer(Agent.ANY_OFFICER)
        role = next((role for role in _ANY_OFFICER_ROLES if role in officer.roles), None)
        if role is None:
            raise Forbidden(
                "not_an_officer",
                Text("Nomor antrean diberikan oleh petugas.", "Officers hand tickets out."),
            )
        core = self._core
        async with self._numbering:
            core.ensure_room()
            day, number, ticket = self._next(service)
            core.append(
                EventType.QUEUE_TICKET_ISSUED,
                {
                    "day": day,
                    "ticket": ticket,
                    "service": service,
                    "number": number,
                    "by": officer.actor(role),
                },
            )
            view = self.ticket(ticket)
            printed = await self._work.print_ticket(
                number=ticket, service=service, issued_at=core.now()
            )
        return view.model_copy(update={"printed": printed})

    async def issue_printed_ticket(self, service: ServiceType) -> TicketView:
        """The kiosk's ticket: printed with the next number, then recorded. When the
        printer cannot print it (out of paper, offline, gone), nothing is recorded, the
        number stays for the next ticket, and Unavailable (`ticket_not_printed`) says so.

        The one moment this cannot cover is the station stopping between the print and
        the record (a few milliseconds): that number is then printed again for the next
        citizen. Recording first would instead leave a number nobody holds after every
        failed print, which an empty roll makes the common case."""
        _require_issuer(Agent.KIOSK)
        core = self._core
        async with self._numbering:
            core.ensure_room()
            day, number, ticket = self._next(service)
            printed = await self._work.print_ticket(
                number=ticket, service=service, issued_at=core.now()
            )
            if not printed:
                raise Unavailable("ticket_not_printed", TICKET_NOT_PRINTED)
            try:
                core.append(
                    EventType.QUEUE_TICKET_ISSUED,
                    {
                        "day": day,
                        "ticket": ticket,
                        "service": service,
                        "number": number,
                        "kiosk": True,
                    },
                )
            except (Unavailable, WrongState):
                log.exception("printed_ticket_not_recorded", ticket=ticket, day=day.isoformat())
                raise
        return self.ticket(ticket, day=day)

    def ticket_printer_ready(self) -> bool:
        """Whether the ticket printer can take a ticket now, as far as the station knows
        (printing checks it again): the kiosk says so before a citizen chooses."""
        return self._work.ticket_printer_ready()

    def _next(self, service: ServiceType) -> tuple[date, int, str]:
        """Today, and the next number of `service`'s series (held with `_numbering`)."""
        day = self._core.today()
        number = self._core.register.tickets_issued(day, service) + 1
        return day, number, f"{TICKET_LETTERS[service]}-{number:03d}"

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

    def calls(self, limit: int) -> tuple[CallView, ...]:
        """Today's latest `limit` calls and calls again, the newest first."""
        register = self._core.register
        day = self._core.today()
        first = register.first_ticket_seq(day)
        if first is None or limit <= 0:
            return ()
        made = [
            CallView(
                number=0,
                ticket=data["ticket"],
                counter=data["counter"],
                recall=kind is EventType.QUEUE_RECALLED,
            )
            for kind, data in register.event_data_since(first, _CALLS)
            if data["day"] == day.isoformat()  # not a late recall of yesterday's ticket
        ]
        numbered = [
            call.model_copy(update={"number": number}) for number, call in enumerate(made, 1)
        ]
        return tuple(reversed(numbered[-limit:]))

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


def _require_issuer(agent: Agent) -> None:
    if agent not in TICKET_TRANSITIONS[EventType.QUEUE_TICKET_ISSUED].by:
        raise Forbidden(
            "not_an_issuer",
            Text("Nomor antrean tidak dapat diambil di sini.", "Tickets are not taken here."),
        )
