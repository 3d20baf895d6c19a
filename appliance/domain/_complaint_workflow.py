"""The complaint book's workflow (seed 001 §11): a complaint's states from received to
closed, a quarter's recap from drafted to published, and who may cause each transition,
in the same rows as the application's (`_workflow.py`), applied by the register's
projections and checked by the pipeline alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from appliance.domain._workflow import Agent, EventType, StateTransition


class ComplaintState(StrEnum):
    """A complaint in the complaint book (*Buku Pengaduan*, seed 001 §11)."""

    RECEIVED = "received"
    VERIFIED = "verified"
    """The section head has read it, and set its category (and so its deadline)."""
    FOLLOWED_UP = "followed_up"
    """At least one follow-up recorded, with who did it."""
    CLOSED = "closed"


OPEN_COMPLAINT_STATES: Final = frozenset(
    {ComplaintState.RECEIVED, ComplaintState.VERIFIED, ComplaintState.FOLLOWED_UP}
)
"""A complaint not closed: its deadline runs, and past it the complaint is escalated."""


class RecapState(StrEnum):
    """A quarter's complaint recap (seed 001 §11.8-11.9)."""

    DRAFTED = "drafted"
    APPROVED = "approved"
    """By the Camat: the draft's version is fixed."""
    PUBLISHED = "published"
    """On the waiting room's board."""


@dataclass(frozen=True, slots=True)
class Mark:
    """An event that marks a complaint in one of `states` and leaves it there."""

    event: EventType
    states: frozenset[ComplaintState]
    by: frozenset[Agent]


_STATION = frozenset({Agent.STATION})
_Q = ComplaintState
_SECTION_HEAD = frozenset({Agent.SECTION_HEAD})
COMPLAINT_TRANSITIONS: Final[Mapping[EventType, StateTransition]] = MappingProxyType(
    {
        t.event: t
        for t in (
            # Written into the book by whoever takes it: at the information desk, from the
            # suggestion box at the day's close, from a call or a LAPOR! report (§11.3-11.5).
            StateTransition(
                EventType.COMPLAINT_RECEIVED,
                frozenset[ComplaintState](),
                _Q.RECEIVED,
                frozenset({Agent.COUNTER_OFFICER, Agent.SECTION_HEAD, Agent.OPERATOR}),
            ),
            # The section head follows up (§11.6): verifies, acts, closes.
            StateTransition(
                EventType.COMPLAINT_VERIFIED, frozenset({_Q.RECEIVED}), _Q.VERIFIED, _SECTION_HEAD
            ),
            StateTransition(
                EventType.COMPLAINT_FOLLOWED_UP,
                frozenset({_Q.VERIFIED, _Q.FOLLOWED_UP}),
                _Q.FOLLOWED_UP,
                _SECTION_HEAD,
            ),
            StateTransition(
                EventType.COMPLAINT_CLOSED, frozenset({_Q.FOLLOWED_UP}), _Q.CLOSED, _SECTION_HEAD
            ),
        )
    }
)

COMPLAINT_ESCALATION: Final = Mark(
    EventType.COMPLAINT_ESCALATED, frozenset(OPEN_COMPLAINT_STATES), _STATION
)
"""Past its deadline, an open complaint is escalated to the section head, once, by the
station's own watch; it stays where it was."""

_R = RecapState
RECAP_TRANSITIONS: Final[Mapping[EventType, StateTransition]] = MappingProxyType(
    {
        t.event: t
        for t in (
            # Drafted by the information officer (§11.8), or drafted again before approval.
            StateTransition(
                EventType.RECAP_DRAFTED,
                frozenset({_R.DRAFTED}),
                _R.DRAFTED,
                frozenset({Agent.COUNTER_OFFICER, Agent.SECTION_HEAD}),
            ),
            StateTransition(
                EventType.RECAP_APPROVED,
                frozenset({_R.DRAFTED}),
                _R.APPROVED,
                frozenset({Agent.SUPERVISOR}),
            ),
            # The Camat announces it (§11.9); the section head may put it up for them.
            StateTransition(
                EventType.RECAP_PUBLISHED,
                frozenset({_R.APPROVED}),
                _R.PUBLISHED,
                frozenset({Agent.SUPERVISOR, Agent.SECTION_HEAD}),
            ),
        )
    }
)


__all__ = [
    "COMPLAINT_ESCALATION",
    "COMPLAINT_TRANSITIONS",
    "OPEN_COMPLAINT_STATES",
    "RECAP_TRANSITIONS",
    "ComplaintState",
    "Mark",
    "RecapState",
]
