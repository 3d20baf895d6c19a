"""The counter officer's console (`/loket`): the queue at this counter, call next,
recall and no-show."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from appliance.domain import Role
from appliance.pipeline import Officer, PipelineError

from ._consoles import render_console
from ._session import Context, Csrf, officer_in

router = APIRouter(prefix="/loket", include_in_schema=False)

CounterOfficer = Annotated[Officer, Depends(officer_in(Role.COUNTER_OFFICER))]
COUNTER_COOKIE: Final = "ktpel_loket"


def _counter(request: Request, counters: tuple[str, ...]) -> str:
    chosen = request.cookies.get(COUNTER_COOKIE)
    return chosen if chosen in counters else counters[0]


def _queue_values(request: Request, context: Context) -> dict[str, object]:
    counters = context.station.counters
    counter = _counter(request, counters)
    queue = context.station.pipeline.queue()
    at_counter = [
        ticket for ticket in queue.tickets if ticket.state == "called" and ticket.counter == counter
    ]
    return {
        "queue": queue,
        "counter": counter,
        "counters": counters,
        "current": at_counter[-1] if at_counter else None,
        "problem": None,
    }


@router.get("")
async def console(request: Request, officer: CounterOfficer, context: Context) -> HTMLResponse:
    return render_console(request, officer, "counter.html", _queue_values(request, context))


@router.get("/antrian")
async def queue_part(request: Request, officer: CounterOfficer, context: Context) -> HTMLResponse:
    return render_console(
        request, officer, "counter.html", _queue_values(request, context), block="queue"
    )


@router.post("/panggil")
async def call_next(
    request: Request,
    officer: CounterOfficer,
    context: Context,
    _csrf: Csrf,
    counter: Annotated[str, Form(max_length=32)],
) -> HTMLResponse:
    values = _queue_values(request, context)
    try:
        context.station.pipeline.call_next(officer, counter=counter)
    except PipelineError as error:
        values["problem"] = error.text
    else:
        values = _queue_values(request, context)
    response = render_console(request, officer, "counter.html", values, block="queue")
    response.set_cookie(COUNTER_COOKIE, counter, samesite="strict", httponly=True, path="/")
    return response
