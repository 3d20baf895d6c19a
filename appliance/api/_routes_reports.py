"""The office's figures for a period, and the complaint book's quarterly recap: drafted
by the information officer, approved by the Camat, published on the board, which reads
it here without a login (counts and promises only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from appliance.oversight import PeriodField
from appliance.pipeline import PublicRecap, RecapForm, RecapView

from ._deps import Context, Me

router = APIRouter(tags=["reports"])

Quarter = Annotated[str, Path(pattern=r"^[0-9]{4}-Q[1-4]$", description="quarter, e.g. 2026-Q4")]


class FiguresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodField


@router.get("/figures")
async def period_figures(
    query: Annotated[FiguresQuery, Query()], me: Me, context: Context
) -> dict[str, Any]:
    """The survey (IKM per service type, the sample against Krejcie-Morgan), the keypad,
    and the complaints of `period`: each number shown and exact."""
    return context.pipeline.recaps.figures(me, query.period)


@router.post("/recaps", status_code=201)
async def draft(body: RecapForm, me: Me, context: Context) -> RecapView:
    return context.pipeline.recaps.draft(me, body)


@router.get("/recaps/{period}")
async def recap(period: Quarter, _me: Me, context: Context) -> RecapView:
    return context.pipeline.recaps.view(period)


@router.post("/recaps/{period}/approve")
async def approve(period: Quarter, me: Me, context: Context) -> RecapView:
    return context.pipeline.recaps.approve(me, period)


@router.post("/recaps/{period}/publish")
async def publish(period: Quarter, me: Me, context: Context) -> RecapView:
    return context.pipeline.recaps.publish(me, period)


@router.get("/public/recap")
async def published(context: Context) -> PublicRecap | None:
    """The latest published recap, for the waiting room's board (null before the first):
    no login."""
    return context.pipeline.recaps.published()
