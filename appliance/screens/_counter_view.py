"""What the counter's console shows, read from the pipeline: the queue at this counter
and its figures, the file in hand (the one panel that changes with the officer's work),
and the list of files waiting for the counter. Both route modules (`_counter`,
`_counter_file`) answer with these, as the page or as its parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.domain import (
    ApplicationState,
    Document,
    Phase,
    Role,
    ServiceType,
    Step,
    TicketState,
)
from appliance.pipeline import ApplicationView, Officer, QueueView, TicketView

from ._consoles import render_console
from ._context import ScreenContext
from ._counter_form import CHOICES, Choices, NumberCheck, check_kk, check_nik
from ._session import officer_in

CounterOfficer = Annotated[Officer, Depends(officer_in(Role.COUNTER_OFFICER))]
COUNTER_COOKIE: Final = "ktpel_loket"
TEMPLATE: Final = "counter.html"
FILE_CHANGED: Final = "counter-file"
"""The event an answer raises (`HX-Trigger-After-Swap`) for the file panel to fetch itself."""
_RETURNED_SHOWN: Final = 8

SHORT_NAMES: Final[Mapping[ServiceType, Text]] = MappingProxyType(
    # The queue's table is narrow: the services' names without "KTP elektronik".
    {
        ServiceType.BARU: Text("Baru", "New"),
        ServiceType.PINDAH_DATANG: Text("Pindah datang", "Moved in"),
        ServiceType.HILANG: Text("Hilang", "Lost"),
        ServiceType.RUSAK: Text("Rusak", "Damaged"),
        ServiceType.PERUBAHAN_DATA: Text("Perubahan data", "Change of data"),
    }
)

PanelKind = Literal["idle", "form", "check", "handover", "returned", "forwarded", "handed"]
_HELD: Final[tuple[tuple[Step, PanelKind], ...]] = (
    (Step.CHECK, "check"),
    (Step.HANDOVER, "handover"),
)


@dataclass(frozen=True, slots=True)
class FilePanel:
    """The file in the officer's hands, and what the last action made of it."""

    kind: PanelKind
    ticket: TicketView | None = None
    app: ApplicationView | None = None
    service: ServiceType | None = None
    required: tuple[Document, ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)
    """The form as typed (shown again when it is refused)."""
    documents: tuple[str, ...] = ()
    """The documents ticked."""
    errors: Mapping[str, Text] = field(default_factory=dict)
    problem: Text | None = None
    """The pipeline's refusal: a stale screen, a device not ready."""
    slip_printed: bool | None = None
    nik: NumberCheck = field(default_factory=lambda: NumberCheck(empty=True))
    kk: NumberCheck = field(default_factory=lambda: NumberCheck(empty=True))

    @property
    def choices(self) -> Choices:
        return CHOICES


def counter_of(request: Request, context: ScreenContext) -> str:
    """The counter this browser sits at: chosen once, kept in a cookie."""
    counters = context.station.counters
    chosen = request.cookies.get(COUNTER_COOKIE)
    return chosen if chosen in counters else counters[0]


def remember_counter(response: HTMLResponse, counter: str) -> None:
    response.set_cookie(
        COUNTER_COOKIE, counter, max_age=365 * 86400, samesite="strict", httponly=True, path="/"
    )


def queue_values(
    context: ScreenContext, counter: str, problem: Text | None = None
) -> dict[str, Any]:
    queue = context.station.pipeline.queue()
    waiting = [t for t in queue.tickets if t.state is TicketState.WAITING]
    return {
        "queue": queue,
        "counter": counter,
        "counters": context.station.counters,
        "current": called_here(queue, counter),
        "short_names": SHORT_NAMES,
        "waiting_by_service": [
            (SHORT_NAMES[service], sum(1 for t in waiting if t.service is service))
            for service in ServiceType
        ],
        "no_shows": [t for t in queue.tickets if t.state is TicketState.NO_SHOW][-4:],
        "queue_problem": problem,
    }


def called_here(queue: QueueView, counter: str) -> TicketView | None:
    """The ticket this counter serves: the last one called to it and not yet answered."""
    here = [t for t in queue.tickets if t.state is TicketState.CALLED and t.counter == counter]
    return here[-1] if here else None


def worklist_values(context: ScreenContext) -> dict[str, Any]:
    """The files waiting for the counter: to check, to hand over; and today's returns,
    for when their applicants ask."""
    pipeline = context.station.pipeline

    def waiting_at(step: Step) -> list[ApplicationView]:
        views = pipeline.applications(step=step, state=ApplicationState.IN_PROGRESS)
        return [view for view in reversed(views) if view.phase is Phase.WAITING]

    today = f"{pipeline.today():%Y%m%d}-"
    returned = [
        view
        for view in pipeline.applications(state=ApplicationState.RETURNED, limit=50)
        if view.id.startswith(today)
    ]
    return {
        "to_check": waiting_at(Step.CHECK),
        "to_hand_over": waiting_at(Step.HANDOVER),
        "returned": returned[:_RETURNED_SHOWN],
    }


def current_panel(context: ScreenContext, officer: Officer, counter: str) -> FilePanel:
    """The file the officer is working on: a step they hold, else the ticket called to
    their counter, else nothing yet."""
    pipeline = context.station.pipeline
    for step, kind in _HELD:
        for view in pipeline.applications(step=step, state=ApplicationState.IN_PROGRESS):
            if view.phase is Phase.ACTIVE and view.active_by == officer.person:
                return panel_for(context, view, kind)
    ticket = called_here(pipeline.queue(), counter)
    if ticket is None:
        return FilePanel(kind="idle")
    return form_panel(context, ticket)


def panel_for(context: ScreenContext, app: ApplicationView, kind: PanelKind) -> FilePanel:
    required = context.station.pipeline.required_documents(app.service)
    return FilePanel(kind=kind, app=app, service=app.service, required=required)


def form_panel(
    context: ScreenContext,
    ticket: TicketView,
    *,
    values: Mapping[str, str] | None = None,
    documents: tuple[str, ...] = (),
    errors: Mapping[str, Text] | None = None,
    problem: Text | None = None,
    service: ServiceType | None = None,
) -> FilePanel:
    """The form that opens the file of `ticket`, empty or as typed."""
    values = values or {}
    chosen = service or ticket.service
    today = context.station.pipeline.today()
    return FilePanel(
        kind="form",
        ticket=ticket,
        service=chosen,
        required=context.station.pipeline.required_documents(chosen),
        values=values,
        documents=documents,
        errors=errors or {},
        problem=problem,
        nik=check_nik(values.get("nik", ""), today=today),
        kk=check_kk(values.get("kk", "")),
    )


def answer(
    request: Request,
    officer: Officer,
    values: dict[str, Any],
    block: str,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """One part of the console (a block of counter.html), for htmx to put inside its
    section."""
    return render_console(request, officer, TEMPLATE, values, block=block, status_code=status_code)
