"""A reporting period: a day, a month, a quarter (*triwulan*), a semester or a year,
written as the office writes them: `2026-11-30`, `2026-11`, `2026-Q4`, `2026-S2`, `2026`.

A period is a run of local dates, first to last inclusive; which events fall in it is
decided by their local date in the station's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from appliance._text import Text

from ._errors import OversightError

FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2999
"""Years a period may name: a wider range is a typing slip, not an office's history."""

PERIOD_PATTERN: Final = r"^[0-9]{4}(-(Q[1-4]|S[1-2]|[0-9]{2}(-[0-9]{2})?))?$"

_FORMS: Final = re.compile(
    r"^(?P<year>[0-9]{4})"
    r"(?:-(?:Q(?P<quarter>[1-4])|S(?P<semester>[1-2])|(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?))?$"
)
_MONTHS_ID: Final = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]
_MONTHS_EN: Final = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_ROMAN: Final = ("I", "II", "III", "IV")


class PeriodKind(StrEnum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    SEMESTER = "semester"
    YEAR = "year"


def _months(kind: PeriodKind) -> int:
    return {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.SEMESTER: 6}.get(kind, 12)


def _unparsable(text: object) -> OversightError:
    shown = str(text)[:40]
    return OversightError(
        "period_unparsable",
        Text(
            f"Periode {shown!r} tidak dikenali. Tulis tahun {FIRST_YEAR}-{LAST_YEAR} "
            "sebagai 2026, semester 2026-S1 atau 2026-S2, triwulan 2026-Q1 sampai "
            "2026-Q4, bulan 2026-11, atau tanggal 2026-11-30.",
            f"Period {shown!r} is not understood. Write a year {FIRST_YEAR}-{LAST_YEAR} as "
            "2026, a semester as 2026-S1 or 2026-S2, a quarter as 2026-Q1 to 2026-Q4, a "
            "month as 2026-11, or a day as 2026-11-30.",
        ),
    )


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """The local dates `first` to `last`, inclusive, of one day, month, quarter, semester
    or year. Build one with `Period.parse` or the class methods."""

    first: date
    last: date
    kind: PeriodKind

    @classmethod
    def parse(cls, text: str) -> Period:
        """`2026-11-30`, `2026-11`, `2026-Q4`, `2026-S2` or `2026`; anything else raises
        OversightError `period_unparsable`, which says the forms in both languages."""
        found = _FORMS.match(text) if isinstance(text, str) else None
        if found is None:
            raise _unparsable(text)
        year = int(found["year"])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise _unparsable(text)
        try:
            if found["day"] is not None:
                return cls.of_day(date(year, int(found["month"]), int(found["day"])))
            if found["month"] is not None:
                return cls._months_from(date(year, int(found["month"]), 1), PeriodKind.MONTH)
        except ValueError:  # month 13, 30 February
            raise _unparsable(text) from None
        if found["quarter"] is not None:
            first = date(year, 3 * int(found["quarter"]) - 2, 1)
            return cls._months_from(first, PeriodKind.QUARTER)
        if found["semester"] is not None:
            first = date(year, 6 * int(found["semester"]) - 5, 1)
            return cls._months_from(first, PeriodKind.SEMESTER)
        return cls._months_from(date(year, 1, 1), PeriodKind.YEAR)

    @classmethod
    def of_day(cls, day: date) -> Period:
        return cls(day, day, PeriodKind.DAY)

    @classmethod
    def containing(cls, day: date, kind: PeriodKind) -> Period:
        """The period of `kind` that `day` falls in."""
        if kind is PeriodKind.DAY:
            return cls.of_day(day)
        months = _months(kind)
        month = (day.month - 1) // months * months + 1
        return cls._months_from(date(day.year, month, 1), kind)

    @classmethod
    def _months_from(cls, first: date, kind: PeriodKind) -> Period:
        month = first.month - 1 + _months(kind)
        after = date(first.year + month // 12, month % 12 + 1, 1)
        return cls(first, after - timedelta(days=1), kind)

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    def previous(self) -> Period:
        """The period of the same kind just before this one (for a sample's population)."""
        return Period.containing(self.first - timedelta(days=1), self.kind)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> Text:
        """For people: `Triwulan IV 2026` / `Q4 2026`, `November 2026`, ..."""
        year = self.first.year
        month = self.first.month
        match self.kind:
            case PeriodKind.DAY:
                return Text(
                    f"{self.first.day} {_MONTHS_ID[month - 1]} {year}",
                    f"{self.first.day} {_MONTHS_EN[month - 1]} {year}",
                )
            case PeriodKind.MONTH:
                return Text(f"{_MONTHS_ID[month - 1]} {year}", f"{_MONTHS_EN[month - 1]} {year}")
            case PeriodKind.QUARTER:
                number = (month + 2) // 3
                return Text(f"Triwulan {_ROMAN[number - 1]} {year}", f"Q{number} {year}")
            case PeriodKind.SEMESTER:
                number = (month + 5) // 6
                return Text(f"Semester {_ROMAN[number - 1]} {year}", f"Half-year {number} {year}")
            case _:
                return Text(f"Tahun {year}", f"Year {year}")

    def __str__(self) -> str:
        """The period as `Period.parse` reads it."""
        match self.kind:
            case PeriodKind.DAY:
                return self.first.isoformat()
            case PeriodKind.MONTH:
                return f"{self.first:%Y-%m}"
            case PeriodKind.QUARTER:
                return f"{self.first.year}-Q{(self.first.month + 2) // 3}"
            case PeriodKind.SEMESTER:
                return f"{self.first.year}-S{(self.first.month + 5) // 6}"
            case _:
                return str(self.first.year)


def _validate(value: Any) -> Period:
    if isinstance(value, Period):
        return value
    try:
        return Period.parse(value)
    except OversightError as error:
        # "{message}" rather than the text itself: pydantic formats the template.
        raise PydanticCustomError(
            error.code, "{message}", {"message": error.text.en, "error": error}
        ) from None


PeriodField = Annotated[
    Period,
    PlainValidator(_validate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PERIOD_PATTERN,
            "description": (
                "A reporting period: a day 2026-11-30, a month 2026-11, a quarter 2026-Q4, "
                f"a semester 2026-S2 or a year 2026 (years {FIRST_YEAR}-{LAST_YEAR})."
            ),
            "examples": ["2026-Q4"],
        }
    ),
]
"""A period as a form field or a query parameter: a refusal says the accepted forms at
the field (`period_unparsable`)."""


__all__ = ["PERIOD_PATTERN", "Period", "PeriodField", "PeriodKind"]
