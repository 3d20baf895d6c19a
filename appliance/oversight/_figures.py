"""The oversight figures of a period, as a pure function of register events.

`figures(events, period, zone)` reads the events in register order and nothing else: no
clock, no derived table, no configuration but the station's time zone (which local date
an event falls on). The station computes its figures from its register, the central
office from the events it received, and the two get equal numbers (exact fractions).

What it counts:
- the questionnaires answered in the period, per service type and overall: each
  element's NRR, the unit index, IKM and grade (`SurveyIndex`), the respondents'
  profiles; the people served (cards handed over) in the period and in the previous one,
  which is the sample's population N (the period itself when the register holds no
  handover before it: a new station), the minimum sample and whether it is short;
- the keypad's presses, as their own counts and satisfaction share;
- the complaints received in the period: by channel, category, element, and status as
  of the last event given; escalated; closed, closed by their deadline, time to close.

Events beyond the period may be passed (and are needed: a complaint received in the
period and closed after it, an application submitted before the period and handed
over in it); `FIGURE_EVENTS` are the types it reads, for a caller to filter by.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any, Final, Literal, Protocol
from zoneinfo import ZoneInfo

from appliance.domain import ComplaintState, EventType, ServiceType

from ._complaints import Category, Channel
from ._elements import Element
from ._index import SurveyIndex
from ._instruments import PROFILE_LABELS, Satisfaction
from ._period import Period
from ._sample import minimum_sample


class RegisterEvent(Protocol):
    """What the figures read of an event: the register's `Event` and the collector's."""

    @property
    def type(self) -> str: ...
    @property
    def ts(self) -> str: ...
    @property
    def app(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...


FIGURE_EVENTS: Final = (
    EventType.APPLICATION_SUBMITTED,
    EventType.APPLICATION_COMPLETED,
    EventType.SURVEY_KEYPAD_PRESSED,
    EventType.SURVEY_QUESTIONNAIRE_ANSWERED,
    EventType.COMPLAINT_RECEIVED,
    EventType.COMPLAINT_VERIFIED,
    EventType.COMPLAINT_FOLLOWED_UP,
    EventType.COMPLAINT_CLOSED,
    EventType.COMPLAINT_ESCALATED,
)
"""The event types `figures` reads; any others given are passed over."""

PopulationBasis = Literal["previous", "current"]


@dataclass(frozen=True, slots=True)
class KeypadFigures:
    counts: Mapping[Satisfaction, int]

    @property
    def presses(self) -> int:
        return sum(self.counts.values())

    @property
    def satisfied_share(self) -> Fraction | None:
        """Very satisfied or satisfied, of all presses; None without presses."""
        if not self.presses:
            return None
        satisfied = sum(n for rating, n in self.counts.items() if rating.satisfied)
        return Fraction(satisfied, self.presses)


@dataclass(frozen=True, slots=True)
class SurveyFigures:
    """One service type's figures, or every service's together (`service` None)."""

    service: ServiceType | None
    index: SurveyIndex | None
    """The questionnaires' index; None when nobody answered one."""
    served: int
    """Cards handed over in the period."""
    population: int
    """N, the people served the sample is drawn from."""
    population_basis: PopulationBasis
    keypad: KeypadFigures
    profile: Mapping[str, Mapping[str, int]]
    """Per profile question, how many respondents gave each answer (`-`: none given)."""

    @property
    def respondents(self) -> int:
        return self.index.respondents if self.index else 0

    @property
    def minimum_sample(self) -> int:
        return minimum_sample(self.population)

    @property
    def sample_short(self) -> bool:
        return self.respondents < self.minimum_sample


@dataclass(frozen=True, slots=True)
class ComplaintFigures:
    received: int
    by_channel: Mapping[Channel, int]
    by_category: Mapping[Category, int]
    by_status: Mapping[ComplaintState, int]
    by_element: Mapping[Element, int]
    """The survey element each complaint concerns (when one was named)."""
    escalated: int
    closed: int
    closed_on_time: int
    close_seconds_total: int
    close_seconds_max: int
    escalated_open: int = 0
    """Escalated and not closed as of the last event given: open past their deadline (0
    in the counts a recap recorded, which do not carry it)."""

    @property
    def mean_days_to_close(self) -> Fraction | None:
        if not self.closed:
            return None
        return Fraction(self.close_seconds_total, self.closed * 86_400)

    @property
    def due(self) -> int:
        """The complaints an on-time share is judged on: those closed, and those still open
        past their deadline (a complaint left open must not flatter the share)."""
        return self.closed + self.escalated_open

    @property
    def on_time_share(self) -> Fraction | None:
        """Closed by their deadline, of those due."""
        return Fraction(self.closed_on_time, self.due) if self.due else None


@dataclass(frozen=True, slots=True)
class Figures:
    period: Period
    survey: SurveyFigures
    by_service: Mapping[ServiceType, SurveyFigures]
    complaints: ComplaintFigures


@dataclass(slots=True)
class _Complaint:
    channel: Channel
    category: Category
    element: Element | None
    received: datetime
    due: datetime
    state: ComplaintState = ComplaintState.RECEIVED
    escalated: bool = False
    closed: datetime | None = None


@dataclass(slots=True)
class _Scope:
    served: int = 0
    served_before: int = 0
    answers: list[Mapping[Element, int]] = field(default_factory=list)
    presses: Counter[Satisfaction] = field(default_factory=Counter)
    profile: dict[str, Counter[str]] = field(
        default_factory=lambda: {question: Counter() for question in PROFILE_LABELS}
    )


def _moment(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def figures(events: Iterable[RegisterEvent], period: Period, zone: ZoneInfo) -> Figures:
    """The period's figures from `events` in register order (see the module's doc)."""
    before = period.previous()
    service_of: dict[str, ServiceType] = {}
    scopes: dict[ServiceType, _Scope] = {service: _Scope() for service in ServiceType}
    complaints: dict[str, _Complaint] = {}

    def local_day(ts: str) -> date:
        return _moment(ts).astimezone(zone).date()

    for event in events:
        kind = event.type
        if kind == EventType.APPLICATION_SUBMITTED:
            if event.app is not None:
                service_of[event.app] = ServiceType(event.data["service"])
        elif kind == EventType.APPLICATION_COMPLETED:
            service = service_of.get(event.app or "")
            day = local_day(event.ts)
            if service is not None and period.contains(day):
                scopes[service].served += 1
            elif service is not None and before.contains(day):
                scopes[service].served_before += 1
        elif kind in _SURVEY and period.contains(local_day(event.ts)):
            _count_survey(scopes[ServiceType(event.data["service"])], kind, event.data)
        elif kind in _COMPLAINT:
            _follow_complaint(complaints, kind, event, period, local_day)
    return Figures(
        period=period,
        survey=_survey_figures(None, list(scopes.values())),
        by_service={s: _survey_figures(s, [scope]) for s, scope in scopes.items()},
        complaints=_complaint_figures(complaints.values()),
    )


_SURVEY: Final = frozenset(
    {EventType.SURVEY_KEYPAD_PRESSED, EventType.SURVEY_QUESTIONNAIRE_ANSWERED}
)
_COMPLAINT: Final = frozenset(
    {
        EventType.COMPLAINT_RECEIVED,
        EventType.COMPLAINT_VERIFIED,
        EventType.COMPLAINT_FOLLOWED_UP,
        EventType.COMPLAINT_CLOSED,
        EventType.COMPLAINT_ESCALATED,
    }
)
_STATE_AFTER: Final = {
    EventType.COMPLAINT_VERIFIED: ComplaintState.VERIFIED,
    EventType.COMPLAINT_FOLLOWED_UP: ComplaintState.FOLLOWED_UP,
    EventType.COMPLAINT_CLOSED: ComplaintState.CLOSED,
}


def _count_survey(scope: _Scope, kind: str, data: dict[str, Any]) -> None:
    if kind == EventType.SURVEY_KEYPAD_PRESSED:
        scope.presses[Satisfaction(data["rating"])] += 1
        return
    scope.answers.append({element: int(data["answers"][element]) for element in Element})
    profile = data.get("profile") or {}
    for question, counts in scope.profile.items():
        counts[str(profile.get(question) or "-")] += 1


def _follow_complaint(
    complaints: dict[str, _Complaint],
    kind: str,
    event: RegisterEvent,
    period: Period,
    local_day: Callable[[str], date],
) -> None:
    data = event.data
    number = str(data["number"])
    if kind == EventType.COMPLAINT_RECEIVED:
        if period.contains(local_day(event.ts)):
            complaints[number] = _Complaint(
                channel=Channel(data["channel"]),
                category=Category(data["category"]),
                element=Element(data["element"]) if data.get("element") else None,
                received=_moment(event.ts),
                due=_moment(data["due"]),
            )
        return
    complaint = complaints.get(number)
    if complaint is None:  # received in another period
        return
    if kind == EventType.COMPLAINT_ESCALATED:
        complaint.escalated = True
        return
    complaint.state = _STATE_AFTER[EventType(kind)]
    if kind == EventType.COMPLAINT_VERIFIED:
        if data.get("category"):
            complaint.category = Category(data["category"])
        if data.get("due"):
            complaint.due = _moment(data["due"])
    elif kind == EventType.COMPLAINT_CLOSED:
        complaint.closed = _moment(event.ts)


def _survey_figures(service: ServiceType | None, scopes: list[_Scope]) -> SurveyFigures:
    served = sum(scope.served for scope in scopes)
    served_before = sum(scope.served_before for scope in scopes)
    presses: Counter[Satisfaction] = Counter()
    profile: dict[str, Counter[str]] = {question: Counter() for question in PROFILE_LABELS}
    for scope in scopes:
        presses.update(scope.presses)
        for question, counts in scope.profile.items():
            profile[question].update(counts)
    return SurveyFigures(
        service=service,
        index=SurveyIndex.of(answers for scope in scopes for answers in scope.answers),
        served=served,
        population=served_before or served,
        population_basis="previous" if served_before else "current",
        keypad=KeypadFigures(counts={rating: presses[rating] for rating in Satisfaction}),
        profile={question: dict(sorted(counts.items())) for question, counts in profile.items()},
    )


def _complaint_figures(complaints: Iterable[_Complaint]) -> ComplaintFigures:
    chosen = list(complaints)
    closed = [c for c in chosen if c.closed is not None]
    seconds = [int((c.closed - c.received).total_seconds()) for c in closed if c.closed]
    return ComplaintFigures(
        received=len(chosen),
        by_channel={channel: sum(c.channel is channel for c in chosen) for channel in Channel},
        by_category={
            category: sum(c.category is category for c in chosen) for category in Category
        },
        by_status={state: sum(c.state is state for c in chosen) for state in ComplaintState},
        by_element={element: sum(c.element is element for c in chosen) for element in Element},
        escalated=sum(c.escalated for c in chosen),
        escalated_open=sum(c.escalated and c.closed is None for c in chosen),
        closed=len(closed),
        closed_on_time=sum(c.closed is not None and c.closed <= c.due for c in closed),
        close_seconds_total=sum(seconds),
        close_seconds_max=max(seconds, default=0),
    )


__all__ = [
    "FIGURE_EVENTS",
    "ComplaintFigures",
    "Figures",
    "KeypadFigures",
    "RegisterEvent",
    "SurveyFigures",
    "figures",
]
