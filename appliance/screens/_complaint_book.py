"""The complaint book's screens (`/pengaduan`, *Buku Pengaduan*, seed 001 §11).

Every officer and the office's leadership read the book; the counter officer, the
operator and the section head write a complaint into it from each channel; the section
head verifies it (its category, and so its deadline), records each follow-up and closes
it; past its deadline an open complaint is marked late, and once the station's watch has
escalated it, escalated, on the list and on the complaint. The information officer drafts
the quarterly recap here; the Camat approves it on `/pimpinan`.

The rules are the pipeline's (`ComplaintBook`, `RecapDesk`) and the workflow table's:
these routes only show forms and what the pipeline answered. A complainant's contact is
in the view only for the roles that follow up (the pipeline leaves it out for the rest),
so no template here can show it to anyone else. The forms are plain posts answered with
a redirect (a reload sends nothing twice); one refused at a field comes back with 422 and
what was typed, nothing recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from appliance._text import Text
from appliance.api._validation import field_problems
from appliance.domain import (
    COMPLAINT_TRANSITIONS,
    RECAP_TRANSITIONS,
    EventType,
    may_cause,
)
from appliance.oversight import (
    COMPLAINT_NUMBER_PATTERN,
    ELEMENTS,
    Category,
    Channel,
    OversightError,
    Period,
    PeriodKind,
    StandardPart,
)
from appliance.pipeline import (
    CloseForm,
    ComplaintForm,
    ComplaintView,
    FollowUpForm,
    Officer,
    PipelineError,
    RecapForm,
    VerifyForm,
)

from ._consoles import BOOK_ROLES, render_console
from ._head_once import new_token, once_forms
from ._recap_labels import STATUS_LABELS
from ._session import Context, Csrf, officer_in

router = APIRouter(prefix="/pengaduan", include_in_schema=False)

Reader = Annotated[Officer, Depends(officer_in(*sorted(BOOK_ROLES)))]
Number = Annotated[str, Path(pattern=COMPLAINT_NUMBER_PATTERN)]
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=2000)]
TEMPLATE: Final = "complaints.html"
DETAIL: Final = "complaint.html"
_RECORDED: Final = Text(
    "Pengaduan {number} dicatat di buku pengaduan.", "Complaint {number} is in the book."
)
_DONE: Final[Mapping[str, Text]] = {
    "verifikasi": Text(
        "Pengaduan diverifikasi; tenggatnya mengikuti kategorinya.",
        "Verified; its deadline follows its category.",
    ),
    "tindak-lanjut": Text("Tindak lanjut dicatat.", "The follow-up is recorded."),
    "selesai": Text("Pengaduan ditutup (selesai).", "The complaint is closed."),
}


def _may(officer: Officer, event: EventType) -> bool:
    transition = COMPLAINT_TRANSITIONS.get(event) or RECAP_TRANSITIONS[event]
    return any(may_cause(transition, role) for role in officer.roles)


def _common(officer: Officer, context: Context) -> dict[str, Any]:
    staff = context.station.staff

    def name_of(person: str) -> str:
        member = staff.get(person)
        return member.name if member else person

    return {
        "name_of": name_of,
        "channels": tuple(Channel),
        "categories": tuple(Category),
        "standards": tuple(StandardPart),
        "elements": tuple(ELEMENTS.values()),
        "state_labels": STATUS_LABELS,
        "may_record": _may(officer, EventType.COMPLAINT_RECEIVED),
        "may_follow": _may(officer, EventType.COMPLAINT_FOLLOWED_UP),
        "may_draft": _may(officer, EventType.RECAP_DRAFTED),
        "once": new_token,
    }


def _page(
    request: Request,
    officer: Officer,
    context: Context,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, Text] | None = None,
    notice: Text | None = None,
    problem: Text | None = None,
    status_code: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    values = {
        **_common(officer, context),
        "book": context.station.pipeline.complaints.book(officer),
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "notice": notice,
        "problem": problem,
        "recap_quarter": recap_quarter(context.station.pipeline.today()),
        "alone": block is not None,
    }
    return render_console(request, officer, TEMPLATE, values, block=block, status_code=status_code)


def _detail(
    request: Request,
    officer: Officer,
    context: Context,
    number: str,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, Text] | None = None,
    notice: Text | None = None,
    problem: Text | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        view = context.station.pipeline.complaints.view(officer, number)
    except PipelineError as error:
        return _page(request, officer, context, problem=error.text, status_code=error.status)
    values = {
        **_common(officer, context),
        "c": view,
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "notice": notice,
        "problem": problem,
    }
    return render_console(request, officer, DETAIL, values, status_code=status_code)


def _errors(refused: ValidationError, where: Mapping[str, str]) -> dict[str, Text]:
    """Each problem at the form's field that holds it (`where`: the model's field to the
    form's, "" for a rule over the whole form)."""
    errors: dict[str, Text] = {}
    for problem in field_problems(refused.errors()):
        field = problem.label.split(".")[0]
        errors.setdefault(where.get(field, field), problem.text)
    return errors


def _notice(kind: str | None, number: str | None = None) -> Text | None:
    if kind == "baru" and number:
        return Text(_RECORDED.id.format(number=number), _RECORDED.en.format(number=number))
    return _DONE.get(kind or "")


# ---------------------------------------------------------------- the book


@router.get("")
async def book(
    request: Request, officer: Reader, context: Context, rekap: str = ""
) -> HTMLResponse:
    notice = None
    if rekap:
        notice = Text(
            f"Rekap {rekap} disusun; menunggu persetujuan Camat.",
            f"The recap of {rekap} is drafted; it awaits the Camat's approval.",
        )
    return _page(request, officer, context, notice=notice)


@router.get("/daftar")
async def book_part(request: Request, officer: Reader, context: Context) -> HTMLResponse:
    """The list alone, refreshed on the live feed (complaint events, and the watch's
    escalations)."""
    return _page(request, officer, context, block="book")


@router.get("/terlambat")
async def late_part(request: Request, officer: Reader, context: Context) -> HTMLResponse:
    """The escalated complaints still open, for the section head's console (`/kasi`):
    empty when there are none."""
    return _page(request, officer, context, block="late")


@router.post("")
async def record(
    request: Request,
    *,
    officer: Reader,
    context: Context,
    _csrf: Csrf,
    once: Annotated[str, Form(min_length=8, max_length=64)],
    channel: Short = "",
    lapor_id: Short = "",
    anonymous: Short = "",
    contact_name: Short = "",
    contact_phone: Short = "",
    contact_address: Short = "",
    occurred_at: Short = "",
    account: Long = "",
    standard: Short = "",
    element: Short = "",
    remedy: Long = "",
) -> Response:
    typed = {
        "channel": channel, "lapor_id": lapor_id, "anonymous": anonymous,
        "contact_name": contact_name, "contact_phone": contact_phone,
        "contact_address": contact_address, "occurred_at": occurred_at, "account": account,
        "standard": standard, "element": element, "remedy": remedy,
    }  # fmt: skip
    body: dict[str, Any] = {
        "channel": channel,
        "lapor_id": lapor_id.strip() or None,
        "occurred_at": occurred_at or None,
        "account": account,
        "standard": standard or None,
        "element": element or None,
        "remedy": remedy if remedy.strip() else None,
    }
    if not anonymous:
        contact = {"name": contact_name, "phone": contact_phone, "address": contact_address}
        body["contact"] = {key: value for key, value in contact.items() if value.strip()}
    where = {"": "lapor_id", "contact": "contact_name"}
    try:
        form = ComplaintForm.model_validate(body)
    except ValidationError as refused:
        errors = _errors(refused, where)
        return _page(request, officer, context, form=typed, errors=errors, status_code=422)
    except OversightError as refused:  # a rule over the whole form
        errors = {"lapor_id": refused.text}
        return _page(request, officer, context, form=typed, errors=errors, status_code=422)

    async def write() -> ComplaintView:
        return context.station.pipeline.complaints.record(officer, form)

    try:
        view = await once_forms(request).run(officer.person, once, write)
    except PipelineError as error:
        errors = {"occurred_at": error.text} if error.code == "complaint_in_future" else {}
        problem = None if errors else error.text
        return _page(
            request,
            officer,
            context,
            form=typed,
            errors=errors,
            problem=problem,
            status_code=error.status,
        )
    return RedirectResponse(f"/pengaduan/{view.number}?selesai=baru", status_code=303)


# ---------------------------------------------------------------- one complaint


@router.get("/{number}")
async def complaint(
    request: Request, officer: Reader, context: Context, number: Number, selesai: str = ""
) -> HTMLResponse:
    return _detail(request, officer, context, number, notice=_notice(selesai, number))


async def _move(
    request: Request,
    officer: Officer,
    context: Context,
    number: str,
    *,
    kind: str,
    typed: Mapping[str, str],
    build: Callable[[], Any],
    act: Callable[[Any], ComplaintView],
    where: Mapping[str, str],
) -> Response:
    try:
        form = build()
    except ValidationError as refused:
        errors = _errors(refused, where)
        return _detail(
            request, officer, context, number, form=typed, errors=errors, status_code=422
        )
    try:
        act(form)
    except PipelineError as error:
        return _detail(
            request,
            officer,
            context,
            number,
            form=typed,
            problem=error.text,
            status_code=error.status,
        )
    return RedirectResponse(f"/pengaduan/{number}?selesai={kind}", status_code=303)


@router.post("/{number}/verifikasi")
async def verify(
    request: Request,
    *,
    officer: Reader,
    context: Context,
    _csrf: Csrf,
    number: Number,
    category: Short = "",
    standard: Short = "",
    element: Short = "",
    note: Long = "",
) -> Response:
    typed = {"category": category, "standard": standard, "element": element, "note": note}
    complaints = context.station.pipeline.complaints
    return await _move(
        request, officer, context, number, kind="verifikasi", typed=typed,
        build=lambda: VerifyForm.model_validate({
            "category": category, "standard": standard or None,
            "element": element or None, "note": note if note.strip() else None,
        }),
        act=lambda form: complaints.verify(officer, number, form),
        where={},
    )  # fmt: skip


@router.post("/{number}/tindak-lanjut")
async def follow_up(
    request: Request,
    *,
    officer: Reader,
    context: Context,
    _csrf: Csrf,
    number: Number,
    action: Long = "",
) -> Response:
    complaints = context.station.pipeline.complaints
    return await _move(
        request, officer, context, number, kind="tindak-lanjut", typed={"action": action},
        build=lambda: FollowUpForm.model_validate({"action": action}),
        act=lambda form: complaints.follow_up(officer, number, form),
        where={},
    )  # fmt: skip


@router.post("/{number}/selesai")
async def close(
    request: Request,
    *,
    officer: Reader,
    context: Context,
    _csrf: Csrf,
    number: Number,
    outcome: Long = "",
) -> Response:
    complaints = context.station.pipeline.complaints
    return await _move(
        request, officer, context, number, kind="selesai", typed={"outcome": outcome},
        build=lambda: CloseForm.model_validate({"outcome": outcome}),
        act=lambda form: complaints.close(officer, number, form),
        where={},
    )  # fmt: skip


# ---------------------------------------------------------------- the quarterly recap


@router.post("/rekap")
async def draft_recap(
    request: Request,
    *,
    officer: Reader,
    context: Context,
    _csrf: Csrf,
    period: Short = "",
    improvements: Long = "",
) -> Response:
    typed = {"period": period, "improvements": improvements}
    promised = [line.strip() for line in improvements.splitlines() if line.strip()]
    try:
        form = RecapForm.model_validate({"period": period.strip(), "improvements": promised})
    except ValidationError as refused:
        errors = _errors(refused, {"period": "period", "improvements": "improvements"})
        return _page(request, officer, context, form=typed, errors=errors, status_code=422)
    try:
        view = context.station.pipeline.recaps.draft(officer, form)
    except PipelineError as error:
        errors = {"period": error.text}
        return _page(request, officer, context, form=typed, errors=errors, status_code=error.status)
    return RedirectResponse(f"/pengaduan?rekap={view.period}", status_code=303)


def recap_quarter(today: date) -> str:
    """The quarter a recap is drafted for today: this one on its last day, else the one
    before (a recap is drafted on or after its quarter's last day)."""
    quarter = Period.containing(today, PeriodKind.QUARTER)
    return str(quarter if today >= quarter.last else quarter.previous())
