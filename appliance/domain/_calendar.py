"""The office's working calendar: which days it serves, and what "N working days later" is
(the one-working-day service promise, a complaint's deadline).

A day is a working day when its weekday is one the office serves and it is not a day
off. Indonesia's public holidays come from the `holidays` package (country ID, computed,
no download); the year's *cuti bersama* and local days off are listed in the station's
configuration, which takes precedence: a day it lists as a day off is one, and a day it
lists as open is a working day even if the package has a holiday on it (a holiday moved
by decree after the package was released).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# A calendar with no working day in a year is a configuration mistake, not a long wait.
_SEARCH_DAYS = 366


@lru_cache(maxsize=16)
def national_holidays(year: int) -> frozenset[date]:
    """Indonesia's public holidays of `year`, as the `holidays` package computes them."""
    return frozenset(holidays.country_holidays("ID", years=year))


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingCalendar:
    working_days: Collection[int]
    """ISO weekdays the office serves (1 = Monday)."""
    opening: time
    closing: time
    holidays: Collection[date]
    """Days off besides the national holidays: the year's cuti bersama, local days."""
    zone: ZoneInfo
    open_days: Collection[date] = field(default=())
    """Days the office serves although the package has a national holiday on them."""
    national: bool = True
    """Whether Indonesia's public holidays are days off (the `holidays` package's)."""

    def is_working_day(self, day: date) -> bool:
        if day in self.open_days:
            return True
        if day.isoweekday() not in self.working_days or day in self.holidays:
            return False
        return not (self.national and day in national_holidays(day.year))

    def due(self, submitted: datetime) -> datetime:
        """One working day after `submitted` (the service promise)."""
        return self.add_working_days(submitted, 1)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """`days` working days after `moment`: the same time of day on the `days`-th
        working day after it. A moment outside service hours counts from the next
        opening, and the time is kept within the hours."""
        if days < 1:
            raise ValueError("a deadline is at least one working day away")
        local = moment.astimezone(self.zone)
        start = local
        if not self.is_working_day(local.date()) or local.time() >= self.closing:
            start = self._opening_of(self._next_working_day(local.date()))
        elif local.time() < self.opening:
            start = self._opening_of(local.date())
        day = start.date()
        for _ in range(days):
            day = self._next_working_day(day)
        moment_of_day = min(max(start.time(), self.opening), self.closing)
        return datetime.combine(day, moment_of_day, tzinfo=self.zone)

    def _opening_of(self, day: date) -> datetime:
        return datetime.combine(day, self.opening, tzinfo=self.zone)

    def _next_working_day(self, day: date) -> date:
        for offset in range(1, _SEARCH_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError("the calendar has no working day within a year")
