"""The SOP's workflow in one place: what can happen at the station (event types), the
states of an application, a queue ticket and a blank card, and the tables of transitions
that say, for each event, from which state to which, and who may cause it. The complaint
book's and the recap's states follow the same rules in `_complaint_workflow.py`.

The register's projections apply every event through these tables, and the pipeline checks
an officer's action against the same tables before it writes anything, so the two cannot
disagree (a test walks every state and event to show it). A state is spelled in one of
these two modules and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from appliance.domain._sop import Role, Step

if TYPE_CHECKING:  # the complaint book's workflow builds on this module's rows
    from appliance.domain._complaint_workflow import ComplaintState, Mark, RecapState


class EventType(StrEnum):
    """Everything the register can record: the catalogue of the central office's contract."""

    REGISTER_CREATED = "register.created"
    APPLICATION_SUBMITTED = "application.submitted"
    APPLICATION_ADVANCED = "application.advanced"
    APPLICATION_RETURNED = "application.returned"
    APPLICATION_COMPLETED = "application.completed"
    QUEUE_TICKET_ISSUED = "queue.ticket_issued"
    QUEUE_CALLED = "queue.called"
    QUEUE_RECALLED = "queue.recalled"
    QUEUE_NO_SHOW = "queue.no_show"
    STEP_STARTED = "step.started"
    STEP_FINISHED = "step.finished"
    STEP_FAILED = "step.failed"
    STEP_SKIPPED = "step.skipped"
    STEP_BREACHED = "step.breached"
    BIOMETRICS_RECORDED = "biometrics.recorded"
    BIOMETRICS_PURGED = "biometrics.purged"
    APPLICATION_OVERDUE = "application.overdue"
    REGION_CONFIRMED = "application.region_confirmed"
    ACTIVATION_DECIDED = "activation.decided"
    BLANK_RECEIVED = "blank.received"
    BLANK_FED = "blank.fed"
    BLANK_FEED_FAILED = "blank.feed_failed"
    BLANK_ISSUED = "blank.issued"
    BLANK_SPOILED = "blank.spoiled"
    CARD_PERSONALISED = "card.personalised"
    CARD_PRINTED = "card.printed"
    CARD_ACTIVATION_ATTEMPT = "card.activation_attempt"
    SURAT_KETERANGAN_ISSUED = "suket.issued"
    SURVEY_KEYPAD_PRESSED = "survey.keypad_pressed"
    SURVEY_QUESTIONNAIRE_ANSWERED = "survey.questionnaire_answered"
    COMPLAINT_RECEIVED = "complaint.received"
    COMPLAINT_VERIFIED = "complaint.verified"
    COMPLAINT_FOLLOWED_UP = "complaint.followed_up"
    COMPLAINT_CLOSED = "complaint.closed"
    COMPLAINT_ESCALATED = "complaint.escalated"
    RECAP_DRAFTED = "recap.drafted"
    RECAP_APPROVED = "recap.approved"
    RECAP_PUBLISHED = "recap.published"


class ApplicationState(StrEnum):
    """Where an application stands as a whole."""

    IN_PROGRESS = "in_progress"
    WAITING_BLANK = "waiting_blank"
    """Recorded, not printed: a Surat Keterangan was issued and a blank card is awaited."""
    RETURNED = "returned"
    COMPLETED = "completed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES: Final = frozenset({ApplicationState.IN_PROGRESS, ApplicationState.WAITING_BLANK})
"""An open application still needs the station; the others are over."""


class Phase(StrEnum):
    """The state of the application's current step."""

    WAITING = "waiting"
    """For its person and devices (or, after a failure, to be started again)."""
    ACTIVE = "active"
    """Given to its person and devices."""
    FINISHED = "finished"


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVED = "served"
    NO_SHOW = "no_show"


class CardState(StrEnum):
    """A blank card from the moment it leaves the hopper."""

    FED = "fed"
    PERSONALISED = "personalised"
    PRINTED = "printed"
    ISSUED = "issued"
    SPOILED = "spoiled"
    NOT_FED = "not_fed"
    """The printer took no card after all: the blank is still in stock."""


IN_PROCESS_CARD_STATES: Final = frozenset(
    {CardState.FED, CardState.PERSONALISED, CardState.PRINTED}
)
"""Cards out of the hopper and neither issued nor spoiled."""


class Agent(StrEnum):
    """Who may cause a transition: an officer in a role, or the station by itself (its
    device steps, its timers)."""

    COUNTER_OFFICER = Role.COUNTER_OFFICER.value
    SECTION_HEAD = Role.SECTION_HEAD.value
    OPERATOR = Role.OPERATOR.value
    SUPERVISOR = Role.SUPERVISOR.value
    STATION = "station"
    KIOSK = "kiosk"
    """A citizen at the station's ticket kiosk: nobody signed in, and it only takes a
    queue ticket."""
    STEP_OWNER = "step_owner"
    """The officer whose step it is (`STEP_OWNER`): a step's events follow its step."""
    ANY_OFFICER = "any_officer"


STEP_OWNER: Final[Mapping[Step, Role]] = MappingProxyType(
    {
        Step.SUBMIT: Role.COUNTER_OFFICER,
        Step.CHECK: Role.COUNTER_OFFICER,
        Step.VALIDATE: Role.SECTION_HEAD,
        Step.BIOMETRIC: Role.OPERATOR,
        Step.ENCODE_PRINT: Role.OPERATOR,
        Step.ACTIVATE: Role.OPERATOR,
        Step.TRANSFER: Role.OPERATOR,
        Step.HANDOVER: Role.COUNTER_OFFICER,
    }
)
"""Who starts and finishes each step (the encode and print step starts by itself; the
operator may start it again after a failure)."""


class AtStep(StrEnum):
    """Which step an application must stand at for a step's event."""

    EVENT = "event"
    """The step the event names."""
    ANY = "any"


@dataclass(frozen=True, slots=True)
class ApplicationTransition:
    """One row of the application's table. `None` in a `to_` column keeps the value."""

    event: EventType
    states: frozenset[ApplicationState]
    """The states it applies from; empty for the event that creates the application."""
    phases: frozenset[Phase] | None
    """The phases of the current step it applies from; None: any."""
    at_step: AtStep | Step
    to_state: ApplicationState | None
    to_phase: Phase | None
    to_step: AtStep | Step | None
    """AtStep.EVENT: the step the event names."""
    by: frozenset[Agent]

    @property
    def creates(self) -> bool:
        return not self.states

    def applies_to(
        self, *, state: ApplicationState, phase: Phase, step: Step, event_step: Step | None
    ) -> bool:
        """Whether an application in (`state`, `phase`, at `step`) takes this event."""
        if self.creates or state not in self.states:
            return False
        if self.phases is not None and phase not in self.phases:
            return False
        if self.at_step is AtStep.EVENT:
            return step == event_step
        return self.at_step is AtStep.ANY or step == self.at_step


@dataclass(frozen=True, slots=True)
class StateTransition:
    """One row of a ticket's, a card's, a complaint's or a recap's table: from `states`
    (empty: it creates the ticket, card, complaint or recap) to `to_state`."""

    event: EventType
    states: (
        frozenset[TicketState]
        | frozenset[CardState]
        | frozenset[ComplaintState]
        | frozenset[RecapState]
    )
    to_state: TicketState | CardState | ComplaintState | RecapState
    by: frozenset[Agent]


_OPEN = OPEN_STATES
_IN_PROGRESS = frozenset({ApplicationState.IN_PROGRESS})
_OWNER_OR_STATION = frozenset({Agent.STEP_OWNER, Agent.STATION})
_STATION = frozenset({Agent.STATION})
_COUNTER = frozenset({Agent.COUNTER_OFFICER})


def _app(  # noqa: PLR0917 - a row of the table, read as one
    event: EventType,
    states: frozenset[ApplicationState],
    phases: frozenset[Phase] | None,
    at_step: AtStep | Step,
    to: tuple[ApplicationState | None, Phase | None, AtStep | Step | None],
    by: frozenset[Agent],
) -> ApplicationTransition:
    return ApplicationTransition(event, states, phases, at_step, *to, by=by)


_W, _A = frozenset({Phase.WAITING}), frozenset({Phase.ACTIVE})
# event                                 from: states, phases, step      to: state, phase, step
APPLICATION_TRANSITIONS: Final[Mapping[EventType, ApplicationTransition]] = MappingProxyType(
    {
        t.event: t
        for t in (
            _app(
                EventType.APPLICATION_SUBMITTED,
                frozenset(),
                None,
                AtStep.ANY,
                (ApplicationState.IN_PROGRESS, Phase.ACTIVE, Step.SUBMIT),
                _COUNTER,
            ),
            _app(
                EventType.STEP_STARTED,
                _OPEN,
                _W,
                AtStep.EVENT,
                (ApplicationState.IN_PROGRESS, Phase.ACTIVE, None),
                _OWNER_OR_STATION,
            ),
            _app(
                EventType.STEP_FINISHED,
                _OPEN,
                _A,
                AtStep.EVENT,
                (None, Phase.FINISHED, None),
                _OWNER_OR_STATION,
            ),
            # A step decided away (recorded before: no biometric recording).
            _app(
                EventType.STEP_SKIPPED,
                _OPEN,
                _W,
                AtStep.EVENT,
                (None, Phase.FINISHED, None),
                frozenset({Agent.SECTION_HEAD}),
            ),
            # A device step that did not finish waits to be started again.
            _app(
                EventType.STEP_FAILED,
                _OPEN,
                _A,
                AtStep.EVENT,
                (None, Phase.WAITING, None),
                _STATION,
            ),
            _app(EventType.STEP_BREACHED, _OPEN, _A, AtStep.EVENT, (None, None, None), _STATION),
            # A region code missing from the official list, confirmed at validation.
            _app(
                EventType.REGION_CONFIRMED,
                _OPEN,
                frozenset({Phase.ACTIVE, Phase.FINISHED}),
                Step.VALIDATE,
                (None, None, None),
                frozenset({Agent.SECTION_HEAD}),
            ),
            # The section head's decision on a refused activation (the finger did not
            # match, the card was not the applicant's): the step waits again with the
            # refusal settled; a reprint or a return follows in the same transaction.
            _app(
                EventType.ACTIVATION_DECIDED,
                _IN_PROGRESS,
                _W,
                Step.ACTIVATE,
                (None, Phase.WAITING, None),
                frozenset({Agent.SECTION_HEAD}),
            ),
            _app(
                EventType.BIOMETRICS_RECORDED,
                _OPEN,
                _A,
                Step.BIOMETRIC,
                (None, None, None),
                _STATION,
            ),
            # Into the next step; or back to encoding, after a card spoiled at activation.
            _app(
                EventType.APPLICATION_ADVANCED,
                _IN_PROGRESS,
                None,
                AtStep.ANY,
                (ApplicationState.IN_PROGRESS, Phase.WAITING, AtStep.EVENT),
                _OWNER_OR_STATION,
            ),
            _app(
                EventType.APPLICATION_RETURNED,
                _IN_PROGRESS,
                None,
                AtStep.ANY,
                (ApplicationState.RETURNED, Phase.FINISHED, AtStep.EVENT),
                frozenset({Agent.COUNTER_OFFICER, Agent.SECTION_HEAD}),
            ),
            _app(
                EventType.APPLICATION_COMPLETED,
                _IN_PROGRESS,
                None,
                AtStep.ANY,
                (ApplicationState.COMPLETED, Phase.FINISHED, Step.HANDOVER),
                _COUNTER,
            ),
            _app(EventType.APPLICATION_OVERDUE, _OPEN, None, AtStep.ANY, (None,) * 3, _STATION),
            # No blank card: the applicant leaves with a Surat Keterangan.
            _app(
                EventType.SURAT_KETERANGAN_ISSUED,
                _IN_PROGRESS,
                None,
                AtStep.ANY,
                (ApplicationState.WAITING_BLANK, Phase.WAITING, None),
                _STATION,
            ),
            # A blank arriving resumes an application that waited for one.
            _app(
                EventType.BLANK_FED,
                _OPEN,
                None,
                AtStep.ANY,
                (ApplicationState.IN_PROGRESS, None, None),
                _STATION,
            ),
        )
    }
)

_T = TicketState
TICKET_TRANSITIONS: Final[Mapping[EventType, StateTransition]] = MappingProxyType(
    {
        t.event: t
        for t in (
            # Handed out by an officer, or taken by a citizen at the kiosk.
            StateTransition(
                EventType.QUEUE_TICKET_ISSUED,
                frozenset[TicketState](),
                _T.WAITING,
                frozenset({Agent.ANY_OFFICER, Agent.KIOSK}),
            ),
            StateTransition(EventType.QUEUE_CALLED, frozenset({_T.WAITING}), _T.CALLED, _COUNTER),
            StateTransition(
                EventType.QUEUE_RECALLED,
                frozenset({_T.CALLED, _T.NO_SHOW}),
                _T.CALLED,
                _COUNTER,
            ),
            StateTransition(
                EventType.QUEUE_NO_SHOW,
                frozenset({_T.CALLED}),
                _T.NO_SHOW,
                frozenset({Agent.COUNTER_OFFICER, Agent.STATION}),
            ),
            # The file handed in at the counter serves the ticket called there.
            StateTransition(
                EventType.APPLICATION_SUBMITTED, frozenset({_T.CALLED}), _T.SERVED, _COUNTER
            ),
        )
    }
)

_C = CardState
CARD_TRANSITIONS: Final[Mapping[EventType, StateTransition]] = MappingProxyType(
    {
        t.event: t
        for t in (
            StateTransition(EventType.BLANK_FED, frozenset[CardState](), _C.FED, _STATION),
            StateTransition(EventType.BLANK_FEED_FAILED, frozenset({_C.FED}), _C.NOT_FED, _STATION),
            StateTransition(
                EventType.CARD_PERSONALISED, frozenset({_C.FED}), _C.PERSONALISED, _STATION
            ),
            StateTransition(
                EventType.CARD_PRINTED, frozenset({_C.PERSONALISED}), _C.PRINTED, _STATION
            ),
            StateTransition(
                EventType.CARD_ACTIVATION_ATTEMPT, frozenset({_C.PRINTED}), _C.PRINTED, _STATION
            ),
            StateTransition(EventType.BLANK_ISSUED, frozenset({_C.PRINTED}), _C.ISSUED, _STATION),
            # A blank spoiled in the stockroom has no card row: only the stock changes. The
            # section head spoils a printed card by deciding on its refused activation.
            StateTransition(
                EventType.BLANK_SPOILED,
                IN_PROCESS_CARD_STATES,
                _C.SPOILED,
                frozenset({Agent.STATION, Agent.OPERATOR, Agent.SECTION_HEAD}),
            ),
        )
    }
)


def may_cause(
    transition: ApplicationTransition | StateTransition | Mark,
    role: Role,
    *,
    step: Step | None = None,
) -> bool:
    """Whether an officer in `role` may cause `transition` (for a step's event, the
    step's owner)."""
    if Agent.ANY_OFFICER in transition.by:
        return True
    if Agent.STEP_OWNER in transition.by and step is not None and STEP_OWNER[step] is role:
        return True
    agent = _AGENT_OF_ROLE.get(role)
    return agent is not None and agent in transition.by


_AGENT_OF_ROLE: Final[Mapping[Role, Agent]] = MappingProxyType(
    {
        Role.COUNTER_OFFICER: Agent.COUNTER_OFFICER,
        Role.SECTION_HEAD: Agent.SECTION_HEAD,
        Role.OPERATOR: Agent.OPERATOR,
        Role.SUPERVISOR: Agent.SUPERVISOR,
    }
)


__all__ = [
    "APPLICATION_TRANSITIONS",
    "CARD_TRANSITIONS",
    "IN_PROCESS_CARD_STATES",
    "OPEN_STATES",
    "STEP_OWNER",
    "TICKET_TRANSITIONS",
    "Agent",
    "ApplicationState",
    "ApplicationTransition",
    "AtStep",
    "CardState",
    "EventType",
    "Phase",
    "StateTransition",
    "TicketState",
    "may_cause",
]
