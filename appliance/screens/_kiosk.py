"""The ticket kiosk (`/kiosk`): a touch screen in the waiting room, no sign-in.

A citizen taps the service they came for, reads the documents it requires (the office's
requirement profile, from the domain's rules), confirms, and takes the printed ticket;
the screen then goes back to the start by itself. A ticket is recorded only once it is
printed (`Pipeline.issue_printed_ticket`): with the printer out of paper, offline or
gone, the kiosk says so and sends the citizen to the information desk, and no number is
used. The start screen says so too, before anyone chooses, while the station knows the
printer is in trouble, and checks again every few seconds until it is put right.

Each client address takes at most `[screens] kiosk_tickets_per_minute` tickets a
minute. Each confirmation carries a one-time id (`permintaan`), so a second tap or a
resent form shows the same ticket and prints nothing more.

Nothing about a person is ever shown or asked here: services, documents, a number.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appliance._text import Text
from appliance.domain import ServiceType
from appliance.pipeline import PipelineError, TicketView

from ._context import ScreenContext
from ._rate_limit import RateLimit
from ._session import Context, Csrf

router = APIRouter(prefix="/kiosk", include_in_schema=False)

TICKET_SHOWN_S: Final = 10
"""How long the ticket's number stays on the screen before the start comes back."""
PROBLEM_SHOWN_S: Final = 15
IDLE_RETURN_S: Final = 60
"""A requirements screen left alone goes back to the start (the next citizen)."""
PRINTER_CHECK_S: Final = 5
"""How often the start screen asks again while the printer is in trouble."""
_REMEMBERED: Final = 64
"""Confirmations remembered by their id (a double tap comes within a second)."""

PRINTER_DOWN: Final = Text(
    "Printer tiket sedang bermasalah, jadi nomor antrean belum dapat diambil di sini. "
    "Silakan ambil nomor antrean di meja informasi.",
    "The ticket printer has a problem, so no queue number can be taken here for now. "
    "Please get a queue number at the information desk.",
)
TOO_MANY: Final = Text(
    "Terlalu banyak nomor antrean diambil dari layar ini dalam satu menit. "
    "Silakan tunggu sebentar, lalu coba lagi, atau tanyakan di meja informasi.",
    "Too many queue numbers were taken from this screen within a minute. "
    "Please wait a moment and try again, or ask at the information desk.",
)
NOT_ISSUED: Final = Text(
    "Nomor antrean tidak dapat diberikan saat ini. Silakan ambil nomor antrean di meja informasi.",
    "No queue number can be given right now. Please get a queue number at the information desk.",
)


class _Confirmations:
    """Each confirmation's ticket by its one-time id: a repeat (a second tap while the
    first prints, or the form sent again) gets the same ticket, never a second one."""

    def __init__(self) -> None:
        self._done: OrderedDict[str, TicketView] = OrderedDict()
        self._running: dict[str, asyncio.Task[TicketView]] = {}

    def known(self, key: str) -> bool:
        return key in self._done or key in self._running

    async def once(self, key: str, issue: Callable[[], Awaitable[TicketView]]) -> TicketView:
        done = self._done.get(key)
        if done is not None:
            return done
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.ensure_future(issue())
            running.add_done_callback(lambda task: self._settle(key, task))
        # Shielded: a browser that gives up must not cut a print short.
        return await asyncio.shield(running)

    def _settle(self, key: str, task: asyncio.Task[TicketView]) -> None:
        del self._running[key]
        if task.cancelled() or task.exception() is not None:
            return  # a refusal is not remembered: the next tap tries again
        self._done[key] = task.result()
        while len(self._done) > _REMEMBERED:
            self._done.popitem(last=False)


class KioskDesk:
    """The kiosk's memory: the rate limit and the confirmations seen."""

    def __init__(self, *, tickets_per_minute: int) -> None:
        self.limit = RateLimit(limit=tickets_per_minute, window_s=60.0)
        self.confirmations = _Confirmations()


def kiosk_desk(request: Request) -> KioskDesk:
    """The app's one desk, made with the first request (the settings are the screens')."""
    desk: KioskDesk | None = getattr(request.app.state, "kiosk", None)
    if desk is None:
        screens: ScreenContext = request.app.state.screens
        desk = KioskDesk(tickets_per_minute=screens.settings.kiosk_tickets_per_minute)
        request.app.state.kiosk = desk
    return desk


Desk = Annotated[KioskDesk, Depends(kiosk_desk)]


def _fragment(request: Request) -> str | None:
    """htmx swaps one screen for the next: only the `screen` block, then."""
    return "screen" if request.headers.get("HX-Request") else None


def render_kiosk(
    request: Request,
    context: ScreenContext,
    template: str,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = context.render.page(
        request,
        template,
        {"office": context.office, **values},
        block=_fragment(request),
        status_code=status_code,
        headers=headers,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(
    request: Request,
    context: ScreenContext,
    message: Text,
    *,
    status_code: int,
    poll: bool = False,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    values = {
        "message": message,
        "poll_s": PRINTER_CHECK_S if poll else None,
        "return_s": None if poll else PROBLEM_SHOWN_S,
    }
    return render_kiosk(
        request, context, "kiosk_problem.html", values, status_code=status_code, headers=headers
    )


@router.get("")
async def start(request: Request, context: Context) -> HTMLResponse:
    if not context.station.pipeline.ticket_printer_ready():
        return _problem(request, context, PRINTER_DOWN, status_code=200, poll=True)
    offers = context.station.pipeline.survey.offers()
    values = {"services": tuple(ServiceType), "survey_open": any(offers.questionnaires.values())}
    return render_kiosk(request, context, "kiosk.html", values)


@router.get("/layanan/{code}")
async def requirements(request: Request, context: Context, code: str) -> Response:
    service = _service(code)
    if service is None:
        return RedirectResponse("/kiosk", status_code=303)
    values = {
        "service": service,
        "documents": context.station.pipeline.required_documents(service),
        "request_id": secrets.token_urlsafe(16),
        "idle_s": IDLE_RETURN_S,
    }
    return render_kiosk(request, context, "kiosk_requirements.html", values)


@router.post("/tiket")
async def take_ticket(
    request: Request,
    context: Context,
    desk: Desk,
    _csrf: Csrf,
    layanan: Annotated[str, Form(max_length=32)] = "",
    permintaan: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    service = _service(layanan)
    if service is None:
        return RedirectResponse("/kiosk", status_code=303)
    key = permintaan or secrets.token_urlsafe(16)
    client = request.client.host if request.client else "-"
    if not desk.confirmations.known(key) and not desk.limit.take(client):
        wait_s = max(1, round(desk.limit.retry_after_s(client)))
        return _problem(
            request, context, TOO_MANY, status_code=429, headers={"Retry-After": str(wait_s)}
        )

    async def issue() -> TicketView:
        try:
            return await context.station.pipeline.issue_printed_ticket(service)
        except BaseException:
            desk.limit.give_back(client)  # no ticket: it does not count
            raise

    try:
        ticket = await desk.confirmations.once(key, issue)
    except PipelineError as error:
        message = error.text if error.code == "ticket_not_printed" else NOT_ISSUED
        return _problem(request, context, message, status_code=503)
    values = {"ticket": ticket, "return_s": TICKET_SHOWN_S}
    return render_kiosk(request, context, "kiosk_ticket.html", values)


def _service(code: str) -> ServiceType | None:
    try:
        return ServiceType(code)
    except ValueError:
        return None
