"""What the pipeline shows: applications, tickets, the queue, the day's figures.

These models are the local API's response bodies too, so their fields are a contract.
NIKs appear masked: the officer has the file in hand, a screen or a log need not.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from appliance.domain import (
    ApplicationState,
    CardState,
    Document,
    Phase,
    ServiceType,
    Step,
    TicketState,
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CardView(_View):
    serial: str | None
    state: CardState


class FailureView(_View):
    step: Step
    code: str
    detail: str


class ApplicationView(_View):
    id: str
    service: ServiceType
    nik: str
    """Masked: `3508********0001`."""
    name: str
    ticket: str | None
    step: Step
    phase: Phase
    state: ApplicationState
    active_by: str | None
    devices: tuple[str, ...]
    breaches: int
    overdue: bool
    return_reason: str | None
    card: CardView | None
    last_failure: FailureView | None
    needs_operator: bool
    """A failed device step waits for the operator to start it again."""
    region_to_confirm: str | None = None
    """A NIK region code missing from the official list: the section head confirms it at
    validation (`confirm_region`)."""
    awaits_decision: bool = False
    """Its activation was refused (no finger matched, or the wrong card): the section head
    decides to try again, print a new card or return the file (`decide_activation`)."""
    missing_documents: tuple[Document, ...] = ()
    """A file returned at the check: the documents it lacked, in the requirements' order."""
    slip_printed: bool | None = None
    """In the answer to a check that returned the file: whether the ticket printer printed
    the slip listing the missing documents."""


class TicketView(_View):
    day: date
    ticket: str
    service: ServiceType
    number: int
    state: TicketState
    counter: str | None
    calls: int
    application: str | None
    waited_s: float
    """From the ticket's issue to its first call, or until now if not called yet."""
    printed: bool = True


class CallView(_View):
    """A ticket called to a counter, or called again: what the waiting room is told."""

    number: int
    """Its place among the day's calls, from 1: a call's lasting name for the day."""
    ticket: str
    counter: str
    recall: bool


class QueueFigures(_View):
    waiting: int
    called: int
    served: int
    no_show: int
    mean_wait_s: float
    max_wait_s: float


class QueueView(_View):
    day: date
    tickets: tuple[TicketView, ...]
    figures: QueueFigures
