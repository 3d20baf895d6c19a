"""Blank cards: deliveries received, and the stock as the register counts it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ._deps import Context, Me
from ._models import BlanksReceived, BlankStockView

router = APIRouter(prefix="/blanks", tags=["blank cards"])


@router.post("", status_code=204)
async def blanks(body: BlanksReceived, me: Me, context: Context) -> Response:
    context.pipeline.receive_blanks(me, count=body.count, reference=body.reference)
    return Response(status_code=204)


@router.get("")
async def stock(_me: Me, context: Context) -> BlankStockView:
    current = context.pipeline.blank_stock()
    return BlankStockView(
        received=current.received,
        issued=current.issued,
        spoiled=current.spoiled,
        in_process=current.in_process,
        available=current.available,
    )
