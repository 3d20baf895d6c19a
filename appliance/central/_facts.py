"""A station's figures from its register events, for the status row: today's handovers,
returns, Surat Keterangan and breaches, the one-day promises overdue, the quarter's IKM
and grade, the complaints past their deadline, and the blank cards' daily use.

A national centre has 7,277 stations and a quarter of events behind each, so the
figures are not recomputed from a quarter of events at every change. They are a fold:
`FactsState` holds what the figures need (counts per local day for the last weeks, the
survey's totals per quarter, the open applications past their promise, the open
complaints with their deadlines) and the seq it has read through; `fold(state,
events)` is a pure function of the state and the acknowledged events after it, so
reading the events once or in any number of pieces gives the same state, and `facts(state,
now, ...)` is a pure function of the state and the time. The state is kept in the
status row (JSON), so any central process carries on where another stopped.

The rules have one home each: the IKM, its rounding and its grade are
`appliance.oversight`'s (`SurveyIndex`, `shown`, `grade_of`), reading a questionnaire's
answers as `oversight.figures` does; a handover is `application.completed` as in the
performance report; "past their deadline" is the complaint's own `due` (the station
escalates at it, but a station that is offline sends no escalation while the deadline
still passes); the run-out forecast counts working days on the fleet's calendar.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from appliance.domain import EventType, WorkingCalendar
from appliance.oversight import Element, Period, PeriodKind, RegisterEvent, SurveyIndex, shown

_VERSION: Final = 1
DAYS_KEPT: Final = 45
"""Local days of counts kept: enough for the recent working days of a daily use across
Lebaran's cuti bersama."""
USE_WORKING_DAYS: Final = 10
"""The blank cards' daily use is the mean over this many recent working days."""
WINDOW_BEFORE_QUARTER: Final = timedelta(days=31)
"""A station's first fold reads from this long before its quarter's first day: the
quarter's survey, the weeks of daily use and the promises and complaints still open."""

_SERVED: Final = "served"
_RETURNED: Final = "returned"
_CERTIFICATES: Final = "certificates"
_BREACHES: Final = "breaches"
_BLANKS_USED: Final = "blanks_used"
_DAY_COUNTS: Final = {
    EventType.APPLICATION_COMPLETED: _SERVED,
    EventType.APPLICATION_RETURNED: _RETURNED,
    EventType.SURAT_KETERANGAN_ISSUED: _CERTIFICATES,
    EventType.STEP_BREACHED: _BREACHES,
    EventType.BLANK_ISSUED: _BLANKS_USED,
    EventType.BLANK_SPOILED: _BLANKS_USED,
}
_PROMISE_ENDS: Final = frozenset({EventType.APPLICATION_COMPLETED, EventType.APPLICATION_RETURNED})
_COMPLAINT_EVENTS: Final = frozenset(
    {
        EventType.COMPLAINT_RECEIVED,
        EventType.COMPLAINT_VERIFIED,
        EventType.COMPLAINT_ESCALATED,
        EventType.COMPLAINT_CLOSED,
    }
)
FACT_EVENTS: Final = frozenset(
    {
        *_DAY_COUNTS,
        *_COMPLAINT_EVENTS,
        EventType.APPLICATION_OVERDUE,
        EventType.SURVEY_QUESTIONNAIRE_ANSWERED,
    }
)
"""The event types the figures read; the fold passes over any others."""


class SeqEvent(RegisterEvent, Protocol):
    """What the fold reads of an event: the figures' fields and its seq (the collector's
    `Event`, and the register's)."""

    @property
    def seq(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FactsState:
    zone: str
    """The station's time zone the local days are counted in."""
    since: str
    """The first local day (ISO date) whose events are all folded in."""
    through_seq: int = 0
    """Every acknowledged event up to this seq is folded in."""
    days: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per local day (ISO date), the counts of `_DAY_COUNTS`."""
    survey: Mapping[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)
    """Per quarter (`2026-Q4`), respondents and the totals of the nine elements."""
    overdue: tuple[str, ...] = ()
    """Applications past their one-day promise and neither handed over nor returned."""
    complaints: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    """Open complaints: number -> (deadline, RFC 3339; escalated by the station)."""
    skipped: int = 0
    """Events whose data was not of the contract's form (counted, passed over)."""

    @classmethod
    def start(cls, zone: ZoneInfo, since: date) -> FactsState:
        return cls(zone=zone.key, since=since.isoformat())

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": _VERSION,
                "zone": self.zone,
                "since": self.since,
                "through_seq": self.through_seq,
                "days": self.days,
                "survey": {q: [n, list(t)] for q, (n, t) in self.survey.items()},
                "overdue": list(self.overdue),
                "complaints": {k: [due, esc] for k, (due, esc) in self.complaints.items()},
                "skipped": self.skipped,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> FactsState | None:
        """The state kept in a row; None if it is of another version or unreadable (the
        caller folds again from the window)."""
        try:
            document = json.loads(text)
            if document.get("v") != _VERSION:
                return None
            return cls(
                zone=str(document["zone"]),
                since=str(document["since"]),
                through_seq=int(document["through_seq"]),
                days={d: dict(c) for d, c in document["days"].items()},
                survey={q: (int(n), tuple(t)) for q, (n, t) in document["survey"].items()},
                overdue=tuple(document["overdue"]),
                complaints={k: (str(d), bool(e)) for k, (d, e) in document["complaints"].items()},
                skipped=int(document["skipped"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def window_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Where a station's first fold starts reading: local midnight, a month before the
    first day of the quarter `now` falls in."""
    quarter = Period.containing(now.astimezone(zone).date(), PeriodKind.QUARTER)
    return datetime.combine(quarter.first - WINDOW_BEFORE_QUARTER, time(0), tzinfo=zone)


class _Days:
    """Local dates of timestamps, each minute parsed once (as the report does)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone
        self._seen: dict[str, date] = {}

    def __call__(self, ts: str) -> date:
        key = ts[:16] if ts.endswith("Z") else ts
        day = self._seen.get(key)
        if day is None:
            day = self._seen[key] = datetime.fromisoformat(ts).astimezone(self._zone).date()
        return day


def fold(state: FactsState, events: Iterable[SeqEvent]) -> FactsState:
    """`state` with `events` (acknowledged, in seq order, after `state.through_seq`) in.

    An event at or below `through_seq` is passed over, so a page read twice changes
    nothing; an event whose data is not of the contract's form is counted in `skipped`.
    """
    zone = ZoneInfo(state.zone)
    local_day = _Days(zone)
    days = {day: dict(counts) for day, counts in state.days.items()}
    survey = {quarter: (n, list(totals)) for quarter, (n, totals) in state.survey.items()}
    overdue = dict.fromkeys(state.overdue)
    complaints = dict(state.complaints)
    through, skipped = state.through_seq, state.skipped
    for event in events:
        if event.seq <= through:
            continue
        through = event.seq
        kind = event.type
        if kind not in FACT_EVENTS:
            continue
        try:
            day = local_day(event.ts)
            counted = _DAY_COUNTS.get(EventType(kind))
            if counted is not None:
                counts = days.setdefault(day.isoformat(), {})
                counts[counted] = counts.get(counted, 0) + 1
            if kind in _PROMISE_ENDS:
                overdue.pop(event.app or "", None)
            elif kind == EventType.APPLICATION_OVERDUE and event.app:
                overdue[event.app] = None
            elif kind == EventType.SURVEY_QUESTIONNAIRE_ANSWERED:
                _answered(survey, day, event.data)
            elif kind in _COMPLAINT_EVENTS:
                _complaint(complaints, kind, event.data)
        except (KeyError, ValueError, TypeError, AttributeError):
            skipped += 1
    return replace(
        state,
        through_seq=through,
        days=_recent(days),
        survey={q: (n, tuple(t)) for q, (n, t) in sorted(survey.items())[-2:]},
        overdue=tuple(overdue),
        complaints=complaints,
        skipped=skipped,
    )


def _answered(survey: dict[str, tuple[int, list[int]]], day: date, data: dict[str, Any]) -> None:
    # The answers as `oversight.figures` reads them: one score per element, all nine.
    scores = [int(data["answers"][element]) for element in Element]
    quarter = str(Period.containing(day, PeriodKind.QUARTER))
    respondents, totals = survey.get(quarter, (0, [0] * len(scores)))
    survey[quarter] = (respondents + 1, [a + b for a, b in zip(totals, scores, strict=True)])


def _complaint(complaints: dict[str, tuple[str, bool]], kind: str, data: dict[str, Any]) -> None:
    number = str(data["number"])
    if kind == EventType.COMPLAINT_RECEIVED:
        complaints[number] = (_moment(data["due"]).isoformat(), False)
        return
    known = complaints.get(number)
    if known is None:  # received before the window, or closed already
        return
    due, escalated = known
    if kind == EventType.COMPLAINT_CLOSED:
        del complaints[number]
    elif kind == EventType.COMPLAINT_ESCALATED:
        complaints[number] = (due, True)
    elif data.get("due"):  # verified: the section head may change the category's deadline
        complaints[number] = (_moment(data["due"]).isoformat(), escalated)


def _moment(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError("a deadline needs its offset")
    return moment


def _recent(days: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    kept = sorted(days)[-DAYS_KEPT:]
    return {day: days[day] for day in kept}


@dataclass(frozen=True, slots=True)
class StationFacts:
    """What the status row shows of a station's events, at one moment."""

    served_today: int
    returned_today: int
    certificates_today: int
    breaches_today: int
    overdue_promises: int
    ikm: str | None
    """The quarter's IKM as displayed (two places, rounded half up once)."""
    ikm_grade: str | None
    ikm_period: str | None
    complaints_overdue: int
    blanks_daily_use: float | None
    """Blank cards used (issued or spoiled) per working day, over the recent ones."""


def facts(state: FactsState, now: datetime, calendar: WorkingCalendar) -> StationFacts:
    """The figures of `state` at `now`; `calendar` in the station's zone."""
    zone = ZoneInfo(state.zone)
    today = now.astimezone(zone).date()
    counts = state.days.get(today.isoformat(), {})
    quarter = str(Period.containing(today, PeriodKind.QUARTER))
    ikm = grade = period = None
    respondents, totals = state.survey.get(quarter, (0, ()))
    if respondents:
        index = SurveyIndex(respondents=respondents, totals=dict(zip(Element, totals, strict=True)))
        ikm, grade, period = f"{shown(index.ikm)}", index.grade.value, quarter
    return StationFacts(
        served_today=counts.get(_SERVED, 0),
        returned_today=counts.get(_RETURNED, 0),
        certificates_today=counts.get(_CERTIFICATES, 0),
        breaches_today=counts.get(_BREACHES, 0),
        overdue_promises=len(state.overdue),
        ikm=ikm,
        ikm_grade=grade,
        ikm_period=period,
        complaints_overdue=sum(
            escalated or datetime.fromisoformat(due) <= now
            for due, escalated in state.complaints.values()
        ),
        blanks_daily_use=daily_use(state, today, calendar),
    )


def daily_use(state: FactsState, today: date, calendar: WorkingCalendar) -> float | None:
    """Blank cards used per working day over the last `USE_WORKING_DAYS` working days
    before `today` whose events are all known; None before there is one."""
    since = date.fromisoformat(state.since)
    used = worked = 0
    day = today - timedelta(days=1)
    while day >= since and worked < USE_WORKING_DAYS and (today - day).days <= DAYS_KEPT:
        if calendar.is_working_day(day):
            worked += 1
            used += state.days.get(day.isoformat(), {}).get(_BLANKS_USED, 0)
        day -= timedelta(days=1)
    return used / worked if worked else None


def days_left(available: int | None, use: float | None) -> float | None:
    """Working days the blank stock lasts at the daily use; 0 with none left, None when
    nothing is used (no run-out in sight) or the stock is unknown."""
    if available is None:
        return None
    if available <= 0:
        return 0.0
    if not use:
        return None
    return round(available / use, 1)


__all__ = [
    "DAYS_KEPT",
    "FACT_EVENTS",
    "USE_WORKING_DAYS",
    "FactsState",
    "SeqEvent",
    "StationFacts",
    "daily_use",
    "days_left",
    "facts",
    "fold",
    "window_start",
]
