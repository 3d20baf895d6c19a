"""The operator's console (`/operator`): the device strip, the biometric recording panel
(`_recording`), and the desk: who waits to be recorded, each card's encoding and printing
as it goes (the station starts it by itself), activation with the fingerprint match, and
the card carried to the counter.

The desk refreshes itself on every application event; its buttons answer with the desk,
and a refused one says why in it (`_operator_base.refusal`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.domain import ApplicationState, CardState, Phase, Step
from appliance.pipeline import ApplicationView, Officer, PipelineError

from . import _devices, _recording
from ._consoles import render_console
from ._context import ScreenContext
from ._operator_base import (
    ApplicationId,
    OperatorOfficer,
    failure_text,
    name_of,
    past,
    refusal,
)
from ._session import Context, Csrf

router = APIRouter(include_in_schema=False)
router.include_router(_devices.router)
router.include_router(_recording.router)

TEMPLATE: Final = "operator.html"

_CARD_STEPS: Final = (
    (CardState.FED, Text("Blangko masuk", "Blank fed")),
    (CardState.PERSONALISED, Text("Chip ditulis", "Chip written")),
    (CardState.PRINTED, Text("Dicetak", "Printed")),
)
_CARD_RANK: Final = {CardState.FED: 1, CardState.PERSONALISED: 2, CardState.PRINTED: 3}


@dataclass(frozen=True, slots=True)
class CardStepView:
    label: Text
    done: bool


def card_steps(app: ApplicationView) -> tuple[CardStepView, ...]:
    rank = _CARD_RANK.get(app.card.state, 0) if app.card is not None else 0
    if app.step is not Step.ENCODE_PRINT and app.card is not None:
        rank = max(rank, len(_CARD_STEPS))  # printed, and beyond
    return tuple(
        CardStepView(label, rank >= step) for step, (_, label) in enumerate(_CARD_STEPS, 1)
    )


def desk_values(context: ScreenContext, officer: Officer) -> dict[str, Any]:
    pipeline = context.station.pipeline

    def at(step: Step) -> list[ApplicationView]:
        return [app for app in pipeline.applications(step=step) if app.state.is_open]

    lists = {
        "to_record": at(Step.BIOMETRIC),
        "printing": at(Step.ENCODE_PRINT),
        "activating": at(Step.ACTIVATE),
        "carrying": at(Step.TRANSFER),
    }
    listed = [app for apps in lists.values() for app in apps]
    return {
        **lists,
        "outcomes": {app.id: pipeline.outcomes(app.id) for app in listed},
        "names": {
            app.active_by: name_of(context, app.active_by) for app in listed if app.active_by
        },
        "me": officer.person,
        "card_steps": card_steps,
        "failure_text": failure_text,
        "finger_names": _recording.FINGER_NAMES,
        "stock": pipeline.blank_stock(),
        "waiting_blank": ApplicationState.WAITING_BLANK,
        "desk_problem": None,
    }


def _page_values(context: ScreenContext, officer: Officer) -> dict[str, Any]:
    return {
        **desk_values(context, officer),
        **_recording.panel_for(context, officer),
        **_devices.device_values(context),
    }


@router.get("/operator")
async def console(request: Request, officer: OperatorOfficer, context: Context) -> HTMLResponse:
    return render_console(request, officer, TEMPLATE, _page_values(context, officer))


@router.get("/operator/meja")
async def desk(request: Request, officer: OperatorOfficer, context: Context) -> HTMLResponse:
    return _desk(request, officer, context)


@router.post("/operator/cetak/{app_id}")
async def print_again(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """Start the encoding and printing again after it failed."""
    return await _act(request, officer, context, app_id, step=Step.ENCODE_PRINT)


@router.post("/operator/aktivasi/{app_id}")
async def activate(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """The card is on the desk reader: match the applicant's finger against its chip."""
    return await _act(request, officer, context, app_id, step=Step.ACTIVATE)


@router.post("/operator/antar/{app_id}")
async def carry(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """The operator takes the card to the counter."""
    return await _act(request, officer, context, app_id, step=Step.TRANSFER)


@router.post("/operator/serahkan/{app_id}")
async def hand_to_counter(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """The card is at the counter: the transfer ends."""
    return await _act(request, officer, context, app_id, step=Step.TRANSFER, finish=True)


async def _act(
    request: Request,
    officer: Officer,
    context: ScreenContext,
    app_id: str,
    *,
    step: Step,
    finish: bool = False,
) -> HTMLResponse:
    """Start `step` (or `finish` it); a refusal is answered as `refusal` says."""
    pipeline = context.station.pipeline
    try:
        if finish:
            await pipeline.transfer(officer, app_id)
        else:
            await pipeline.start_step(officer, app_id, step)
    except PipelineError as error:

        def done(app: ApplicationView) -> bool:
            """A first click did it: the step is over, or started (the operator holds
            it; the encoding, which holds nobody, runs)."""
            if past(app, step):
                return True
            started = app.step is step and app.phase is Phase.ACTIVE
            return not finish and started and app.active_by in (None, officer.person)

        answer = refusal(context, officer, app_id, step, error, done=done)
        if answer.text is not None:
            return _desk(request, officer, context, problem=answer.text, status=answer.status)
    return _desk(request, officer, context)


def _desk(
    request: Request,
    officer: Officer,
    context: ScreenContext,
    *,
    problem: Text | None = None,
    status: int = 200,
) -> HTMLResponse:
    values = {**desk_values(context, officer), "desk_problem": problem}
    return render_console(request, officer, TEMPLATE, values, block="desk", status_code=status)
