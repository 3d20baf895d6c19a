"""What a day was, read back from the station's register (not from the scenario): who
was served, returned or given a Surat Keterangan, the blank cards, each step's
durations against its SOP minutes, breaches, and the time from ticket to card.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from appliance.domain import SOP_STEPS, Step
from appliance.register import Event, EventType, PublicKey, read_events, verify_register

_SOP_MINUTES: Final = {spec.step: spec.minutes for spec in SOP_STEPS}


@dataclass(frozen=True, slots=True)
class StepFigures:
    step: Step
    sop_minutes: float
    finished: int
    mean_minutes: float
    p95_minutes: float
    breaches: int
    failures: int
    failure_codes: tuple[tuple[str, int], ...] = ()
    """Why the step failed: each `step.failed` code with its count, most frequent first."""


@dataclass(slots=True)
class DayReport:
    applications: int = 0
    served: int = 0
    returned_at_check: int = 0
    returned_at_validate: int = 0
    suket: int = 0
    waiting_blank: int = 0
    open: int = 0
    skipped_biometric: int = 0
    blanks_received: int = 0
    cards_fed: int = 0
    cards_issued: int = 0
    cards_spoiled: int = 0
    breaches: int = 0
    overdue: int = 0
    steps: list[StepFigures] = field(default_factory=list)
    ticket_to_card_s: list[float] = field(default_factory=list)
    day_s: float = 0.0
    """From the first ticket to the last applicant leaving."""
    events: int = 0
    verified: str | None = None
    """None when the register verifies; else its first defect."""

    @property
    def cards_in_process(self) -> int:
        return self.cards_fed - self.cards_issued - self.cards_spoiled

    @property
    def blanks_left(self) -> int:
        return self.blanks_received - self.cards_fed

    def mean_ticket_to_card_s(self) -> float:
        return statistics.fmean(self.ticket_to_card_s) if self.ticket_to_card_s else 0.0

    def p95_ticket_to_card_s(self) -> float:
        return _p95(self.ticket_to_card_s)

    @classmethod
    def read(cls, register: Path, public_key: PublicKey) -> DayReport:
        tally = _Tally()
        for event in read_events(register):
            tally.add(event)
        report = tally.report()
        verification = verify_register(register, public_key)
        report.verified = None if verification.ok else str(verification.defect)
        return report


class _Tally:
    """Reads the register event by event into the day's figures."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.received = 0
        self.tickets: dict[tuple[str, str], datetime] = {}
        self.ticket_of: dict[str, tuple[str, str]] = {}
        self.outcome: dict[str, str] = {}
        self.durations: dict[Step, list[float]] = {step: [] for step in Step}
        self.breaches: Counter[Step] = Counter()
        self.failures: dict[Step, Counter[str]] = {step: Counter() for step in Step}
        self.ticket_to_card_s: list[float] = []
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, event: Event) -> None:
        self.counts[event.type] += 1
        data = event.data
        when = datetime.fromisoformat(event.ts)
        app = event.app or ""
        match event.type:
            case EventType.QUEUE_TICKET_ISSUED:
                self.tickets[(str(data["day"]), data["ticket"])] = when
                self.first = self.first or when
            case EventType.APPLICATION_SUBMITTED:
                self.outcome[app] = "open"
                self.ticket_of[app] = (str(data["ticket_day"]), data["ticket"])
            case EventType.STEP_FINISHED:
                self.durations[Step(data["step"])].append(data["duration_ms"] / 60_000)
            case EventType.STEP_FAILED:
                self.failures[Step(data["step"])][str(data["code"])] += 1
            case EventType.STEP_BREACHED:
                self.breaches[Step(data["step"])] += 1
            case EventType.BLANK_RECEIVED:
                self.received += data["count"]
            case EventType.APPLICATION_RETURNED:
                self._left(app, f"returned_at_{data['step']}", when)
            case EventType.SURAT_KETERANGAN_ISSUED:
                self._left(app, "waiting_blank", when)
            case EventType.APPLICATION_COMPLETED:
                self._left(app, "served", when)
                issued = self.tickets.get(self.ticket_of[app])
                if issued is not None:
                    self.ticket_to_card_s.append((when - issued).total_seconds())

    def _left(self, app: str, outcome: str, when: datetime) -> None:
        self.outcome[app] = outcome
        self.last = when

    def report(self) -> DayReport:
        outcomes = Counter(self.outcome.values())
        counts = self.counts
        return DayReport(
            applications=len(self.outcome),
            served=outcomes["served"],
            returned_at_check=outcomes["returned_at_check"],
            returned_at_validate=outcomes["returned_at_validate"],
            suket=counts[EventType.SURAT_KETERANGAN_ISSUED],
            waiting_blank=outcomes["waiting_blank"],
            open=outcomes["open"],
            skipped_biometric=counts[EventType.STEP_SKIPPED],
            blanks_received=self.received,
            # A feed that picked nothing left its blank in the feeder.
            cards_fed=counts[EventType.BLANK_FED] - counts[EventType.BLANK_FEED_FAILED],
            cards_issued=counts[EventType.BLANK_ISSUED],
            cards_spoiled=counts[EventType.BLANK_SPOILED],
            breaches=sum(self.breaches.values()),
            overdue=counts[EventType.APPLICATION_OVERDUE],
            steps=[
                StepFigures(
                    step=step,
                    sop_minutes=_SOP_MINUTES[step],
                    finished=len(self.durations[step]),
                    mean_minutes=statistics.fmean(self.durations[step] or [0.0]),
                    p95_minutes=_p95(self.durations[step]),
                    breaches=self.breaches[step],
                    failures=self.failures[step].total(),
                    failure_codes=tuple(self.failures[step].most_common()),
                )
                for step in Step
            ],
            ticket_to_card_s=self.ticket_to_card_s,
            day_s=(self.last - self.first).total_seconds() if self.first and self.last else 0.0,
            events=sum(counts.values()),
        )


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
