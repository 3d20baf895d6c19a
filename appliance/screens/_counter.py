"""The counter officer's console (`/loket`): the queue at this counter (call next, call
again, not present, the waiting figures), the list of files waiting for the counter, and
the applicant's file (`_counter_file`).

A queue action answers with the queue, and tells the file panel to fetch itself
(`FILE_CHANGED`): calling a ticket opens its form, marking it absent closes it. A refused
action (the ticket was served or called elsewhere meanwhile) says why and changes
nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.pipeline import PipelineError, TicketView

from . import _counter_file
from ._consoles import render_console
from ._counter_view import (
    FILE_CHANGED,
    TEMPLATE,
    CounterOfficer,
    answer,
    called_here,
    counter_of,
    current_panel,
    queue_values,
    remember_counter,
    worklist_values,
)
from ._session import Context, Csrf

router = APIRouter(prefix="/loket", include_in_schema=False)
router.include_router(_counter_file.router)

TicketNumber = Annotated[str, Form(min_length=1, max_length=16)]


@router.get("")
async def console(request: Request, officer: CounterOfficer, context: Context) -> HTMLResponse:
    counter = counter_of(request, context)
    values = {
        **queue_values(context, counter),
        **worklist_values(context),
        "panel": current_panel(context, officer, counter),
    }
    return render_console(request, officer, TEMPLATE, values)


@router.get("/antrian")
async def queue_part(request: Request, officer: CounterOfficer, context: Context) -> HTMLResponse:
    return answer(request, officer, queue_values(context, counter_of(request, context)), "queue")


@router.get("/daftar")
async def worklist_part(
    request: Request, officer: CounterOfficer, context: Context
) -> HTMLResponse:
    return answer(request, officer, worklist_values(context), "worklist")


@router.post("/meja")
async def choose_counter(
    request: Request,
    officer: CounterOfficer,
    context: Context,
    _csrf: Csrf,
    counter: Annotated[str, Form(max_length=32)],
) -> HTMLResponse:
    """The counter this officer sits at, remembered by this browser."""
    if counter not in context.station.counters:
        counter = counter_of(request, context)
    response = _queue_answer(request, officer, context, counter)
    remember_counter(response, counter)
    return response


@router.post("/panggil")
async def call_next(
    request: Request,
    officer: CounterOfficer,
    context: Context,
    _csrf: Csrf,
    serving: Annotated[str, Form(max_length=16)] = "",
) -> HTMLResponse:
    """Call the next ticket, if the counter still serves what the screen showed: a
    double click, or a screen behind another's call, calls no one more."""
    counter = counter_of(request, context)
    now = called_here(context.station.pipeline.queue(), counter)
    if (now.ticket if now else "") != serving:
        return _queue_answer(request, officer, context, counter, _already_called(now, counter))
    try:
        context.station.pipeline.call_next(officer, counter=counter)
    except PipelineError as error:
        return _queue_answer(request, officer, context, counter, error)
    return _queue_answer(request, officer, context, counter)


@router.post("/panggil-ulang")
async def recall(
    request: Request,
    officer: CounterOfficer,
    context: Context,
    _csrf: Csrf,
    ticket: TicketNumber,
) -> HTMLResponse:
    counter = counter_of(request, context)
    try:
        context.station.pipeline.recall(officer, ticket, counter=counter)
    except PipelineError as error:
        return _queue_answer(request, officer, context, counter, error)
    return _queue_answer(request, officer, context, counter)


@router.post("/tidak-hadir")
async def no_show(
    request: Request,
    officer: CounterOfficer,
    context: Context,
    _csrf: Csrf,
    ticket: TicketNumber,
) -> HTMLResponse:
    counter = counter_of(request, context)
    try:
        context.station.pipeline.mark_no_show(officer, ticket)
    except PipelineError as error:
        return _queue_answer(request, officer, context, counter, error)
    return _queue_answer(request, officer, context, counter)


def _already_called(now: TicketView | None, counter: str) -> PipelineError:
    shown = now.ticket if now else "-"
    return PipelineError(
        "stale_screen",
        Text(
            f"Layar sudah tertinggal: {counter} kini melayani nomor {shown}. Tidak ada yang "
            "dipanggil; periksa lagi sebelum memanggil.",
            f"The screen was out of date: {counter} now serves number {shown}. No one was "
            "called; look again before calling.",
        ),
    )


def _queue_answer(
    request: Request,
    officer: CounterOfficer,
    context: Context,
    counter: str,
    error: PipelineError | None = None,
) -> HTMLResponse:
    values = queue_values(context, counter, error.text if error else None)
    status = error.status if error else 200
    response = answer(request, officer, values, "queue", status_code=status)
    response.headers["HX-Trigger-After-Swap"] = FILE_CHANGED
    return response
