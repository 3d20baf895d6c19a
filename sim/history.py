"""An office's history as register events, synthesised: months of applicants served, with
their steps' durations, returns, spoiled cards, late handovers, keypad presses,
questionnaires and complaints, in the order the SOP's workflow allows them.

For reports, which are a pure function of the events: a quarter or a year is written
through the real register (`write_history`: every event validated, projected and signed,
on a manual clock set to each event's time) in seconds, where running the simulated day
sixty times over would take an hour. The benchmark takes the same events in memory
(`HistoryEvent`). It follows the pipeline's sequences (`tests/test_workflow.py` pins the
table they obey), not its timing: the durations are drawn around the SOP's minutes.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from appliance.clock import ManualClock
from appliance.domain import SOP_STEPS, EventType, ServiceType, Step, WorkingCalendar
from appliance.oversight import DEFAULT_DEADLINE_DAYS, Category, Channel, Element, complaint_number
from appliance.register import Register, StationKey

ZONE: Final = ZoneInfo("Asia/Jakarta")
COUNTER = {"role": "petugas_loket", "person": "siti"}
HEAD = {"role": "kasi_yanmum", "person": "budi"}
OPERATOR = {"role": "operator", "person": "eko"}
_SERVICES: Final = (
    (ServiceType.BARU, 6),
    (ServiceType.HILANG, 2),
    (ServiceType.RUSAK, 1),
    (ServiceType.PERUBAHAN_DATA, 1),
)


@dataclass(frozen=True, slots=True)
class Mix:
    """How often things go one way or the other, per applicant (or per day, for
    complaints)."""

    returned_at_check: float = 0.06
    returned_at_validate: float = 0.03
    spoiled: float = 0.03
    late: float = 0.04
    step_over_sop: float = 0.08
    keypad: float = 0.8
    questionnaire: float = 0.35
    complaints_per_day: float = 0.4


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """An event as a report reads it (`appliance.oversight.RegisterEvent`)."""

    type: str
    ts: str
    app: str | None
    data: dict[str, Any]


@dataclass(order=True, slots=True)
class _Planned:
    at: datetime
    order: int
    type: str = field(compare=False)
    app: str | None = field(compare=False)
    data: dict[str, Any] = field(compare=False)


def office_calendar() -> WorkingCalendar:
    return WorkingCalendar(
        working_days=(1, 2, 3, 4, 5),
        opening=time(8, 0),
        closing=time(15, 0),
        holidays=(),
        zone=ZONE,
    )


class _Plan:
    def __init__(self, rng: random.Random, calendar: WorkingCalendar, mix: Mix) -> None:
        self.rng = rng
        self.calendar = calendar
        self.mix = mix
        self.events: list[_Planned] = []
        self.cards = 0
        self.last_serial = ""
        """The serial of the card printed last, which its application is issued."""
        self.complaints: dict[int, int] = {}

    def add(
        self, at: datetime, kind: EventType, data: dict[str, Any], app: str | None = None
    ) -> None:
        self.events.append(_Planned(at, len(self.events), kind.value, app, data))

    def minutes(self, step: Step) -> float:
        budget = step.spec.minutes
        if self.rng.random() < self.mix.step_over_sop:
            return budget * self.rng.uniform(1.05, 1.8)
        return budget * self.rng.uniform(0.4, 0.98)

    def step(self, at: datetime, app: str, step: Step) -> datetime:
        """The step started, worked and finished: when it finished."""
        by = None if step is Step.ENCODE_PRINT else _actor(step)
        started: dict[str, Any] = {"step": step.value, "by": by}
        self.add(at, EventType.STEP_STARTED, started, app)
        if step is Step.ENCODE_PRINT:
            at = self.card(at, app)
        done = at + timedelta(minutes=self.minutes(step))
        finished = {"step": step.value, "duration_ms": int((done - at).total_seconds() * 1000)}
        self.add(done, EventType.STEP_FINISHED, finished | {"by": by}, app)
        return done

    def card(self, at: datetime, app: str) -> datetime:
        """A blank fed, personalised and printed; one in `spoiled` jams first."""
        while True:
            self.cards += 1
            serial = f"KTP{self.cards:09d}"
            at += timedelta(seconds=5)
            self.add(at, EventType.BLANK_FED, {"printer": "card_printer"}, app)
            if self.rng.random() < self.mix.spoiled:
                at += timedelta(seconds=30)
                spoiled = {"reason": "jam", "detail": "kartu macet", "card_serial": None}
                self.add(at, EventType.BLANK_SPOILED, spoiled, app)
                continue
            at += timedelta(seconds=20)
            sod = hashlib.sha256(serial.encode()).hexdigest()
            personalised = {
                "card_serial": serial,
                "security_object_sha256": sod,
                "chip_fingers": [1, 6],
            }
            self.add(at, EventType.CARD_PERSONALISED, personalised, app)
            self.add(
                at + timedelta(seconds=40), EventType.CARD_PRINTED, {"card_serial": serial}, app
            )
            self.last_serial = serial
            return at

    def applicant(self, day: date, number: int, arrival: datetime) -> None:
        rng, mix = self.rng, self.mix
        app = f"APP-{day:%Y%m%d}-{number:03d}"
        service = rng.choices([s for s, _ in _SERVICES], [w for _, w in _SERVICES])[0]
        submitted = {
            "service": service.value,
            "nik": f"3508{(day.toordinal() * 1000 + number) % 10**12:012d}",
            "kk": "3508011502150003",
            "name": "Pemohon",
            "birth_date": "1990-01-01",
            "sex": "L" if number % 2 else "P",
            "marital_status": "kawin",
            "documents": ["fc_kk"],
            "by": COUNTER,
        }
        self.add(arrival, EventType.APPLICATION_SUBMITTED, submitted, app)
        at = arrival + timedelta(minutes=self.minutes(Step.SUBMIT))
        duration = int((at - arrival).total_seconds() * 1000)
        self.add(at, EventType.STEP_FINISHED, {"step": "submit", "duration_ms": duration}, app)
        late = rng.random() < mix.late
        for spec in SOP_STEPS[1:]:
            self.add(at, EventType.APPLICATION_ADVANCED, {"step": spec.step.value}, app)
            if spec.step is Step.HANDOVER and late:
                due = self.calendar.due(arrival)
                self.add(
                    due,
                    EventType.APPLICATION_OVERDUE,
                    {"due": due.isoformat(timespec="minutes")},
                    app,
                )
                at = self.calendar.add_working_days(arrival, 2)
            if spec.step is Step.TRANSFER:
                self.add(at, EventType.BLANK_ISSUED, {"card_serial": self.last_serial}, app)
            at = self.step(at + timedelta(minutes=rng.uniform(1, 20)), app, spec.step)
            returned = self.returned(at, app, spec.step)
            if returned:
                return
        self.add(at, EventType.APPLICATION_COMPLETED, {"by": COUNTER}, app)
        self.survey(at, service)

    def returned(self, at: datetime, app: str, step: Step) -> bool:
        rng, mix = self.rng, self.mix
        if step is Step.CHECK and rng.random() < mix.returned_at_check:
            data = {
                "step": "check",
                "reason": "berkas belum lengkap / incomplete file",
                "missing_documents": [rng.choice(["fc_kk", "fc_akta_kelahiran"])],
                "by": COUNTER,
            }
        elif step is Step.VALIDATE and rng.random() < mix.returned_at_validate:
            data = {"step": "validate", "reason": "data tidak sesuai KK", "by": HEAD}
        else:
            return False
        self.add(at, EventType.APPLICATION_RETURNED, data, app)
        return True

    def survey(self, at: datetime, service: ServiceType) -> None:
        rng, mix = self.rng, self.mix
        if rng.random() < mix.keypad:
            rating = rng.choices(
                ["sangat_puas", "puas", "kurang_puas", "tidak_puas"], [5, 8, 2, 1]
            )[0]
            self.add(
                at + timedelta(seconds=20),
                EventType.SURVEY_KEYPAD_PRESSED,
                {"service": service.value, "rating": rating},
            )
        if rng.random() < mix.questionnaire:
            answers = {e.value: rng.choices([2, 3, 4], [1, 6, 4])[0] for e in Element}
            profile = {
                "sex": rng.choice(["L", "P"]),
                "age_band": rng.choice(["20-29", "30-39", "40-49"]),
            }
            data = {"service": service.value, "answers": answers, "profile": profile}
            self.add(at + timedelta(minutes=3), EventType.SURVEY_QUESTIONNAIRE_ANSWERED, data)

    def complaint(self, day: date) -> None:
        rng = self.rng
        year = day.year
        self.complaints[year] = self.complaints.get(year, 0) + 1
        number = complaint_number(year, self.complaints[year])
        received = datetime.combine(day, time(9, 0), tzinfo=ZONE) + timedelta(
            minutes=rng.randint(0, 300)
        )
        category = rng.choices(list(Category)[:3], [6, 3, 1])[0]
        due = self.calendar.add_working_days(received, DEFAULT_DEADLINE_DAYS[category])
        channel = rng.choice([c for c in Channel if c is not Channel.LAPOR])
        self.add(
            received,
            EventType.COMPLAINT_RECEIVED,
            {
                "number": number,
                "channel": channel.value,
                "anonymous": True,
                "account": "Antrean lama dan petugas loket tidak menjelaskan persyaratan.",
                "element": rng.choice(list(Element)).value,
                "category": category.value,
                "due": due.isoformat(),
                "by": COUNTER,
            },
        )
        verified = received + timedelta(hours=2)
        self.add(
            verified,
            EventType.COMPLAINT_VERIFIED,
            {"number": number, "category": category.value, "due": due.isoformat(), "by": HEAD},
        )
        followed = verified + timedelta(hours=3)
        self.add(
            followed,
            EventType.COMPLAINT_FOLLOWED_UP,
            {"number": number, "action": "Petugas diberi arahan.", "by": HEAD},
        )
        if rng.random() < 0.15:  # closed late: escalated at its deadline first
            self.add(due, EventType.COMPLAINT_ESCALATED, {"number": number, "due": due.isoformat()})
            closed = due + timedelta(days=2)
        else:
            closed = followed + (due - followed) * rng.uniform(0.1, 0.9)
        self.add(
            closed,
            EventType.COMPLAINT_CLOSED,
            {"number": number, "outcome": "Selesai, pelapor diberi penjelasan.", "by": HEAD},
        )


def _actor(step: Step) -> dict[str, str]:
    if step in (Step.SUBMIT, Step.CHECK, Step.HANDOVER):
        return COUNTER
    if step is Step.VALIDATE:
        return HEAD
    return OPERATOR


def history(
    *,
    first: date,
    last: date,
    per_day: int,
    seed: int = 19,
    mix: Mix | None = None,
    calendar: WorkingCalendar | None = None,
) -> list[HistoryEvent]:
    """The office's events from `first` to `last` (its working days), `per_day`
    applicants a day, in time order (each application's own events in the SOP's)."""
    calendar = calendar or office_calendar()
    plan = _Plan(random.Random(seed), calendar, mix or Mix())  # noqa: S311 - a scenario, not a secret
    day = first
    while day <= last:
        if calendar.is_working_day(day):
            opening = datetime.combine(day, time(7, 30), tzinfo=ZONE)
            plan.add(
                opening,
                EventType.BLANK_RECEIVED,
                {"count": min(2000, per_day * 2), "reference": f"BA/{day:%Y%m%d}"},
            )
            spacing = 6 * 60 / max(per_day, 1)
            for number in range(1, per_day + 1):
                arrival = datetime.combine(day, time(8, 0), tzinfo=ZONE) + timedelta(
                    minutes=spacing * (number - 1)
                )
                plan.applicant(day, number, arrival)
            complaints = int(plan.mix.complaints_per_day) + (
                plan.rng.random() < plan.mix.complaints_per_day % 1
            )
            for _ in range(complaints):
                plan.complaint(day)
        day += timedelta(days=1)
    plan.events.sort()
    return [
        HistoryEvent(
            p.type, p.at.astimezone(ZONE).isoformat(timespec="microseconds"), p.app, p.data
        )
        for p in plan.events
    ]


def write_history(
    register_path: Any,
    key: StationKey,
    events: list[HistoryEvent],
    *,
    station_id: str,
    batch: int = 500,
) -> int:
    """Append `events` to the register at `register_path` through the register's own API,
    each at its time on a manual clock; returns the register's head."""
    clock = ManualClock(wall_ns=_ns(events[0].ts) if events else 0)
    with Register.open(register_path, station_id=station_id, key=key, clock=clock) as register:
        for start in range(0, len(events), batch):
            with register.transaction() as txn:
                for event in events[start : start + batch]:
                    clock.set_wall(_ns(event.ts))
                    txn.append(
                        event.type, json.loads(json.dumps(event.data)), application_id=event.app
                    )
        return register.head()[0]


def _ns(ts: str) -> int:
    moment = datetime.fromisoformat(ts)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


__all__ = ["HistoryEvent", "Mix", "history", "office_calendar", "write_history"]
