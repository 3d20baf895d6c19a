"""Typed reads of the complaint book, the recaps and the survey's counts, for the
pipeline and the API (the reports compute from the events themselves)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.domain import OPEN_COMPLAINT_STATES, ComplaintState, RecapState, ServiceType
from appliance.oversight import Category, Channel

from ._schema import sql_values

_OPEN = sql_values(OPEN_COMPLAINT_STATES)


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    number: str
    channel: Channel
    category: Category
    state: ComplaintState
    due: datetime
    escalated: bool
    followups: int
    contact_ref: str | None
    received_seq: int
    updated_seq: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ComplaintRow:
        number, channel, category, state, due, escalated, followups, ref, first, last = row
        return cls(
            number=number,
            channel=Channel(channel),
            category=Category(category),
            state=ComplaintState(state),
            due=datetime.fromisoformat(due),
            escalated=bool(escalated),
            followups=followups,
            contact_ref=ref,
            received_seq=first,
            updated_seq=last,
        )


@dataclass(frozen=True, slots=True)
class RecapRow:
    period: str
    state: RecapState
    version: int
    version_seq: int
    """The event that drafted the current version."""
    updated_seq: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> RecapRow:
        period, state, version, version_seq, updated_seq = row
        return cls(period, RecapState(state), version, version_seq, updated_seq)


class OversightReads(ABC):
    @abstractmethod
    def _rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]: ...

    def complaint(self, number: str) -> ComplaintRow | None:
        rows = self._rows("SELECT * FROM complaints WHERE number = ?", number)
        return ComplaintRow.from_row(rows[0]) if rows else None

    def complaints(
        self, *, state: ComplaintState | None = None, limit: int = 200
    ) -> list[ComplaintRow]:
        """The newest first."""
        rows = self._rows(
            "SELECT * FROM complaints WHERE (? IS NULL OR state = ?) "
            "ORDER BY received_seq DESC LIMIT ?",
            state,
            state,
            limit,
        )
        return [ComplaintRow.from_row(row) for row in rows]

    def open_complaints(self) -> list[ComplaintRow]:
        """Not closed, the oldest first."""
        rows = self._rows(
            f"SELECT * FROM complaints WHERE state IN {_OPEN} ORDER BY received_seq"  # noqa: S608 - enum literals
        )
        return [ComplaintRow.from_row(row) for row in rows]

    def last_complaint_serial(self, year: int) -> int:
        """The highest serial of `year`'s complaint numbers (`ADU-2026-0042`: 42), or 0."""
        rows = self._rows(
            "SELECT max(CAST(substr(number, 10) AS INTEGER)) FROM complaints WHERE number LIKE ?",
            f"ADU-{year:04d}-%",
        )
        return int(rows[0][0] or 0)

    def recap(self, period: str) -> RecapRow | None:
        rows = self._rows("SELECT * FROM recaps WHERE period = ?", period)
        return RecapRow.from_row(rows[0]) if rows else None

    def recaps(self, *, state: RecapState | None = None) -> list[RecapRow]:
        """The latest period first."""
        rows = self._rows(
            "SELECT * FROM recaps WHERE (? IS NULL OR state = ?) ORDER BY period DESC",
            state,
            state,
        )
        return [RecapRow.from_row(row) for row in rows]

    def survey_responses(self) -> dict[ServiceType, tuple[int, int]]:
        """(keypad presses, questionnaires) so far, per service type."""
        rows = self._rows("SELECT service, keypad, questionnaires FROM survey_responses")
        return {ServiceType(service): (keypad, forms) for service, keypad, forms in rows}


__all__ = ["ComplaintRow", "OversightReads", "RecapRow"]
