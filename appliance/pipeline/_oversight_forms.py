"""What the officers and the kiosk send for the survey, the complaint book and its recap,
and what they are shown. The API takes the forms as its request bodies and answers with
the views, so their constraints and fields are the API's contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from appliance._text import Text
from appliance.domain import ComplaintState, RecapState, ServiceType
from appliance.oversight import (
    LAPOR_ID_PATTERN,
    Answers,
    BookText,
    Category,
    Channel,
    Contact,
    Element,
    OversightError,
    PeriodField,
    Profile,
    Satisfaction,
    ShortBookText,
    StandardPart,
)


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------- the survey


class QuestionnaireForm(_Form):
    """The kiosk's questionnaire: anonymous; the service type the respondent was served."""

    service: ServiceType
    answers: Answers = Field(description="Each of the nine elements U1..U9 scored 1 to 4.")
    profile: Profile = Profile()


class KeypadPress(_Form):
    """A press of the coins on the kiosk's screen, for the handover just done (when the
    keypad is not there, or was not used)."""

    rating: Satisfaction


class SurveyOffers(_View):
    """What the kiosk may offer now: a questionnaire per service type whose handover is
    recent enough, and the coins for the latest handover."""

    questionnaires: dict[ServiceType, int]
    keypad: bool


class SurveyReceipt(_View):
    service: ServiceType
    recorded_at: datetime


# ---------------------------------------------------------------- the complaint book


class ComplaintForm(_Form):
    """A complaint as the officer writes it into the book."""

    channel: Channel
    lapor_id: Annotated[str, Field(pattern=LAPOR_ID_PATTERN)] | None = Field(
        default=None, description="The SP4N-LAPOR! tracking id (channel `lapor` only)."
    )
    contact: Contact | None = Field(
        default=None,
        description="The complainant's name or phone; none for an anonymous complaint. "
        "Kept on the station only, shown only to the section head.",
    )
    occurred_at: datetime | None = Field(
        default=None, description="When it happened (local time when no offset is given)."
    )
    account: BookText = Field(description="What happened.")
    standard: StandardPart | None = None
    element: Element | None = Field(default=None, description="The survey element it concerns.")
    remedy: BookText | None = Field(default=None, description="What the complainant asks for.")
    category: Category = Category.RINGAN

    @model_validator(mode="after")
    def _lapor(self) -> ComplaintForm:
        if (self.channel is Channel.LAPOR) != (self.lapor_id is not None):
            raise OversightError(
                "lapor_id_mismatch",
                Text(
                    "Nomor pelacakan LAPOR! diisi untuk pengaduan lewat LAPOR!, dan hanya itu.",
                    "A LAPOR! tracking id goes with a LAPOR! complaint, and only with one.",
                ),
            )
        return self


class VerifyForm(_Form):
    category: Category
    standard: StandardPart | None = None
    element: Element | None = None
    note: BookText | None = None


class FollowUpForm(_Form):
    action: BookText


class CloseForm(_Form):
    outcome: BookText


class FollowUpView(_View):
    at: datetime
    by: str
    action: str


class ComplaintView(_View):
    number: str
    channel: Channel
    lapor_id: str | None
    anonymous: bool
    contact: Contact | None
    """Only for the roles that follow complaints up (the section head); None otherwise."""
    received_at: datetime
    received_by: str
    occurred_at: datetime | None
    account: str
    standard: StandardPart | None
    element: Element | None
    remedy: str | None
    category: Category
    due: datetime
    state: ComplaintState
    overdue: bool
    escalated: bool
    note: str | None
    followups: tuple[FollowUpView, ...]
    outcome: str | None
    closed_at: datetime | None


# ---------------------------------------------------------------- the quarterly recap


class RecapForm(_Form):
    period: PeriodField = Field(description="The quarter, e.g. 2026-Q4.")
    improvements: tuple[ShortBookText, ...] = Field(
        default=(), max_length=10, description="The improvements the office promises."
    )


class RecapView(_View):
    period: str
    label: dict[str, str]
    state: RecapState
    version: int
    as_of_seq: int
    drafted_at: datetime
    drafted_by: str
    approved_at: datetime | None
    approved_by: str | None
    published_at: datetime | None
    counts: dict[str, Any]
    improvements: tuple[str, ...]


class PublicRecap(_View):
    """The recap as the waiting room's board shows it: counts and promises only."""

    period: str
    label: dict[str, str]
    counts: dict[str, Any]
    improvements: tuple[str, ...]
    published_at: datetime
