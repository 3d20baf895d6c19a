"""The performance report of a period, as a pure function of register events.

`report(events, period, zone, targets)` reads the events in register order and nothing
else (no clock, no derived table, no calendar): the station computes it from its
register, the central office from the events the uplink delivered, and both get equal
numbers. The survey and the complaints come from `appliance.oversight.figures`; the
service's own measures are counted here in one pass:

- each SOP step finished within its minutes (`step.finished`'s `duration_ms` against the
  seed's minutes, not the station's configured budgets: the SOP is the standard);
- cards handed over within the one-working-day promise: handed over with no
  `application.overdue` before it. The station records the promise's breach on its own
  calendar, so a reader of the events judges it as the station did without the calendar;
- the spoiled-card rate: spoiled of the blanks used (issued or spoiled);
- returns by reason: the files returned at each step (incomplete at the counter, not
  valid at the section head, activation refused) of the files decided (handed over or
  returned) in the period;
- complaints closed by their deadline: of those received in the period, closed on time
  of those closed or open past their deadline.

Each measure is given for the period, for the periods of the same kind before it (the
trend: the last four quarters, say) and for the months within it (days within a month).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from appliance._text import Text
from appliance.domain import SOP_STEPS, Document, EventType, ServiceType, Step
from appliance.oversight import FIGURE_EVENTS, Figures, Period, PeriodKind, figures, shown

from ._targets import RETURN_STEPS, TargetsSection, share_of

HISTORY: Final = {
    PeriodKind.DAY: 7,
    PeriodKind.MONTH: 6,
    PeriodKind.QUARTER: 4,
    PeriodKind.SEMESTER: 4,
    PeriodKind.YEAR: 3,
}
"""How many periods of the same kind the trend shows, this one the last."""

_OWN_EVENTS: Final = frozenset(
    {
        EventType.APPLICATION_SUBMITTED,
        EventType.APPLICATION_COMPLETED,
        EventType.APPLICATION_RETURNED,
        EventType.APPLICATION_OVERDUE,
        EventType.STEP_FINISHED,
        EventType.BLANK_ISSUED,
        EventType.BLANK_SPOILED,
        EventType.SURAT_KETERANGAN_ISSUED,
    }
)
REPORT_EVENTS: Final = frozenset(FIGURE_EVENTS) | _OWN_EVENTS
"""The event types `report` reads; any others given are passed over."""

_RETURN_LABELS: Final = {
    Step.CHECK: Text("Berkas tidak lengkap (loket)", "Incomplete file (counter)"),
    Step.VALIDATE: Text("Berkas tidak valid (Kasi)", "File not valid (section head)"),
    Step.ACTIVATE: Text("Aktivasi ditolak", "Activation refused"),
}


@dataclass(frozen=True, slots=True)
class Measure:
    """One target against what was achieved."""

    key: str
    """`step.<step>`, `served_one_day`, `ikm`, `complaints_on_time`, `spoiled_cards`,
    `returns.<step>`."""
    label: Text
    unit: Literal["share", "ikm"]
    """A share (0-1, shown as a percent) or an IKM score (25-100)."""
    bound: Literal["at_least", "at_most"]
    target: Fraction
    achieved: Fraction | None
    """None when there was nothing to measure."""
    count: int | None = None
    of: int | None = None
    """For a share: how many of how many."""

    @property
    def met(self) -> bool | None:
        if self.achieved is None:
            return None
        if self.unit == "ikm":  # graded by its displayed value, as the grade is
            achieved, target = shown(self.achieved), shown(self.target)
            return achieved >= target if self.bound == "at_least" else achieved <= target
        if self.bound == "at_least":
            return self.achieved >= self.target
        return self.achieved <= self.target


@dataclass(frozen=True, slots=True)
class Activity:
    """What the office did in the period, counted from its events."""

    submitted: int
    handed_over: int
    handed_over_by_service: Mapping[ServiceType, int]
    handed_over_late: int
    """Handed over after the one-working-day promise had passed."""
    returned: int
    returned_by_step: Mapping[Step, int]
    missing_documents: Mapping[Document, int]
    """The documents missing from the files returned incomplete at the counter."""
    steps_finished: Mapping[Step, int]
    steps_within_sop: Mapping[Step, int]
    cards_issued: int
    cards_spoiled: int
    spoiled_by_reason: Mapping[str, int]
    surat_keterangan: int

    @property
    def decided(self) -> int:
        """Files that ended in the period: handed over or returned."""
        return self.handed_over + self.returned


@dataclass(frozen=True, slots=True)
class Slice:
    """One period's measures, for the trend."""

    period: Period
    measures: tuple[Measure, ...]

    def measure(self, key: str) -> Measure:
        return next(m for m in self.measures if m.key == key)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    targets: TargetsSection
    measures: tuple[Measure, ...]
    activity: Activity
    figures: Figures
    history: tuple[Slice, ...]
    """The periods of the same kind up to this one, oldest first (this one last)."""
    breakdown: tuple[Slice, ...]
    """The months within a quarter, semester or year; the days within a month."""

    def measure(self, key: str) -> Measure:
        return next(m for m in self.measures if m.key == key)

    @property
    def met(self) -> int:
        return sum(m.met is True for m in self.measures)

    @property
    def measured(self) -> int:
        return sum(m.met is not None for m in self.measures)


@dataclass(frozen=True, slots=True)
class _Fact:
    """An event read once: its data parsed, its local date known."""

    type: str
    ts: str
    app: str | None
    data: dict[str, Any]
    day: date


_Key = tuple[str, str]
_SOP_MS: Final = {spec.step.value: spec.minutes * 60_000 for spec in SOP_STEPS}


class _Reading:
    """One pass over the events: the figures' events kept (data parsed once, local date
    known) for `figures`, and per local date the counts the service's measures are sums
    of. An event's data is parsed only when a count needs it."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.facts: list[_Fact] = []
        self.days: dict[date, Counter[_Key]] = {}
        self._service_of: dict[str, str] = {}
        self._late: set[str] = set()
        self.handed_over_on: dict[str, date] = {}
        """Each application handed over, and on which local date."""
        self._day_of: dict[str, date] = {}

    def day(self, ts: str) -> date:
        # The register writes UTC to the microsecond ("...Z"); a zone's offset is whole
        # minutes, so one minute's events share a local date: parse each minute once.
        key = ts[:16] if ts.endswith("Z") else ts
        day = self._day_of.get(key)
        if day is None:
            day = self._day_of[key] = datetime.fromisoformat(ts).astimezone(self.zone).date()
        return day

    def read(self, events: Iterable[Any]) -> None:
        for event in events:
            kind = event.type
            if kind not in REPORT_EVENTS:
                continue
            day = self.day(event.ts)
            counts = self.days.get(day)
            if counts is None:
                counts = self.days[day] = Counter()
            if kind in FIGURE_EVENTS:
                fact = _Fact(kind, event.ts, event.app, event.data, day)
                self.facts.append(fact)
                self._count_figure(counts, fact)
            else:
                self._count(counts, kind, event)

    def _count_figure(self, counts: Counter[_Key], fact: _Fact) -> None:
        app = fact.app or ""
        if fact.type == EventType.APPLICATION_SUBMITTED:
            counts["submitted", ""] += 1
            self._service_of[app] = fact.data["service"]
        elif fact.type == EventType.APPLICATION_COMPLETED:
            self.handed_over_on[app] = fact.day
            counts["handed_over", self._service_of.get(app, "")] += 1
            if app in self._late:
                counts["late", ""] += 1

    def _count(self, counts: Counter[_Key], kind: str, event: Any) -> None:
        if kind == EventType.STEP_FINISHED:
            data = event.data
            step = data["step"]
            counts["finished", step] += 1
            if data["duration_ms"] <= _SOP_MS[step]:
                counts["within", step] += 1
        elif kind == EventType.APPLICATION_OVERDUE:
            self._late.add(event.app or "")
        elif kind == EventType.APPLICATION_RETURNED:
            data = event.data
            counts["returned", data["step"]] += 1
            for document in data.get("missing_documents") or ():
                counts["missing", document] += 1
        elif kind == EventType.BLANK_ISSUED:
            counts["issued", ""] += 1
        elif kind == EventType.BLANK_SPOILED:
            counts["spoiled", event.data["reason"]] += 1
        elif kind == EventType.SURAT_KETERANGAN_ISSUED:
            counts["suket", ""] += 1


def _activity(days: Mapping[date, Counter[_Key]], period: Period) -> Activity:
    total: Counter[_Key] = Counter()
    for day, counts in days.items():
        if period.contains(day):
            total.update(counts)

    def of(kind: str) -> dict[str, int]:
        return {key: n for (k, key), n in total.items() if k == kind}

    handed = of("handed_over")
    returned = of("returned")
    spoiled = of("spoiled")
    return Activity(
        submitted=total["submitted", ""],
        handed_over=sum(handed.values()),
        handed_over_by_service={s: handed.get(s.value, 0) for s in ServiceType},
        handed_over_late=total["late", ""],
        returned=sum(returned.values()),
        returned_by_step={step: returned.get(step.value, 0) for step in RETURN_STEPS},
        missing_documents={d: n for d in Document if (n := of("missing").get(d.value, 0))},
        steps_finished={spec.step: total["finished", spec.step.value] for spec in SOP_STEPS},
        steps_within_sop={spec.step: total["within", spec.step.value] for spec in SOP_STEPS},
        cards_issued=total["issued", ""],
        cards_spoiled=sum(spoiled.values()),
        spoiled_by_reason=dict(sorted(spoiled.items())),
        surat_keterangan=total["suket", ""],
    )


def _share(count: int, of: int) -> Fraction | None:
    return Fraction(count, of) if of else None


def _measures(activity: Activity, result: Figures, targets: TargetsSection) -> tuple[Measure, ...]:
    measures = []
    steps_target = share_of(targets.steps_within_sop_percent)
    for spec in SOP_STEPS:
        finished = activity.steps_finished[spec.step]
        within = activity.steps_within_sop[spec.step]
        measures.append(
            Measure(
                key=f"step.{spec.step.value}",
                label=Text(
                    f"Langkah {spec.number} ({spec.short.id}) selesai dalam {spec.minutes} menit",
                    f"Step {spec.number} ({spec.short.en}) done within {spec.minutes} min",
                ),
                unit="share",
                bound="at_least",
                target=steps_target,
                achieved=_share(within, finished),
                count=within,
                of=finished,
            )
        )
    on_time = activity.handed_over - activity.handed_over_late
    measures.append(
        Measure(
            key="served_one_day",
            label=Text("Selesai dalam 1 hari kerja", "Served within 1 working day"),
            unit="share",
            bound="at_least",
            target=share_of(targets.served_within_one_day_percent),
            achieved=_share(on_time, activity.handed_over),
            count=on_time,
            of=activity.handed_over,
        )
    )
    index = result.survey.index
    measures.append(
        Measure(
            key="ikm",
            label=Text("Indeks Kepuasan Masyarakat (IKM)", "Satisfaction index (IKM)"),
            unit="ikm",
            bound="at_least",
            target=targets.ikm_lowest,
            achieved=index.ikm if index else None,
            count=result.survey.respondents,
        )
    )
    complaints = result.complaints
    measures.append(
        Measure(
            key="complaints_on_time",
            label=Text("Pengaduan selesai tepat waktu", "Complaints closed by their deadline"),
            unit="share",
            bound="at_least",
            target=share_of(targets.complaints_on_time_percent),
            achieved=complaints.on_time_share,
            count=complaints.closed_on_time,
            of=complaints.due,
        )
    )
    used = activity.cards_issued + activity.cards_spoiled
    measures.append(
        Measure(
            key="spoiled_cards",
            label=Text("Blangko KTP-el rusak", "Blank cards spoiled"),
            unit="share",
            bound="at_most",
            target=share_of(targets.spoiled_cards_percent),
            achieved=_share(activity.cards_spoiled, used),
            count=activity.cards_spoiled,
            of=used,
        )
    )
    for step in RETURN_STEPS:
        label = _RETURN_LABELS[step]
        returned = activity.returned_by_step[step]
        measures.append(
            Measure(
                key=f"returns.{step.value}",
                label=Text(f"Dikembalikan: {label.id}", f"Returned: {label.en}"),
                unit="share",
                bound="at_most",
                target=targets.returns_share(step),
                achieved=_share(returned, activity.decided),
                count=returned,
                of=activity.decided,
            )
        )
    return tuple(measures)


def _breakdown_of(period: Period) -> list[Period]:
    if period.kind is PeriodKind.DAY:
        return []
    kind = PeriodKind.DAY if period.kind is PeriodKind.MONTH else PeriodKind.MONTH
    parts = [Period.containing(period.first, kind)]
    while parts[-1].last < period.last:
        parts.append(Period.containing(parts[-1].last + timedelta(days=1), kind))
    return parts


def _history_of(period: Period) -> list[Period]:
    periods = [period]
    for _ in range(HISTORY[period.kind] - 1):
        periods.append(periods[-1].previous())
    return periods[::-1]


_COMPLAINT_LATER: Final = frozenset(
    {
        EventType.COMPLAINT_VERIFIED,
        EventType.COMPLAINT_FOLLOWED_UP,
        EventType.COMPLAINT_CLOSED,
        EventType.COMPLAINT_ESCALATED,
    }
)


def _relevant(reading: _Reading, period: Period) -> list[_Fact]:
    """What `figures` can count for `period`: the events of it and of the period before
    (whose handovers are the sample's population), the submissions of the files handed
    over then (handed in perhaps long before), and every complaint's later steps. The
    same figures, with less to read for a trend of many periods over a long register."""
    start = period.previous().first
    last = period.last
    handed_over = reading.handed_over_on
    kept = []
    for fact in reading.facts:
        if fact.type == EventType.APPLICATION_SUBMITTED:
            ended = handed_over.get(fact.app or "")
            if ended is not None and start <= ended <= last:
                kept.append(fact)
        elif fact.type in _COMPLAINT_LATER or start <= fact.day <= last:
            kept.append(fact)
    return kept


def report(
    events: Iterable[Any], period: Period, zone: ZoneInfo, targets: TargetsSection
) -> Report:
    """The period's report from `events` in register order (see the module's doc):
    pass the whole register, or at least from the earliest trend period's previous one
    (a sample's population) onward, with every submission."""
    reading = _Reading(zone)
    reading.read(events)
    days = reading.days

    def slice_of(part: Period) -> tuple[Figures, Activity, tuple[Measure, ...]]:
        result = figures(_relevant(reading, part), part, zone)
        activity = _activity(days, part)
        return result, activity, _measures(activity, result, targets)

    result, activity, measures = slice_of(period)
    history = [
        Slice(part, measures if part == period else slice_of(part)[2])
        for part in _history_of(period)
    ]
    breakdown = [Slice(part, slice_of(part)[2]) for part in _breakdown_of(period)]
    return Report(
        period=period,
        targets=targets,
        measures=measures,
        activity=activity,
        figures=result,
        history=tuple(history),
        breakdown=tuple(breakdown),
    )


__all__ = ["HISTORY", "REPORT_EVENTS", "Activity", "Measure", "Report", "Slice", "report"]
