"""The satisfaction questionnaire on the kiosk (`/kiosk/survei`): after a card is handed
over, the citizen may score the nine elements of PermenPANRB 14/2017 on the 1-4 scale and,
if they wish, say their sex, age band, education and occupation; then the screen thanks
them and goes back to the start.

The kiosk takes a questionnaire only for a service whose handover is recent, one per
handover (`SurveyDesk.offers`, `SurveyDesk.answer`): an unauthenticated touch screen
cannot stuff the survey. Nothing personal is asked or kept: no name, no number, no ticket;
the response carries the service type alone. A missing answer is refused at its question,
with what was chosen kept on the screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from appliance._text import Text
from appliance.domain import ServiceType, Sex
from appliance.oversight import (
    ELEMENTS,
    PROFILE_LABELS,
    AgeBand,
    Education,
    Element,
    Occupation,
)
from appliance.pipeline import PipelineError, QuestionnaireForm

from ._kiosk import IDLE_RETURN_S, TICKET_SHOWN_S, render_kiosk
from ._session import Context, Csrf

router = APIRouter(prefix="/kiosk/survei", include_in_schema=False)

UNANSWERED: Final = Text(
    "Pilih salah satu jawaban untuk pertanyaan ini.", "Choose one answer to this question."
)
UNKNOWN_CHOICE: Final = Text(
    "Pilihan ini tidak dikenal; pilih lagi atau kosongkan.",
    "This choice is not known; choose again or leave it out.",
)
NO_INVITATION: Final = Text(
    "Survei untuk layanan ini sudah diisi atau waktunya sudah lewat. Terima kasih.",
    "The survey for this service was taken already, or its time has passed. Thank you.",
)
_EDUCATION: Final[Mapping[Education, Text]] = MappingProxyType(
    {
        Education.SD: Text("SD ke bawah", "Primary school or less"),
        Education.SMP: Text("SMP", "Junior high school"),
        Education.SMA: Text("SMA/SMK", "Senior high school"),
        Education.DIPLOMA: Text("D1-D4", "Diploma"),
        Education.S1: Text("S1", "Bachelor's degree"),
        Education.S2_PLUS: Text("S2 ke atas", "Master's degree or higher"),
    }
)
_OCCUPATION: Final[Mapping[Occupation, Text]] = MappingProxyType(
    {
        Occupation.PNS: Text("PNS", "Civil servant"),
        Occupation.TNI_POLRI: Text("TNI/Polri", "Armed forces/police"),
        Occupation.SWASTA: Text("Pegawai swasta", "Private employee"),
        Occupation.WIRAUSAHA: Text("Wirausaha", "Self-employed"),
        Occupation.PELAJAR: Text("Pelajar/Mahasiswa", "Pupil/student"),
        Occupation.LAINNYA: Text("Lainnya", "Other"),
    }
)
_PROFILE_CHOICES: Final[Mapping[str, tuple[tuple[str, Text], ...]]] = MappingProxyType(
    {
        "sex": tuple((sex.value, sex.label) for sex in Sex),
        "age_band": tuple((band.value, Text(band.value, band.value)) for band in AgeBand),
        "education": tuple((e.value, label) for e, label in _EDUCATION.items()),
        "occupation": tuple((o.value, label) for o, label in _OCCUPATION.items()),
    }
)
_ELEMENT_CODES: Final = frozenset(element.value for element in Element)
Choice = Annotated[str, Form(max_length=16)]


def _service(code: str) -> ServiceType | None:
    try:
        return ServiceType(code)
    except ValueError:
        return None


def _offered(context: Context) -> tuple[ServiceType, ...]:
    counts = context.station.pipeline.survey.offers().questionnaires
    return tuple(service for service, n in counts.items() if n > 0)


def _form(
    request: Request,
    context: Context,
    service: ServiceType,
    *,
    chosen: Mapping[str, str] | None = None,
    errors: Mapping[str, Text] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "service": service,
        "elements": tuple(ELEMENTS.values()),
        "profile": tuple(
            (name, PROFILE_LABELS[name], options) for name, options in _PROFILE_CHOICES.items()
        ),
        "chosen": dict(chosen or {}),
        "errors": dict(errors or {}),
        "idle_s": IDLE_RETURN_S * 3,
    }
    return render_kiosk(request, context, "kiosk_survey.html", values, status_code=status_code)


@router.get("")
async def choose(request: Request, context: Context) -> Response:
    """The services a questionnaire may be taken for now; straight to the form for one."""
    offered = _offered(context)
    if len(offered) == 1:
        return _form(request, context, offered[0])
    values = {"offered": offered, "return_s": TICKET_SHOWN_S}
    return render_kiosk(request, context, "kiosk_survey_choose.html", values)


@router.get("/{code}")
async def questionnaire(request: Request, context: Context, code: str) -> Response:
    service = _service(code)
    if service is None or service not in _offered(context):
        return await choose(request, context)
    return _form(request, context, service)


@router.post("")
async def answer(
    request: Request,
    context: Context,
    _csrf: Csrf,
    layanan: Choice = "",
) -> Response:
    service = _service(layanan)
    if service is None:
        return await choose(request, context)
    sent = await request.form()
    chosen = {
        key: value
        for key in (*_ELEMENT_CODES, *_PROFILE_CHOICES)
        if isinstance(value := sent.get(key), str) and value
    }
    errors: dict[str, Text] = {
        element.value: UNANSWERED for element in Element if element.value not in chosen
    }
    try:
        form = QuestionnaireForm.model_validate(
            {
                "service": service,
                "answers": {code: chosen.get(code, "0") for code in _ELEMENT_CODES},
                "profile": {name: chosen[name] for name in _PROFILE_CHOICES if name in chosen},
            }
        )
    except ValidationError as refused:
        for problem in refused.errors():
            where = problem["loc"]
            key = str(where[-1]) if where else ""
            errors.setdefault(key, UNANSWERED if key in _ELEMENT_CODES else UNKNOWN_CHOICE)
        return _form(request, context, service, chosen=chosen, errors=errors, status_code=422)
    try:
        context.station.pipeline.survey.answer(form)
    except PipelineError:
        values = {"message": NO_INVITATION, "poll_s": None, "return_s": TICKET_SHOWN_S}
        return render_kiosk(request, context, "kiosk_problem.html", values, status_code=409)
    thanks: dict[str, Any] = {"service": service, "return_s": TICKET_SHOWN_S}
    return render_kiosk(request, context, "kiosk_survey_thanks.html", thanks)
