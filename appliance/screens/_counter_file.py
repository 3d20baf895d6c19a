"""The applicant's file at the counter (`/loket/berkas`): the form that opens it, with the
NIK and KK read while they are typed; the completeness check against the office's
requirements, whose return prints the slip of what is missing; and the card handed over
against the receipt signed on the pad, shown back to the applicant.

Each action answers with the file panel (the counter's list follows the live events). A form
refused at its fields is 422 and changes nothing. A refusal by the pipeline (the ticket was
served or called elsewhere, the step was taken or finished on another screen, a device is
not ready) shows the file as it now stands with the pipeline's reason, and changes
nothing: so a second submit of the same form, which the pipeline refuses, shows the file
the first one opened."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Final

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from appliance._text import Text
from appliance.domain import ServiceType, Step, TicketState
from appliance.pipeline import Invalid, NotFound, Officer, PipelineError, TicketView

from ._counter_form import check_kk, check_nik, documents_of, entered, judge, service_of
from ._counter_view import (
    CounterOfficer,
    FilePanel,
    answer,
    counter_of,
    current_panel,
    form_panel,
    panel_for,
)
from ._session import Context, Csrf

router = APIRouter(prefix="/berkas")

AppId = Annotated[str, Path(pattern=r"^[0-9]{8}-[0-9]{4,6}$")]
NumberTyped = Annotated[str, Form(max_length=64)]

_NOT_DOCUMENTS: Final = Text(
    "Daftar dokumen tidak dikenal; muat ulang halaman.",
    "Unknown documents in the list; reload the page.",
)
# Refusals that are about the applicant rather than the screen: said at the NIK field.
_ABOUT_THE_PERSON: Final = frozenset({"application_open", "card_already_issued"})


@router.get("")
async def file_part(request: Request, officer: CounterOfficer, context: Context) -> HTMLResponse:
    """The file in hand as it stands (after a queue action changed it)."""
    panel = current_panel(context, officer, counter_of(request, context))
    return _file(request, officer, panel)


@router.post("/nik")
async def nik_typed(
    request: Request, _officer: CounterOfficer, context: Context, _csrf: Csrf, nik: NumberTyped = ""
) -> HTMLResponse:
    """The NIK as typed so far: what is wrong with it, or its birth date, sex and region.
    POST, so that a NIK never lands in a URL or an access log."""
    check = check_nik(nik, today=context.station.pipeline.today())
    values = {"number": "nik", "check": check, "refused": None}
    return context.render.page(request, "counter_number.html", values)


@router.post("/kk")
async def kk_typed(
    request: Request, _officer: CounterOfficer, context: Context, _csrf: Csrf, kk: NumberTyped = ""
) -> HTMLResponse:
    check = check_kk(kk)
    values = {"number": "kk", "check": check, "refused": None}
    return context.render.page(request, "counter_number.html", values)


@router.get("/persyaratan")
async def requirements(
    request: Request, _officer: CounterOfficer, context: Context, service: str = ""
) -> HTMLResponse:
    """The checklist of the service chosen on the form."""
    chosen = service_of(service, ServiceType.BARU)
    panel = FilePanel(
        kind="form", service=chosen, required=context.station.pipeline.required_documents(chosen)
    )
    return context.render.page(request, "counter_checklist.html", {"panel": panel})


@router.post("")
async def submit(
    request: Request, officer: CounterOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """Step 1: the file handed in; the check (step 2) starts with it."""
    pipeline = context.station.pipeline
    data = await request.form()
    typed = entered(data)
    try:
        ticket = _ticket_in_hand(context, data.get("ticket"), counter_of(request, context))
    except PipelineError as refused:
        return _as_now(request, officer, context, refused)
    service = service_of(typed.values["service"], ticket.service)
    judged = judge(typed, ticket=ticket.ticket, today=pipeline.today())
    if judged.form is None:
        panel = form_panel(
            context,
            ticket,
            values=typed.values,
            documents=typed.documents,
            errors=judged.errors,
            service=service,
        )
        return _file(request, officer, panel, status_code=422)
    try:
        app = await pipeline.submit(officer, judged.form)
    except PipelineError as refused:
        if not isinstance(refused, Invalid):
            return _as_now(request, officer, context, refused)
        # About this applicant (one open application per person): at the NIK.
        about_person = refused.code in _ABOUT_THE_PERSON
        panel = form_panel(
            context,
            ticket,
            values=typed.values,
            documents=typed.documents,
            errors={"nik": refused.text} if about_person else {},
            problem=None if about_person else refused.text,
            service=service,
        )
        return _file(request, officer, panel, status_code=refused.status)
    problem = None
    try:
        app = await pipeline.start_step(officer, app.id, Step.CHECK)
    except PipelineError as refused:
        problem = refused.text  # submitted all the same: the check waits in the list
    panel = replace(panel_for(context, app, "check"), documents=typed.documents, problem=problem)
    return _file(request, officer, panel)


@router.post("/{app}/periksa/mulai")
async def start_check(
    request: Request, app: AppId, officer: CounterOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    return await _start(request, officer, context, app, Step.CHECK)


@router.post("/{app}/periksa")
async def check(
    request: Request, app: AppId, officer: CounterOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """Step 2: complete, on to the section head; incomplete, back to the applicant with
    the printed list of what is missing."""
    pipeline = context.station.pipeline
    typed = entered(await request.form())
    documents = documents_of(typed)
    if documents is None:
        try:
            view = pipeline.application(app)
        except PipelineError as refused:
            return _as_now(request, officer, context, refused)
        panel = replace(panel_for(context, view, "check"), errors={"documents": _NOT_DOCUMENTS})
        return _file(request, officer, panel, status_code=422)
    try:
        view = await pipeline.check(officer, app, documents)
    except PipelineError as refused:
        return _as_now(request, officer, context, refused)
    panel = panel_for(context, view, "returned" if view.missing_documents else "forwarded")
    return _file(request, officer, replace(panel, slip_printed=view.slip_printed))


@router.post("/{app}/serah/mulai")
async def start_handover(
    request: Request, app: AppId, officer: CounterOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    return await _start(request, officer, context, app, Step.HANDOVER)


@router.post("/{app}/serah")
async def handover(
    request: Request, app: AppId, officer: CounterOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """Step 8: the applicant signs the receipt on the pad and takes the card."""
    pipeline = context.station.pipeline
    try:
        view = await pipeline.handover(officer, app)
    except PipelineError as refused:
        return _as_now(request, officer, context, refused)
    return _file(request, officer, panel_for(context, view, "handed"))


@router.get("/{app}/tanda-terima.png")
async def receipt(app: AppId, officer: CounterOfficer, context: Context) -> Response:
    """The receipt's signature, for the counter officer's screen only: never cached."""
    try:
        png = await context.station.pipeline.receipt_signature(officer, app)
    except PipelineError as refused:
        return Response(status_code=refused.status, headers={"Cache-Control": "no-store"})
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


async def _start(
    request: Request, officer: Officer, context: Context, app: str, step: Step
) -> HTMLResponse:
    pipeline = context.station.pipeline
    try:
        view = await pipeline.start_step(officer, app, step)
    except PipelineError as refused:
        return _as_now(request, officer, context, refused)
    panel = panel_for(context, view, "check" if step is Step.CHECK else "handover")
    return _file(request, officer, panel)


def _ticket_in_hand(context: Context, number: object, counter: str) -> TicketView:
    """The form's ticket, still called to this counter (or refused: the form is stale).
    A ticket served meanwhile passes here, for the pipeline to refuse it in its words."""
    try:
        if not isinstance(number, str) or not 0 < len(number) <= 16:
            raise _no_ticket()
        ticket = context.station.pipeline.ticket(number)
    except NotFound:
        raise _no_ticket() from None
    if ticket.state is TicketState.CALLED and ticket.counter != counter:
        # Called again to another counter meanwhile: that counter takes the file in.
        raise PipelineError(
            "ticket_elsewhere",
            Text(
                f"Nomor {ticket.ticket} sekarang dipanggil ke {ticket.counter}; berkasnya "
                "diterima di sana.",
                f"Ticket {ticket.ticket} is now called to {ticket.counter}; its file is taken "
                "in there.",
            ),
        )
    return ticket


def _no_ticket() -> PipelineError:
    return PipelineError(
        "unknown_ticket",
        Text(
            "Nomor antrean formulir ini tidak ada hari ini; panggil nomor berikutnya.",
            "This form's ticket is not one of today's; call the next ticket.",
        ),
    )


def _as_now(
    request: Request, officer: Officer, context: Context, refused: PipelineError
) -> HTMLResponse:
    """A refused action: the file as it now stands, and why nothing changed."""
    panel = current_panel(context, officer, counter_of(request, context))
    panel = replace(panel, problem=refused.text)
    return _file(request, officer, panel, status_code=refused.status)


def _file(
    request: Request, officer: Officer, panel: FilePanel, *, status_code: int = 200
) -> HTMLResponse:
    return answer(request, officer, {"panel": panel}, "file", status_code=status_code)
