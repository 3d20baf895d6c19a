"""The waiting-room board (`/board`): the ticket being called and its counter, the calls
before it, who waits for which service, today's average wait and the service promise,
on a 1920x1080 TV, live.

No sign-in and nothing personal, ever: it reads the pipeline's calls and queue figures
and passes the template tickets, counters, services and counts only (never a ticket's
application), and it listens to the public feed (`/langsung/umum`), which carries queue
events reduced to their topic. A board that plays the calls itself (`/board?suara=1`,
for a TV whose speakers the room hears) fetches each call's audio, rendered by the
station's synthesizer; by default the station plays them on its own output."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from appliance._text import Text
from appliance.api import ApiError, Audience
from appliance.domain import SERVICE_PROMISE_WORKING_DAYS, EventType, ServiceType, TicketState
from appliance.pipeline import CallView
from appliance.pipeline._queue import TICKET_LETTERS
from appliance.speech import SpeechError, Synthesizer, call_sentence, spell_number

from ._context import ScreenContext
from ._live import QUEUE, RECAP, officer_topic
from ._recap_labels import LABELS
from ._session import Context

router = APIRouter(include_in_schema=False)

EARLIER_SHOWN: Final = 4
_PARTS: Final = re.compile(r"[0-9]+|[A-Za-z]+")
_CALLS_READ: Final = 24
"""Enough of the latest calls to find four other tickets among recalls."""
_RETRY_MS: Final = 1000
"""How soon a board's browser reconnects after its stream ends (a restart)."""


@dataclass(frozen=True, slots=True)
class BoardCall:
    number: int
    ticket: str
    counter: str
    """As people read it: "Loket 1" for `loket-1`."""


@dataclass(frozen=True, slots=True)
class Waiting:
    letter: str
    service: Text
    count: int


def counter_label(counter: str) -> str:
    """A counter as people read it, and as the call names it: "Loket 1" for `loket-1`,
    "Loket 2" for `2`, "Meja B" for `meja-b`."""
    parts = _PARTS.findall(counter)
    words = [part.upper() if len(part) == 1 else part.capitalize() for part in parts]
    if not parts or parts[0].isdigit() or len(parts[0]) == 1:
        words.insert(0, "Loket")
    return " ".join(words)


def _shown(call: CallView) -> BoardCall:
    return BoardCall(number=call.number, ticket=call.ticket, counter=counter_label(call.counter))


def _promise() -> Text:
    days = SERVICE_PROMISE_WORKING_DAYS
    words = spell_number(str(days))
    return Text(
        f"Layanan KTP-el gratis, tidak dipungut biaya · Selesai dalam {days} ({words}) hari kerja",
        f"The KTP-el service is free of charge · Ready within {days} working day(s)",
    )


def _board_values(context: ScreenContext) -> dict[str, Any]:
    """What the board shows, and nothing else: no ticket's application, no name."""
    pipeline = context.station.pipeline
    calls = pipeline.calls(_CALLS_READ)
    now = calls[0] if calls else None
    earlier: list[BoardCall] = []
    seen = {now.ticket} if now else set()
    for call in calls[1:]:
        if call.ticket not in seen and len(earlier) < EARLIER_SHOWN:
            seen.add(call.ticket)
            earlier.append(_shown(call))
    queue = pipeline.queue()
    waiting = [
        Waiting(
            letter=TICKET_LETTERS[service],
            service=service.label,
            count=sum(
                1 for t in queue.tickets if t.service is service and t.state is TicketState.WAITING
            ),
        )
        for service in ServiceType
    ]
    return {
        "now": _shown(now) if now else None,
        "earlier": earlier,
        "waiting": waiting,
        "mean_wait_min": round(queue.figures.mean_wait_s / 60) if queue.tickets else None,
    }


@router.get("/board")
async def board(request: Request, context: Context, suara: int = 0) -> HTMLResponse:
    values = {
        **_board_values(context),
        **_recap_values(context),
        "office": context.office,
        "promise": _promise(),
        "sound": bool(suara) and _voice(request) is not None,
    }
    return context.render.page(request, "board.html", values)


@router.get("/board/papan")
async def board_part(request: Request, context: Context) -> HTMLResponse:
    """The live part of the board, fetched on each queue event and on reconnecting."""
    return context.render.page(request, "board.html", _board_values(context), block="board")


def _recap_values(context: ScreenContext) -> dict[str, Any]:
    """The latest published recap as the public may read it (`PublicRecap`: counts and
    promises, no complaint's text and no contact), with the words of its counts."""
    return {"recap": context.station.pipeline.recaps.published(), "labels": LABELS}


@router.get("/board/rekap")
async def recap_part(request: Request, context: Context) -> HTMLResponse:
    """The recap strip, fetched when a recap is published and on reconnecting."""
    return context.render.page(request, "board.html", _recap_values(context), block="recap")


def public_topic(event_type: str) -> str | None:
    if event_type == EventType.RECAP_PUBLISHED:
        return RECAP
    topic = officer_topic(event_type)
    return topic if topic == QUEUE else None


@router.get("/langsung/umum")
async def public_feed(context: Context) -> StreamingResponse:
    """The public screens' feed: `event: queue` for each queue event and `event: recap`
    when a recap is published, nothing else."""
    stream = context.station.live.topics(Audience.PUBLIC, public_topic)
    return StreamingResponse(
        _reconnecting(stream),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


async def _reconnecting(stream: AsyncIterator[str]) -> AsyncIterator[str]:
    yield f"retry: {_RETRY_MS}\n\n"
    async for chunk in stream:
        yield chunk


def offer_voice(app: FastAPI, synthesizer: Synthesizer) -> None:
    """Let boards fetch the calls' audio, rendered by the station's synthesizer (the one
    its announcer uses, so a call is rendered once)."""
    app.state.board_voice = synthesizer


def _voice(request: Request) -> Synthesizer | None:
    voice = getattr(request.app.state, "board_voice", None)
    return voice if isinstance(voice, Synthesizer) else None


@router.get("/board/suara/{number}.wav")
async def call_audio(request: Request, context: Context, number: int) -> Response:
    """One of today's latest calls as the waiting room hears it: the chime and the
    sentence, a WAV."""
    voice = _voice(request)
    calls = context.station.pipeline.calls(_CALLS_READ)
    call = next((c for c in calls if c.number == number), None)
    if voice is None or call is None:
        raise ApiError(
            404, "no_audio", Text("Suara panggilan ini tidak ada.", "There is no such call audio.")
        )
    try:
        wav = await voice.wav(call_sentence(call.ticket, call.counter))
    except SpeechError as error:
        raise ApiError(
            503,
            "speech_unavailable",
            Text("Suara panggilan tidak dapat dibuat.", "The call's audio cannot be made."),
        ) from error
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})
