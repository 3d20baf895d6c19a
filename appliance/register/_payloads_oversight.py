"""The payloads of the oversight events: the survey's two instruments, the complaint
book, and its quarterly recap. Their vocabularies (elements, ratings, channels,
categories) are `appliance.oversight`'s.

Nothing here holds a complainant's contact: `contact_ref` is a random token naming the
contact kept on the station (`appliance.oversight.ContactBook`). A survey event holds no
application, officer, counter or person: only the service type.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from appliance.domain import ComplaintState, Role, ServiceType
from appliance.oversight import (
    COMPLAINT_NUMBER_PATTERN,
    LAPOR_ID_PATTERN,
    Answers,
    Category,
    Channel,
    Element,
    Profile,
    Satisfaction,
    StandardPart,
)

from ._payloads import Actor, _Payload

LongText = Annotated[str, Field(min_length=1, max_length=1000)]
ComplaintNumber = Annotated[str, Field(pattern=COMPLAINT_NUMBER_PATTERN)]
Quarter = Annotated[str, Field(pattern=r"^[0-9]{4}-Q[1-4]$")]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Seconds = Annotated[int, Field(ge=0, le=10**10)]


class SurveyKeypadPressed(_Payload):
    """One press of the satisfaction keypad after a handover."""

    service: ServiceType
    rating: Satisfaction


class SurveyQuestionnaireAnswered(_Payload):
    """One questionnaire from the kiosk: all nine elements, by code."""

    service: ServiceType
    answers: Answers
    profile: Profile = Profile()


class ComplaintReceived(_Payload):
    """A complaint written into the book. The event's time is its receipt; `due`, its
    deadline on the office's calendar, is recorded so that anyone reading the events
    judges "closed on time" as the station did, without its calendar."""

    number: ComplaintNumber
    channel: Channel
    lapor_id: Annotated[str, Field(pattern=LAPOR_ID_PATTERN)] | None = None
    """The SP4N-LAPOR! tracking id, for a complaint that came that way."""
    anonymous: bool
    contact_ref: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    occurred_at: AwareDatetime | None = None
    """When what is complained of happened, if the complainant said."""
    account: LongText
    standard: StandardPart | None = None
    element: Element | None = None
    remedy: LongText | None = None
    """What the complainant asks the office to do."""
    category: Category
    due: AwareDatetime
    by: Actor

    @model_validator(mode="after")
    def _consistent(self) -> ComplaintReceived:
        if (self.channel is Channel.LAPOR) != (self.lapor_id is not None):
            raise ValueError("a LAPOR! complaint has its tracking id, and only it has one")
        if self.anonymous != (self.contact_ref is None):
            raise ValueError("a named complaint has a contact, and an anonymous one none")
        return self


class ComplaintVerified(_Payload):
    """The section head has read it and set its category, and so its deadline."""

    number: ComplaintNumber
    category: Category
    due: AwareDatetime
    standard: StandardPart | None = None
    element: Element | None = None
    note: LongText | None = None
    by: Actor


class ComplaintFollowedUp(_Payload):
    """What was done about it, by whom (the book's follow-up column, §11.6)."""

    number: ComplaintNumber
    action: LongText
    by: Actor


class ComplaintClosed(_Payload):
    number: ComplaintNumber
    outcome: LongText
    by: Actor


class ComplaintEscalated(_Payload):
    """Open past its deadline: escalated to the section head, by the station."""

    number: ComplaintNumber
    due: AwareDatetime
    to: Role = Role.SECTION_HEAD


class RecapCounts(_Payload):
    """The quarter's complaints as the recap states them (seed 001 §11.8)."""

    received: Count
    by_channel: dict[Channel, Count]
    by_category: dict[Category, Count]
    by_status: dict[ComplaintState, Count]
    by_element: dict[Element, Count]
    escalated: Count
    closed: Count
    closed_on_time: Count
    close_seconds_total: Seconds
    close_seconds_max: Seconds


class RecapDrafted(_Payload):
    """A quarter's recap drafted (again: `version` counts the drafts), with the counts
    as of the register's event `as_of_seq`, and the improvements the office promises."""

    period: Quarter
    version: Annotated[int, Field(ge=1, le=1000)]
    as_of_seq: Annotated[int, Field(ge=1)]
    counts: RecapCounts
    improvements: tuple[Annotated[str, Field(min_length=1, max_length=300)], ...] = Field(
        max_length=10
    )
    by: Actor


class RecapApproved(_Payload):
    """The Camat approved this version of the recap."""

    period: Quarter
    version: Annotated[int, Field(ge=1, le=1000)]
    by: Actor


class RecapPublished(_Payload):
    """Put on the waiting room's board."""

    period: Quarter
    version: Annotated[int, Field(ge=1, le=1000)]
    by: Actor


__all__ = [
    "ComplaintClosed",
    "ComplaintEscalated",
    "ComplaintFollowedUp",
    "ComplaintReceived",
    "ComplaintVerified",
    "RecapApproved",
    "RecapCounts",
    "RecapDrafted",
    "RecapPublished",
    "SurveyKeypadPressed",
    "SurveyQuestionnaireAnswered",
]
