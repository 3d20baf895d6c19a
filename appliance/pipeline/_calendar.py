"""The office's working calendar: when the one-working-day service promise falls due."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A calendar with no working day in a year is a configuration mistake, not a long wait.
_SEARCH_DAYS = 366


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    working_days: Collection[int]
    opening: time
    closing: time
    holidays: Collection[date]
    zone: ZoneInfo

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() in self.working_days and day not in self.holidays

    def due(self, submitted: datetime) -> datetime:
        """One working day after `submitted`: the same time on the next working day (a file
        handed in outside service hours counts from the next opening)."""
        local = submitted.astimezone(self.zone)
        start = local
        if not self.is_working_day(local.date()) or local.time() >= self.closing:
            start = self._opening_of(self._next_working_day(local.date()))
        elif local.time() < self.opening:
            start = self._opening_of(local.date())
        next_day = self._next_working_day(start.date())
        moment = min(max(start.time(), self.opening), self.closing)
        return datetime.combine(next_day, moment, tzinfo=self.zone)

    def _opening_of(self, day: date) -> datetime:
        return datetime.combine(day, self.opening, tzinfo=self.zone)

    def _next_working_day(self, day: date) -> date:
        for offset in range(1, _SEARCH_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError("the calendar has no working day within a year")
