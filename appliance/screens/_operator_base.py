"""What the operator's console and its recording panel share: who may use them, the
application id in their paths, and how a refused action is answered.

A refused action is one of three things. A double submit: the first click did the work,
so the second is refused by the pipeline, and the screen shows where things stand, with
no alarm. A stale screen: another officer took the step meanwhile, which the screen says,
naming them. Anything else: the pipeline's own words, with its status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Path

from appliance._text import Text
from appliance.domain import Phase, Role, Step
from appliance.hal import FAULT_CODES
from appliance.pipeline import ApplicationView, FailureView, NotFound, Officer, PipelineError

from ._context import ScreenContext
from ._session import officer_in

OperatorOfficer = Annotated[Officer, Depends(officer_in(Role.OPERATOR))]
APPLICATION_ID_PATTERN: Final = r"^[0-9]{8}-[0-9]{4}$"
ApplicationId = Annotated[str, Path(pattern=APPLICATION_ID_PATTERN)]
_ORDER: Final = list(Step)


# The failures an operator meets, in their words; a device's fault speaks for itself
# (the HAL's table), anything else is named by its code.
_FAILURES: Final = {
    "budget_exceeded": Text(
        "Melewati batas waktu langkah; mulai lagi.", "Over the step's time; start it again."
    ),
    "interrupted": Text(
        "Terputus karena stasiun dimulai ulang; mulai lagi.",
        "Cut off by a station restart; start it again.",
    ),
    "capture_incomplete": Text(
        "Wajah atau dua jari tidak terekam; rekam ulang.",
        "No face, or fewer than two fingers, was captured; record again.",
    ),
    "fingerprint_worker": Text(
        "Pengolah sidik jari berhenti; mulai lagi.",
        "The fingerprint worker stopped; start again.",
    ),
    "card_spoiled": Text(
        "Kartu rusak dan dicatat; dicetak ulang dengan blangko baru.",
        "The card was spoiled and counted; it is printed again on a new blank.",
    ),
    "wrong_card": Text(
        "Kartu di pembaca bukan kartu pemohon ini.",
        "The card on the reader is not this applicant's.",
    ),
    "no_match": Text(
        "Sidik jari tidak cocok dengan chip.", "The fingerprint did not match the chip."
    ),
    "no_printed_card": Text(
        "Tidak ada kartu tercetak untuk diaktifkan.", "There is no printed card to activate."
    ),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    text: Text | None
    """None: the action was done already (a double submit): nothing to say."""
    status: int


def failure_text(failure: FailureView) -> Text:
    spec = FAULT_CODES.get(failure.code)
    if spec is not None:
        return spec.text
    return _FAILURES.get(
        failure.code, Text(f"Langkah gagal ({failure.code}).", f"The step failed ({failure.code}).")
    )


def name_of(context: ScreenContext, person: str | None) -> str:
    member = context.station.staff.get(person) if person else None
    return member.name if member is not None else person or "?"


def past(app: ApplicationView, step: Step) -> bool:
    """The application has left `step` behind."""
    return _ORDER.index(app.step) > _ORDER.index(step) or not app.state.is_open


def holds(app: ApplicationView, step: Step, officer: Officer) -> bool:
    """`officer` holds the application's `step` now."""
    return app.step is step and app.phase is Phase.ACTIVE and app.active_by == officer.person


def refusal(
    context: ScreenContext,
    officer: Officer,
    app_id: str,
    step: Step,
    error: PipelineError,
    *,
    done: Callable[[ApplicationView], bool],
) -> Refusal:
    """How to answer the pipeline's refusal of `officer`'s action on `step`; `done` says
    whether the application shows the action as done already."""
    try:
        app = context.station.pipeline.application(app_id)
    except NotFound as gone:
        return Refusal(gone.text, gone.status)
    if done(app):
        return Refusal(None, 200)
    taken_by = app.active_by
    if app.step is step and app.phase is Phase.ACTIVE and taken_by not in (None, officer.person):
        name = name_of(context, taken_by)
        return Refusal(
            Text(
                f"Langkah ini sudah diambil {name}. Layar ini sudah diperbarui; tidak ada "
                "yang diubah.",
                f"{name} has taken this step. This screen is updated; nothing was changed.",
            ),
            409,
        )
    return Refusal(error.text, error.status)
