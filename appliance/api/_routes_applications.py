"""Applications: the file handed in, and each officer's step of the SOP on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from appliance.domain import ApplicationState, Step
from appliance.pipeline import ApplicationView, SubmitForm

from ._deps import Context, Me
from ._models import ApplicationId, Check, DecideActivation, Validate

router = APIRouter(prefix="/applications", tags=["applications"])


@router.post("", status_code=201)
async def submit(body: SubmitForm, me: Me, context: Context) -> ApplicationView:
    return await context.pipeline.submit(me, body)


@router.get("")
async def applications(
    _me: Me,
    context: Context,
    state: Annotated[ApplicationState | None, Query()] = None,
    step: Annotated[Step | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ApplicationView]:
    return context.pipeline.applications(state=state, step=step, limit=limit)


@router.get("/{app_id}")
async def application(app_id: ApplicationId, _me: Me, context: Context) -> ApplicationView:
    return context.pipeline.application(app_id)


@router.post("/{app_id}/steps/{step}/start")
async def start(app_id: ApplicationId, step: Step, me: Me, context: Context) -> ApplicationView:
    return await context.pipeline.start_step(me, app_id, step)


@router.post("/{app_id}/check")
async def check(app_id: ApplicationId, body: Check, me: Me, context: Context) -> ApplicationView:
    return await context.pipeline.check(me, app_id, body.documents)


@router.post("/{app_id}/validate")
async def validate(
    app_id: ApplicationId, body: Validate, me: Me, context: Context
) -> ApplicationView:
    return await context.pipeline.validate(
        me, app_id, valid=body.valid, reason=body.reason, confirm_region=body.confirm_region
    )


@router.post("/{app_id}/activation-decision")
async def decide_activation(
    app_id: ApplicationId, body: DecideActivation, me: Me, context: Context
) -> ApplicationView:
    return await context.pipeline.decide_activation(
        me, app_id, decision=body.decision, reason=body.reason
    )


@router.post("/{app_id}/transfer")
async def transfer(app_id: ApplicationId, me: Me, context: Context) -> ApplicationView:
    return await context.pipeline.transfer(me, app_id)


@router.post("/{app_id}/handover")
async def handover(app_id: ApplicationId, me: Me, context: Context) -> ApplicationView:
    return await context.pipeline.handover(me, app_id)
