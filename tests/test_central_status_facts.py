"""The status row's event-derived figures as pure functions: a fold over a station's
events (in one go or in pieces, the same state) and the figures at a moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.central._facts import (
    USE_WORKING_DAYS,
    FactsState,
    daily_use,
    days_left,
    facts,
    fold,
    window_start,
)
from appliance.domain import EventType, WorkingCalendar
from appliance.oversight import Period, PeriodKind, figures, shown
from sim.history import history

JAKARTA = ZoneInfo("Asia/Jakarta")
MAKASSAR = ZoneInfo("Asia/Makassar")


@dataclass(frozen=True)
class Ev:
    seq: int
    type: str
    ts: str
    app: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def calendar(zone: ZoneInfo = JAKARTA, holidays: tuple[date, ...] = ()) -> WorkingCalendar:
    return WorkingCalendar(
        working_days=(1, 2, 3, 4, 5),
        opening=time(8),
        closing=time(15),
        holidays=holidays,
        zone=zone,
    )


def numbered(events: list[Any]) -> list[Ev]:
    return [Ev(n, e.type, e.ts, e.app, e.data) for n, e in enumerate(events, start=1)]


def test_fold_in_pieces_equals_fold_at_once_and_survives_json() -> None:
    events = numbered(history(first=date(2026, 11, 2), last=date(2026, 11, 27), per_day=6))
    start = FactsState.start(JAKARTA, date(2026, 11, 1))
    whole = fold(start, events)
    pieces = start
    for begin in range(0, len(events), 97):
        pieces = fold(pieces, events[begin : begin + 97])
        again = FactsState.from_json(pieces.to_json())
        assert again == pieces
        pieces = again
    assert pieces == whole
    assert whole.through_seq == len(events)
    # A page read twice changes nothing: the events at or below through_seq are passed.
    assert fold(whole, events[-50:]) == whole
    assert whole.skipped == 0


def test_ikm_and_grade_are_the_oversight_figures_of_the_quarter() -> None:
    events = numbered(history(first=date(2026, 10, 1), last=date(2026, 11, 20), per_day=5))
    state = fold(FactsState.start(JAKARTA, date(2026, 9, 1)), events)
    now = datetime(2026, 11, 21, 10, 0, tzinfo=JAKARTA)
    quarter = Period.containing(now.date(), PeriodKind.QUARTER)
    expected = figures(events, quarter, JAKARTA).survey.index
    assert expected is not None
    assert expected.respondents > 20
    got = facts(state, now, calendar())
    assert got.ikm == f"{shown(expected.ikm)}"
    assert got.ikm_grade == expected.grade.value
    assert got.ikm_period == "2026-Q4"
    # The next quarter starts with no questionnaire answered: no IKM yet.
    january = facts(state, datetime(2027, 1, 4, 9, 0, tzinfo=JAKARTA), calendar())
    assert (january.ikm, january.ikm_grade, january.ikm_period) == (None, None, None)


def test_todays_counts_fall_on_the_stations_local_day() -> None:
    # 16:30 UTC on the 7th is 00:30 on the 8th in Makassar (UTC+8), 23:30 in Jakarta.
    late = "2026-12-07T16:30:00.000000Z"
    morning = "2026-12-08T01:00:00.000000Z"
    kinds: list[tuple[EventType, str, str | None, dict[str, Any]]] = [
        (EventType.APPLICATION_COMPLETED, late, "A1", {}),
        (EventType.APPLICATION_COMPLETED, morning, "A2", {}),
        (EventType.APPLICATION_RETURNED, morning, "A3", {"step": "check", "reason": "x"}),
        (EventType.SURAT_KETERANGAN_ISSUED, morning, "A4", {"number": "SK-1"}),
        (EventType.SURAT_KETERANGAN_ISSUED, morning, "A5", {"number": "SK-2"}),
        (EventType.STEP_BREACHED, morning, "A6", {"step": "check", "budget_ms": 1}),
        (EventType.BLANK_RECEIVED, morning, None, {"count": 5, "reference": "BA"}),
    ]
    events = [Ev(n, k.value, ts, app, data) for n, (k, ts, app, data) in enumerate(kinds, 1)]
    now = datetime(2026, 12, 8, 10, 0, tzinfo=MAKASSAR)
    in_makassar = facts(
        fold(FactsState.start(MAKASSAR, date(2026, 12, 1)), events), now, calendar()
    )
    assert (
        in_makassar.served_today,
        in_makassar.returned_today,
        in_makassar.certificates_today,
        in_makassar.breaches_today,
    ) == (2, 1, 2, 1)
    in_jakarta = facts(fold(FactsState.start(JAKARTA, date(2026, 12, 1)), events), now, calendar())
    assert in_jakarta.served_today == 1  # the late one was the 7th in Jakarta
    # Past midnight the day's counts start again, with no new event.
    tomorrow = facts(
        fold(FactsState.start(MAKASSAR, date(2026, 12, 1)), events),
        now + timedelta(days=1),
        calendar(),
    )
    assert (tomorrow.served_today, tomorrow.certificates_today) == (0, 0)


def test_overdue_promises_are_the_open_applications_past_their_promise() -> None:
    ts = "2026-12-08T02:00:00.000000Z"
    overdue = EventType.APPLICATION_OVERDUE.value
    events = [
        Ev(1, overdue, ts, "A1", {"due": "2026-12-08T09:00+07:00"}),
        Ev(2, overdue, ts, "A2", {"due": "2026-12-08T09:00+07:00"}),
        Ev(3, overdue, ts, "A3", {"due": "2026-12-08T09:00+07:00"}),
        Ev(4, EventType.APPLICATION_COMPLETED.value, ts, "A1"),
        Ev(5, EventType.APPLICATION_RETURNED.value, ts, "A2", {"step": "validate", "reason": "x"}),
        Ev(6, EventType.APPLICATION_COMPLETED.value, ts, "A9"),
    ]
    state = fold(FactsState.start(JAKARTA, date(2026, 12, 1)), events)
    assert state.overdue == ("A3",)
    assert facts(state, datetime(2026, 12, 8, 12, tzinfo=JAKARTA), calendar()).overdue_promises == 1


def test_complaints_past_their_deadline_follow_the_clock() -> None:
    received = EventType.COMPLAINT_RECEIVED.value

    def complaint(seq: int, number: str, due: str) -> Ev:
        return Ev(
            seq, received, "2026-12-01T02:00:00.000000Z", None, {"number": number, "due": due}
        )

    events = [
        complaint(1, "P-1", "2026-12-03T09:00:00+07:00"),
        complaint(2, "P-2", "2026-12-05T09:00:00+07:00"),
        complaint(3, "P-3", "2026-12-10T09:00:00+07:00"),
        Ev(
            4,
            EventType.COMPLAINT_VERIFIED.value,
            "2026-12-01T03:00:00.000000Z",
            None,
            {"number": "P-3", "due": "2026-12-04T09:00:00+07:00"},
        ),
        Ev(
            5,
            EventType.COMPLAINT_CLOSED.value,
            "2026-12-02T03:00:00.000000Z",
            None,
            {"number": "P-1"},
        ),
        Ev(
            6,
            EventType.COMPLAINT_CLOSED.value,
            "2026-12-02T03:00:00.000000Z",
            None,
            {"number": "P-9"},
        ),
    ]
    state = fold(FactsState.start(JAKARTA, date(2026, 11, 1)), events)

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 12, day, hour, tzinfo=JAKARTA)

    assert facts(state, at(3, 10), calendar()).complaints_overdue == 0  # P-1 closed in time
    assert facts(state, at(4, 9), calendar()).complaints_overdue == 1  # P-3's new deadline
    assert facts(state, at(5, 9), calendar()).complaints_overdue == 2
    escalated = fold(
        state,
        [
            Ev(
                7,
                EventType.COMPLAINT_ESCALATED.value,
                "2026-12-05T02:00:00.000000Z",
                None,
                {"number": "P-2", "due": "x"},
            )
        ],
    )
    assert facts(escalated, at(4, 10), calendar()).complaints_overdue == 2
    closed = fold(
        escalated,
        [
            Ev(
                8,
                EventType.COMPLAINT_CLOSED.value,
                "2026-12-06T02:00:00.000000Z",
                None,
                {"number": "P-2"},
            )
        ],
    )
    assert facts(closed, at(6, 10), calendar()).complaints_overdue == 1


def test_blank_use_per_recent_working_day_and_the_run_out_forecast() -> None:
    # Monday 30 Nov to Friday 11 Dec 2026, 3 blanks used each working day, 1 spoiled on
    # the 9th; 8 December declared a day off (its use is not a working day's).
    holidays = (date(2026, 12, 8),)
    events = []
    seq = 0
    day = date(2026, 11, 30)
    while day <= date(2026, 12, 11):
        if day.isoweekday() <= 5:
            for hour in (1, 2, 3):
                seq += 1
                events.append(
                    Ev(
                        seq,
                        EventType.BLANK_ISSUED.value,
                        f"{day}T0{hour}:00:00.000000Z",
                        "A",
                        {"card_serial": "K"},
                    )
                )
        day += timedelta(days=1)
    seq += 1
    events.append(
        Ev(
            seq,
            EventType.BLANK_SPOILED.value,
            "2026-12-09T04:00:00.000000Z",
            "A",
            {"reason": "jam"},
        )
    )
    state = fold(FactsState.start(JAKARTA, date(2026, 11, 30)), events)
    today = date(2026, 12, 14)  # Monday: the 10 days before are 11 Dec back to 30 Nov less the 8th
    use = daily_use(state, today, calendar(holidays=holidays))
    assert use == pytest.approx((9 * 3 + 1) / 9)  # only 9 working days are known
    assert use is not None
    now = datetime(2026, 12, 14, 9, tzinfo=JAKARTA)
    assert facts(state, now, calendar(holidays=holidays)).blanks_daily_use == use
    assert days_left(12, use) == round(12 / use, 1)
    assert days_left(0, use) == 0.0
    assert days_left(12, 0.0) is None
    assert days_left(None, use) is None
    # A new station, nothing known before today: no daily use yet.
    fresh = FactsState.start(JAKARTA, today)
    assert daily_use(fresh, today, calendar()) is None
    assert USE_WORKING_DAYS == 10


def test_malformed_data_is_counted_and_passed_over() -> None:
    events = [
        Ev(
            1,
            EventType.SURVEY_QUESTIONNAIRE_ANSWERED.value,
            "2026-12-01T02:00:00.000000Z",
            None,
            {"answers": {"u1": 4}},
        ),
        Ev(
            2,
            EventType.COMPLAINT_RECEIVED.value,
            "2026-12-01T02:00:00.000000Z",
            None,
            {"number": "P-1", "due": "not a time"},
        ),
        Ev(3, EventType.APPLICATION_COMPLETED.value, "garbage", "A1"),
        Ev(4, EventType.APPLICATION_COMPLETED.value, "2026-12-01T02:00:00.000000Z", "A2"),
    ]
    state = fold(FactsState.start(JAKARTA, date(2026, 12, 1)), events)
    assert state.skipped == 3
    assert state.through_seq == 4
    assert state.days["2026-12-01"]["served"] == 1


def test_window_starts_a_month_before_the_quarter() -> None:
    start = window_start(datetime(2026, 12, 7, 3, 0, tzinfo=JAKARTA), JAKARTA)
    assert start == datetime(2026, 8, 31, 0, 0, tzinfo=JAKARTA)
    assert FactsState.from_json('{"v": 99}') is None
    assert FactsState.from_json("not json") is None
