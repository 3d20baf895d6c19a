"""The complaint book: officers record, the section head verifies, follows up and
closes; every officer and the office's leadership read it, and only those who follow up
see a complainant's contact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from appliance.domain import ComplaintState
from appliance.oversight import COMPLAINT_NUMBER_PATTERN
from appliance.pipeline import CloseForm, ComplaintForm, ComplaintView, FollowUpForm, VerifyForm

from ._deps import Context, Me

router = APIRouter(prefix="/complaints", tags=["complaints"])

ComplaintNumber = Annotated[
    str, Path(pattern=COMPLAINT_NUMBER_PATTERN, description="complaint, e.g. ADU-2026-0001")
]


@router.post("", status_code=201)
async def record(body: ComplaintForm, me: Me, context: Context) -> ComplaintView:
    return context.pipeline.complaints.record(me, body)


@router.get("")
async def book(
    me: Me,
    context: Context,
    state: Annotated[ComplaintState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ComplaintView]:
    return context.pipeline.complaints.book(me, state=state, limit=limit)


@router.get("/{number}")
async def complaint(number: ComplaintNumber, me: Me, context: Context) -> ComplaintView:
    return context.pipeline.complaints.view(me, number)


@router.post("/{number}/verify")
async def verify(
    number: ComplaintNumber, body: VerifyForm, me: Me, context: Context
) -> ComplaintView:
    return context.pipeline.complaints.verify(me, number, body)


@router.post("/{number}/follow-up")
async def follow_up(
    number: ComplaintNumber, body: FollowUpForm, me: Me, context: Context
) -> ComplaintView:
    return context.pipeline.complaints.follow_up(me, number, body)


@router.post("/{number}/close")
async def close(
    number: ComplaintNumber, body: CloseForm, me: Me, context: Context
) -> ComplaintView:
    return context.pipeline.complaints.close(me, number, body)
