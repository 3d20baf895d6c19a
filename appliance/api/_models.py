"""The API's own request and response bodies, and its path parameters.

What officers submit to the pipeline (`SubmitForm`) and what the views show are the
pipeline's models; these are the few the API adds around them. Their constraints are what
`/openapi.json` promises: a value the schema accepts is one the station can take.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from annotated_types import Le
from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from appliance.domain import Document, Role, ServiceType
from appliance.register import ActivationDecision, BlankReceived

from ._errors import ErrorBody
from ._openapi import COUNTER_MARK

ApplicationId = Annotated[str, Path(pattern=r"^[0-9]{8}-[0-9]{4}$", description="application id")]
TicketNumber = Annotated[str, Path(pattern=r"^[A-Z]-[0-9]{3,4}$", description="ticket, e.g. A-001")]
Counter = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="One of the station's counters (loket), as configured.",
        json_schema_extra={COUNTER_MARK: True},
    ),
]

ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 422, 503)
}
"""Every operation may answer these, always with the error body."""


def _register_bound(model: type[BaseModel], field: str) -> int:
    """The upper bound the register puts on a payload's field: the API refuses what the
    register would, with a 422 and before anything is written."""
    (bound,) = (item.le for item in model.model_fields[field].metadata if isinstance(item, Le))
    if not isinstance(bound, int):
        raise TypeError(f"{model.__name__}.{field}: the bound is not an integer")
    return bound


BLANKS_PER_DELIVERY: Final = _register_bound(BlankReceived, "count")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Login(_Body):
    person: str = Field(min_length=1, max_length=32)
    secret: str = Field(min_length=1, max_length=128)


class Session(BaseModel):
    token: str
    person: str
    name: str
    roles: list[Role]


class NewTicket(_Body):
    service: ServiceType


class CallNext(_Body):
    counter: Counter
    service: ServiceType | None = None


class Recall(_Body):
    counter: Counter


class Check(_Body):
    documents: tuple[Document, ...] = Field(max_length=16)


class Validate(_Body):
    valid: bool
    reason: str | None = Field(default=None, min_length=1, max_length=200)
    confirm_region: bool = Field(
        default=False,
        description="The section head confirms a NIK region code missing from the official "
        "list (the application's `region_to_confirm`); without it such a file is not validated.",
    )


class DecideActivation(_Body):
    decision: ActivationDecision = Field(
        description="After a refused activation (the application's `awaits_decision`): "
        "activate the same card again, spoil it and print a new one, or spoil it and return "
        "the file (with a reason)."
    )
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class BlanksReceived(_Body):
    count: int = Field(
        ge=1,
        le=BLANKS_PER_DELIVERY,
        description="Blank cards in this delivery (berita acara), as the register bounds it.",
    )
    reference: str = Field(min_length=1, max_length=200)


class BlankStockView(BaseModel):
    received: int
    issued: int
    spoiled: int
    in_process: int
    available: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    station: str
