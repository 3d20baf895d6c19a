"""Typed reads of the derived state: applications, tickets and cards as row objects whose
states are the workflow's enums, for the pipeline, the API, telemetry and the status.

These are the only SQL reads of the derived tables outside the register's own checks; a
caller asks a question by name and gets rows, never a cursor.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from appliance.domain import (
    OPEN_STATES,
    ApplicationState,
    CardState,
    EventType,
    Phase,
    ServiceType,
    Step,
    TicketState,
)

from ._schema import sql_values

_OPEN = sql_values(OPEN_STATES)


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    """Where one application stands. `phase_seq`: the event that began the current step's
    phase; `submitted_seq`, `updated_seq`: its first and latest events."""

    id: str
    service: ServiceType
    nik: str
    name: str
    ticket: str | None
    ticket_day: date | None
    step: Step
    phase: Phase
    state: ApplicationState
    active_by: str | None
    active_devices: tuple[str, ...]
    phase_seq: int
    breaches: int
    overdue: bool
    return_reason: str | None
    submitted_seq: int
    updated_seq: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ApplicationRow:
        (app, service, nik, name, ticket, day, step, phase, state, by, devices, *rest) = row
        phase_seq, breaches, overdue, reason, submitted_seq, updated_seq = rest
        return cls(
            id=app,
            service=ServiceType(service),
            nik=nik,
            name=name,
            ticket=ticket,
            ticket_day=date.fromisoformat(day) if day else None,
            step=Step(step),
            phase=Phase(phase),
            state=ApplicationState(state),
            active_by=by,
            active_devices=tuple(json.loads(devices)),
            phase_seq=phase_seq,
            breaches=breaches,
            overdue=bool(overdue),
            return_reason=reason,
            submitted_seq=submitted_seq,
            updated_seq=updated_seq,
        )


@dataclass(frozen=True, slots=True)
class TicketRow:
    day: date
    ticket: str
    service: ServiceType
    number: int
    state: TicketState
    counter: str | None
    calls: int
    application_id: str | None
    issued_seq: int
    called_seq: int | None
    """The first call, which ends the wait."""
    updated_seq: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> TicketRow:
        day, ticket, service, number, state, counter, calls, app, issued, called, updated = row
        return cls(
            day=date.fromisoformat(day),
            ticket=ticket,
            service=ServiceType(service),
            number=number,
            state=TicketState(state),
            counter=counter,
            calls=calls,
            application_id=app,
            issued_seq=issued,
            called_seq=called,
            updated_seq=updated,
        )


@dataclass(frozen=True, slots=True)
class CardRow:
    fed_seq: int
    application_id: str
    printer: str
    card_serial: str | None
    state: CardState
    spoil_reason: str | None
    updated_seq: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> CardRow:
        fed_seq, app, printer, serial, state, reason, updated = row
        return cls(fed_seq, app, printer, serial, CardState(state), reason, updated)


class RegisterReads(ABC):
    """The register's typed questions; `_rows` runs one read under the register's lock."""

    @abstractmethod
    def _rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]: ...

    # ------------------------------------------------------------ applications

    def application(self, application_id: str) -> ApplicationRow | None:
        """The derived state of one application, or None if it was never submitted."""
        rows = self._rows("SELECT * FROM applications WHERE application_id = ?", application_id)
        return ApplicationRow.from_row(rows[0]) if rows else None

    def applications(
        self,
        *,
        state: ApplicationState | None = None,
        step: Step | None = None,
        limit: int = 200,
    ) -> list[ApplicationRow]:
        """The newest first."""
        rows = self._rows(
            "SELECT * FROM applications WHERE (? IS NULL OR state = ?) "
            "AND (? IS NULL OR step = ?) ORDER BY submitted_seq DESC LIMIT ?",
            state,
            state,
            step,
            step,
            limit,
        )
        return [ApplicationRow.from_row(row) for row in rows]

    def open_applications(self) -> list[ApplicationRow]:
        """Those the station still works on, the oldest first."""
        rows = self._rows(
            f"SELECT * FROM applications WHERE state IN {_OPEN} ORDER BY submitted_seq"  # noqa: S608 - enum literals
        )
        return [ApplicationRow.from_row(row) for row in rows]

    def waiting_to_print(self) -> list[ApplicationRow]:
        """Open applications waiting at the encode and print step, in the order they came."""
        rows = self._rows(
            f"SELECT * FROM applications WHERE step = ? AND phase = ? AND state IN {_OPEN} "  # noqa: S608 - enum literals
            "ORDER BY updated_seq",
            Step.ENCODE_PRINT,
            Phase.WAITING,
        )
        return [ApplicationRow.from_row(row) for row in rows]

    def applications_submitted_on(self, day: date) -> int:
        """How many applications were numbered on `day` (their ids begin with the day)."""
        rows = self._rows(
            "SELECT count(*) FROM applications WHERE application_id LIKE ?", f"{day:%Y%m%d}-%"
        )
        return int(rows[0][0])

    def applications_of(self, nik: str) -> list[ApplicationRow]:
        """Every application for one person, the newest first."""
        rows = self._rows(
            "SELECT * FROM applications WHERE nik = ? ORDER BY submitted_seq DESC", nik
        )
        return [ApplicationRow.from_row(row) for row in rows]

    def open_by_stage(self) -> dict[str, int]:
        """Open applications counted by their step, or by their state when they wait for
        a blank card."""
        rows = self._rows(
            "SELECT CASE WHEN state = ? THEN step ELSE state END AS stage, count(*) "  # noqa: S608 - enum literals
            f"FROM applications WHERE state IN {_OPEN} GROUP BY stage",
            ApplicationState.IN_PROGRESS,
        )
        return {str(stage): int(count) for stage, count in rows}

    # ------------------------------------------------------------ queue

    def ticket(self, day: date, ticket: str) -> TicketRow | None:
        rows = self._rows(
            "SELECT * FROM queue WHERE day = ? AND ticket = ?", day.isoformat(), ticket
        )
        return TicketRow.from_row(rows[0]) if rows else None

    def tickets(self, day: date) -> list[TicketRow]:
        """The day's tickets in the order they were issued."""
        rows = self._rows("SELECT * FROM queue WHERE day = ? ORDER BY issued_seq", day.isoformat())
        return [TicketRow.from_row(row) for row in rows]

    def next_waiting_ticket(self, day: date, service: ServiceType | None) -> TicketRow | None:
        rows = self._rows(
            "SELECT * FROM queue WHERE day = ? AND state = ? AND (? IS NULL OR service = ?) "
            "ORDER BY issued_seq LIMIT 1",
            day.isoformat(),
            TicketState.WAITING,
            service,
            service,
        )
        return TicketRow.from_row(rows[0]) if rows else None

    def tickets_issued(self, day: date, service: ServiceType) -> int:
        rows = self._rows(
            "SELECT count(*) FROM queue WHERE day = ? AND service = ?", day.isoformat(), service
        )
        return int(rows[0][0])

    def called_tickets(self) -> list[TicketRow]:
        """Tickets called to a counter and not yet answered, whatever their day."""
        rows = self._rows("SELECT * FROM queue WHERE state = ?", TicketState.CALLED)
        return [TicketRow.from_row(row) for row in rows]

    # ------------------------------------------------------------ cards and events

    def latest_card(self, application_id: str) -> CardRow | None:
        """The application's last card fed, whatever became of it."""
        rows = self._rows(
            "SELECT * FROM cards WHERE application_id = ? ORDER BY fed_seq DESC LIMIT 1",
            application_id,
        )
        return CardRow.from_row(rows[0]) if rows else None

    def event_data_since(
        self, first_seq: int, types: Sequence[EventType]
    ) -> list[tuple[EventType, dict[str, Any]]]:
        """The type and data of the events of `types` from `first_seq` on, in order."""
        marks = ", ".join("?" for _ in types)
        rows = self._rows(
            f"SELECT type, data FROM events WHERE seq >= ? AND type IN ({marks}) ORDER BY seq",  # noqa: S608 - placeholders
            first_seq,
            *types,
        )
        return [(EventType(kind), json.loads(data)) for kind, data in rows]

    def application_events(
        self, application_id: str, types: Sequence[EventType]
    ) -> list[tuple[EventType, dict[str, Any]]]:
        """The type and data of one application's events of `types`, in order (through
        the events' index by application)."""
        marks = ", ".join("?" for _ in types)
        rows = self._rows(
            f"SELECT type, data FROM events WHERE app = ? AND type IN ({marks}) ORDER BY seq",  # noqa: S608 - placeholders
            application_id,
            *types,
        )
        return [(EventType(kind), json.loads(data)) for kind, data in rows]

    def first_ticket_seq(self, day: date) -> int | None:
        rows = self._rows("SELECT min(issued_seq) FROM queue WHERE day = ?", day.isoformat())
        return rows[0][0] if rows else None
