"""Live events over server-sent events, each audience its own projection of the register
(see `_projection`): officers get what their views show, the public what a waiting-room
board may show."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ._deps import Context, Me
from ._projection import Audience

router = APIRouter(tags=["live events"])

_SSE = "text/event-stream"


@router.get("/events", response_class=StreamingResponse)
async def events(_me: Me, context: Context) -> StreamingResponse:
    """Every register event as it is written, as the officers' views show it: NIKs
    masked, no Family Card number, no biodata."""
    return StreamingResponse(context.live.stream(Audience.OFFICER), media_type=_SSE)


@router.get("/public/events", response_class=StreamingResponse)
async def public_events(context: Context) -> StreamingResponse:
    """The queue as the waiting room may see it, without a login: ticket numbers,
    services, counters and states. Nothing about a person, and no application ids."""
    return StreamingResponse(context.live.stream(Audience.PUBLIC), media_type=_SSE)
