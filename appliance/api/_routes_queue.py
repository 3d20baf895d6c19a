"""The queue: tickets taken, called to a counter, called again, not present."""

from __future__ import annotations

from fastapi import APIRouter

from appliance.pipeline import QueueView, TicketView

from ._deps import Context, Me
from ._models import CallNext, NewTicket, Recall, TicketNumber

router = APIRouter(prefix="/queue", tags=["queue"])


@router.post("/tickets", status_code=201)
async def take_ticket(body: NewTicket, me: Me, context: Context) -> TicketView:
    return await context.pipeline.issue_ticket(me, body.service)


@router.get("")
async def queue(_me: Me, context: Context) -> QueueView:
    return context.pipeline.queue()


@router.post("/call-next")
async def call_next(body: CallNext, me: Me, context: Context) -> TicketView:
    return context.pipeline.call_next(me, counter=body.counter, service=body.service)


@router.post("/tickets/{ticket}/recall")
async def recall(ticket: TicketNumber, body: Recall, me: Me, context: Context) -> TicketView:
    return context.pipeline.recall(me, ticket, counter=body.counter)


@router.post("/tickets/{ticket}/no-show")
async def no_show(ticket: TicketNumber, me: Me, context: Context) -> TicketView:
    return context.pipeline.mark_no_show(me, ticket)
