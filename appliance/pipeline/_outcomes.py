"""What an application's device steps left in the register, read back for the operator:
its biometrics recorded (with what was declared missing) or skipped because the person
was recorded before, and the activation attempts on its current card (each finger's
match score against the threshold)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from appliance.domain import EventType, Step
from appliance.hal import Eye, Finger
from appliance.register import MissingBiometric, MissingReason, Register

from ._biometrics import MissingPart


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class RecordedView(_View):
    modalities: tuple[str, ...]
    missing: tuple[MissingPart, ...]


class ActivationAttemptView(_View):
    finger: Finger
    attempt: int
    score: float
    """The matcher's score (the register keeps it times 1000)."""
    threshold: float
    matched: bool


class StepOutcomes(_View):
    skipped: str | None
    """Why the recording was skipped (recorded before), as the section head's step said."""
    recorded: RecordedView | None
    activation: tuple[ActivationAttemptView, ...]
    """The attempts on the application's latest card, in order."""


_TYPES = (EventType.STEP_SKIPPED, EventType.BIOMETRICS_RECORDED, EventType.CARD_ACTIVATION_ATTEMPT)


def step_outcomes(register: Register, app: str) -> StepOutcomes:
    card = register.latest_card(app)
    serial = card.card_serial if card is not None else None
    skipped: str | None = None
    recorded: RecordedView | None = None
    attempts: list[ActivationAttemptView] = []
    for kind, data in register.application_events(app, _TYPES):
        if kind is EventType.STEP_SKIPPED and data["step"] == Step.BIOMETRIC:
            skipped = str(data["reason"])
        elif kind is EventType.BIOMETRICS_RECORDED:
            missing = (MissingBiometric.model_validate(m) for m in data.get("exceptions", ()))
            recorded = RecordedView(
                modalities=tuple(data["modalities"]), missing=tuple(map(_part, missing))
            )
        elif kind is EventType.CARD_ACTIVATION_ATTEMPT and data["card_serial"] == serial:
            attempts.append(
                ActivationAttemptView(
                    finger=Finger.from_iso_position(data["finger"]),
                    attempt=data["attempt"],
                    score=data["score"] / 1000,
                    threshold=data["threshold"] / 1000,
                    matched=data["matched"],
                )
            )
    return StepOutcomes(skipped=skipped, recorded=recorded, activation=tuple(attempts))


def _part(missing: MissingBiometric) -> MissingPart:
    part = (
        Finger.from_iso_position(missing.finger)
        if missing.finger is not None
        else Eye(missing.eye.capitalize() if missing.eye else "")
    )
    return MissingPart(part=part, reason=MissingReason(missing.reason))
