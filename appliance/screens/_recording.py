"""The operator's biometric recording panel (`/operator/rekam`): what cannot be recorded
(a finger, an eye, with its reason) declared before starting, then each modality as it
is taken, its quality against the device's threshold, and the operator's choice when it
stays below it (capture again, or accept the best).

The panel is refreshed on the "biometrics" topic while a recording runs, by refreshers
outside it (`/operator/rekam/langsung`); the declaration form never is, so nothing typed
is lost to a live update."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from appliance._text import Text
from appliance.domain import Phase, Step
from appliance.hal import Eye, Finger
from appliance.pipeline import (
    ApplicationView,
    BiometricPlan,
    Decision,
    MissingPart,
    NotFound,
    Officer,
    PipelineError,
    Stage,
    StageState,
)
from appliance.register import MissingReason

from ._consoles import render_console
from ._context import ScreenContext
from ._operator_base import (
    APPLICATION_ID_PATTERN,
    ApplicationId,
    OperatorOfficer,
    failure_text,
    holds,
    name_of,
    past,
    refusal,
)
from ._session import Context, Csrf

TEMPLATE: Final = "operator_recording.html"

router = APIRouter(prefix="/operator/rekam", include_in_schema=False)

FINGER_NAMES: Final = {
    Finger.RIGHT_THUMB: Text("Ibu jari kanan", "Right thumb"),
    Finger.RIGHT_INDEX: Text("Telunjuk kanan", "Right index finger"),
    Finger.RIGHT_MIDDLE: Text("Jari tengah kanan", "Right middle finger"),
    Finger.RIGHT_RING: Text("Jari manis kanan", "Right ring finger"),
    Finger.RIGHT_LITTLE: Text("Kelingking kanan", "Right little finger"),
    Finger.LEFT_THUMB: Text("Ibu jari kiri", "Left thumb"),
    Finger.LEFT_INDEX: Text("Telunjuk kiri", "Left index finger"),
    Finger.LEFT_MIDDLE: Text("Jari tengah kiri", "Left middle finger"),
    Finger.LEFT_RING: Text("Jari manis kiri", "Left ring finger"),
    Finger.LEFT_LITTLE: Text("Kelingking kiri", "Left little finger"),
}
EYE_NAMES: Final = {
    Eye.LEFT: Text("Mata kiri", "Left eye"),
    Eye.RIGHT: Text("Mata kanan", "Right eye"),
}
PART_NAMES: Final[dict[str, Text]] = {
    "face": Text("Wajah", "Face"),
    "signature": Text("Tanda tangan", "Signature"),
    **{finger.value: name for finger, name in FINGER_NAMES.items()},
    **{eye.value: name for eye, name in EYE_NAMES.items()},
}
STAGE_NAMES: Final = {
    Stage.FACE: Text("Foto wajah", "Face photo"),
    Stage.LEFT_FOUR: Text("Empat jari kiri", "Left four fingers"),
    Stage.RIGHT_FOUR: Text("Empat jari kanan", "Right four fingers"),
    Stage.THUMBS: Text("Dua ibu jari", "Both thumbs"),
    Stage.IRISES: Text("Iris mata", "Irises"),
    Stage.SIGNATURE: Text("Tanda tangan", "Signature"),
}
STATE_NAMES: Final = {
    StageState.WAITING: Text("Menunggu", "Waiting"),
    StageState.CAPTURING: Text("Sedang merekam…", "Capturing…"),
    StageState.DECIDING: Text("Kualitas kurang", "Quality too low"),
    StageState.ACCEPTED: Text("Diterima", "Accepted"),
    StageState.NOT_TAKEN: Text("Tidak direkam", "Not taken"),
}
REASON_NAMES: Final = {
    MissingReason.AMPUTASI: Text("Amputasi", "Amputated"),
    MissingReason.CACAT_PERMANEN: Text("Cacat permanen", "Permanent"),
    MissingReason.PERBAN: Text("Diperban", "Bandaged"),
}
# The form's fields: one choice per finger and eye, empty when it can be recorded.
FINGER_FIELDS: Final = {f"jari-{finger.name.lower()}": finger for finger in FINGER_NAMES}
EYE_FIELDS: Final = {f"mata-{eye.name.lower()}": eye for eye in EYE_NAMES}
# The form's table: a row per finger and one for the eyes, the left side then the right.
ROWS: Final = (
    (Text("Ibu jari", "Thumb"), Finger.LEFT_THUMB, Finger.RIGHT_THUMB),
    (Text("Telunjuk", "Index finger"), Finger.LEFT_INDEX, Finger.RIGHT_INDEX),
    (Text("Jari tengah", "Middle finger"), Finger.LEFT_MIDDLE, Finger.RIGHT_MIDDLE),
    (Text("Jari manis", "Ring finger"), Finger.LEFT_RING, Finger.RIGHT_RING),
    (Text("Kelingking", "Little finger"), Finger.LEFT_LITTLE, Finger.RIGHT_LITTLE),
    (Text("Mata (iris)", "Eye (iris)"), Eye.LEFT, Eye.RIGHT),
)
_FIELD_OF: Final = {part: field for field, part in {**FINGER_FIELDS, **EYE_FIELDS}.items()}
_FIELD_NAMES: Final = {
    **{field: FINGER_NAMES[finger] for field, finger in FINGER_FIELDS.items()},
    **{field: EYE_NAMES[eye] for field, eye in EYE_FIELDS.items()},
}
_NOT_A_REASON: Final = Text("Pilih alasan dari daftar.", "Choose a reason from the list.")


def _base(context: ScreenContext, app: ApplicationView | None) -> dict[str, Any]:
    return {
        "app": app,
        "mode": "idle",
        "progress": None,
        "outcome": None,
        "deciding": False,
        "errors": {},
        "chosen": {},
        "problem": None,
        "labels": _labels(),
        "active_name": name_of(context, app.active_by) if app and app.active_by else None,
    }


def _labels() -> dict[str, Any]:
    return {
        "parts": PART_NAMES,
        "stages": STAGE_NAMES,
        "states": STATE_NAMES,
        "reasons": REASON_NAMES,
        "fields": _FIELD_NAMES,
        "rows": [(name, _FIELD_OF[left], _FIELD_OF[right]) for name, left, right in ROWS],
    }


def idle_values(context: ScreenContext) -> dict[str, Any]:
    return _base(context, None)


def form_values(
    context: ScreenContext,
    app: ApplicationView,
    *,
    errors: dict[str, Text] | None = None,
    chosen: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {**_base(context, app), "mode": "form", "errors": errors or {}, "chosen": chosen or {}}


def progress_values(context: ScreenContext, app: ApplicationView) -> dict[str, Any]:
    pipeline = context.station.pipeline
    progress = pipeline.recording(app.id)
    recorded = app.step is not Step.BIOMETRIC
    return {
        **_base(context, app),
        "mode": "progress",
        "progress": progress,
        "outcome": pipeline.outcomes(app.id) if recorded else None,
        "deciding": progress is not None
        and progress.current is not None
        and progress.current.state is StageState.DECIDING,
    }


def panel_for(context: ScreenContext, officer: Officer) -> dict[str, Any]:
    """The panel a fresh page shows: the recording this operator is running, if any."""
    pipeline = context.station.pipeline
    for app in pipeline.applications(step=Step.BIOMETRIC):
        if app.phase is Phase.ACTIVE and app.active_by == officer.person:
            return progress_values(context, app)
    return idle_values(context)


def render(
    request: Request, officer: Officer, values: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    values = {**values, "me": officer.person, "failure_text": failure_text}
    return render_console(
        request, officer, TEMPLATE, values, block="panel", status_code=status_code
    )


# --------------------------------------------------------------------------- routes


@router.get("")
async def idle_panel(request: Request, officer: OperatorOfficer, context: Context) -> HTMLResponse:
    return render(request, officer, idle_values(context))


@router.get("/langsung")
async def live_panel(
    request: Request,
    officer: OperatorOfficer,
    context: Context,
    app: Annotated[str | None, Query(pattern=APPLICATION_ID_PATTERN)] = None,
) -> Response:
    """For the refreshers outside the panel (operator.html): the running recording's
    panel, or nothing (204) when the panel carries no recording to refresh."""
    if app is None:
        return Response(status_code=204)
    return await progress_panel(request, app, officer, context)


@router.get("/{app_id}")
async def progress_panel(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context
) -> HTMLResponse:
    app = _find(context, app_id)
    if app is None:
        return _unknown(request, officer, context, app_id)
    return render(request, officer, progress_values(context, app))


@router.get("/{app_id}/mulai")
async def declaration_form(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context
) -> HTMLResponse:
    app = _find(context, app_id)
    if app is None:
        return _unknown(request, officer, context, app_id)
    return render(request, officer, form_values(context, app))


@router.post("/{app_id}")
async def start_recording(
    request: Request, app_id: ApplicationId, officer: OperatorOfficer, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """Start the recording with what the form declares missing; the operator steers it."""
    app = _find(context, app_id)
    if app is None:
        return _unknown(request, officer, context, app_id)
    form = await request.form()
    chosen = {name: str(form[name]) for name in _FIELD_NAMES if form.get(name)}
    missing, errors = _declared(chosen)
    if not errors:
        plan = BiometricPlan(missing=missing, operator_decides=True)
        try:
            app = await context.station.pipeline.start_step(
                officer, app_id, Step.BIOMETRIC, biometrics=plan
            )
        except PipelineError as error:
            if error.code != "too_few_fingers":
                return _refused(request, officer, context, app_id, error)
            errors["jari"] = error.text
        else:
            return render(request, officer, progress_values(context, app))
    values = form_values(context, app, errors=errors, chosen=chosen)
    return render(request, officer, values, status_code=422)


@router.post("/{app_id}/keputusan")
async def decide(
    request: Request,
    *,
    app_id: ApplicationId,
    officer: OperatorOfficer,
    context: Context,
    _csrf: Csrf,
    stage: Annotated[str, Form(max_length=32)] = "",
    decision: Annotated[str, Form(max_length=32)] = "",
) -> HTMLResponse:
    """Capture the stage again, or accept its best capture."""
    app = _find(context, app_id)
    if app is None:
        return _unknown(request, officer, context, app_id)
    chosen_stage, chosen = _member(Stage, stage), _member(Decision, decision)
    if chosen_stage is None or chosen is None:
        problem = Text("Pilihan tidak dikenal; pilih lagi.", "Unknown choice; choose again.")
        values = {**progress_values(context, app), "problem": problem}
        return render(request, officer, values, status_code=422)
    try:
        context.station.pipeline.steer_recording(officer, app_id, chosen_stage, chosen)
    except PipelineError as error:
        if error.code != "nothing_to_decide":  # a second click finds it decided: no alarm
            return _refused(request, officer, context, app_id, error)
    return render(request, officer, progress_values(context, app))


_E = TypeVar("_E", bound=StrEnum)


def _member(kind: type[_E], value: str) -> _E | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _declared(chosen: dict[str, str]) -> tuple[tuple[MissingPart, ...], dict[str, Text]]:
    """The parts the form declares missing, or the fields whose choice is not a reason."""
    missing: list[MissingPart] = []
    errors: dict[str, Text] = {}
    parts: dict[str, Finger | Eye] = {**FINGER_FIELDS, **EYE_FIELDS}
    for name, value in chosen.items():
        reason = _member(MissingReason, value)
        if reason is None:
            errors[name] = _NOT_A_REASON
        else:
            missing.append(MissingPart(part=parts[name], reason=reason))
    return tuple(missing), errors


def _find(context: ScreenContext, app_id: str) -> ApplicationView | None:
    try:
        return context.station.pipeline.application(app_id)
    except NotFound:
        return None


def _unknown(
    request: Request, officer: Officer, context: ScreenContext, app_id: str
) -> HTMLResponse:
    problem = Text(f"Permohonan {app_id} tidak ada.", f"There is no application {app_id}.")
    return render(request, officer, {**idle_values(context), "problem": problem}, status_code=404)


def _refused(
    request: Request, officer: Officer, context: ScreenContext, app_id: str, error: PipelineError
) -> HTMLResponse:
    def done(app: ApplicationView) -> bool:
        return holds(app, Step.BIOMETRIC, officer) or past(app, Step.BIOMETRIC)

    answer = refusal(context, officer, app_id, Step.BIOMETRIC, error, done=done)
    app = _find(context, app_id)
    mine = app is not None and (answer.text is None or holds(app, Step.BIOMETRIC, officer))
    values = progress_values(context, app) if mine and app else idle_values(context)
    return render(request, officer, {**values, "problem": answer.text}, status_code=answer.status)
