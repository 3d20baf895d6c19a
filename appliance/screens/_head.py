"""The section head's console (`/kasi`): the validation queue (validate, or return with a
reason), the applications needing attention and the decision on a refused activation,
blank cards received and the stock, and the applicants recorded but not printed.

The lists refresh themselves on the live topics; the desk, where the officer types a
reason, changes only with the officer's own actions, so a refresh never takes what they
typed. A form refused at its fields is 422 and changes nothing; a refusal by the pipeline
(another section head took or finished the file, the activation was decided already)
says what happened and changes nothing; every form acts once, however often it is sent
(`_head_once`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.domain import ApplicationState, Phase, Step
from appliance.pipeline import ApplicationView, Invalid, NotFound, PipelineError
from appliance.register import ActivationDecision

from ._consoles import render_console
from ._head_once import once_forms
from ._head_view import BLANKS_PER_DELIVERY, REASON_MAX, BlankForm, Desk, HeadView, SectionHead
from ._session import Context, Csrf

router = APIRouter(prefix="/kasi", include_in_schema=False)

TEMPLATE: Final = "head.html"
AppId = Annotated[str, Path(pattern=r"^[0-9]{8}-[0-9]{4,6}$")]
Once = Annotated[str, Form(min_length=8, max_length=64)]
Reason = Annotated[str, Form(max_length=2000)]
_DECISIONS: Final = {
    "ulang": ActivationDecision.RETRY,
    "cetak-baru": ActivationDecision.REPRINT,
    "kembalikan": ActivationDecision.RETURN,
}
_NO_REASON: Final = Text(
    "Tulis alasan berkas dikembalikan: pemohon membacanya.",
    "Write why the file is returned: the applicant reads it.",
)


def _part(
    request: Request, officer: SectionHead, block: str, values: dict[str, object], status: int = 200
) -> HTMLResponse:
    return render_console(request, officer, TEMPLATE, values, block=block, status_code=status)


# ---------------------------------------------------------------- the page and its parts


@router.get("")
async def console(request: Request, officer: SectionHead, context: Context) -> HTMLResponse:
    return render_console(request, officer, TEMPLATE, HeadView(context, officer).page())


@router.get("/antrean")
async def queue_part(request: Request, officer: SectionHead, context: Context) -> HTMLResponse:
    return _part(request, officer, "queue", HeadView(context, officer).queue())


@router.get("/perhatian")
async def attention_part(request: Request, officer: SectionHead, context: Context) -> HTMLResponse:
    return _part(request, officer, "attention", HeadView(context, officer).attention())


@router.get("/stok")
async def stock_part(request: Request, officer: SectionHead, context: Context) -> HTMLResponse:
    return _part(request, officer, "stock", HeadView(context, officer).stock())


@router.get("/tercatat")
async def recorded_part(request: Request, officer: SectionHead, context: Context) -> HTMLResponse:
    return _part(request, officer, "recorded", HeadView(context, officer).waiting_blank())


@router.get("/meja")
async def desk_part(request: Request, officer: SectionHead, context: Context) -> HTMLResponse:
    return _part(request, officer, "desk", HeadView(context, officer).desk())


@router.get("/meja/{app}")
async def desk_with(
    request: Request, officer: SectionHead, context: Context, app: AppId
) -> HTMLResponse:
    """One of the files this officer holds in validation, on the desk."""
    return _part(
        request,
        officer,
        "desk",
        HeadView(context, officer).desk(Desk(app=_application(context, app))),
    )


# ---------------------------------------------------------------- validation


@router.post("/validasi/{app}/mulai")
async def start_validation(
    request: Request, officer: SectionHead, context: Context, _csrf: Csrf, app: AppId, once: Once
) -> HTMLResponse:
    pipeline = context.station.pipeline

    async def start() -> ApplicationView:
        return await pipeline.start_step(officer, app, Step.VALIDATE)

    return await _act(
        request,
        officer=officer,
        context=context,
        app=app,
        once=once,
        action=start,
        said=lambda _: None,
    )


@router.post("/validasi/{app}/valid")
async def validate(
    request: Request,
    *,
    officer: SectionHead,
    context: Context,
    _csrf: Csrf,
    app: AppId,
    once: Once,
    confirm_region: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    pipeline = context.station.pipeline
    view = _application(context, app)
    if view is not None and view.region_to_confirm and not confirm_region:
        desk = Desk(
            app=view,
            errors={
                "confirm_region": Text(
                    f"Periksa dokumen pemohon, lalu centang konfirmasi kode wilayah "
                    f"{view.region_to_confirm}.",
                    f"Check the applicant's documents, then tick to confirm region code "
                    f"{view.region_to_confirm}.",
                )
            },
        )
        return _part(request, officer, "desk", HeadView(context, officer).desk(desk), 422)

    async def valid() -> ApplicationView:
        return await pipeline.validate(
            officer, app, valid=True, reason=None, confirm_region=confirm_region
        )

    return await _act(
        request,
        officer=officer,
        context=context,
        app=app,
        once=once,
        action=valid,
        said=_validated,
    )


@router.post("/validasi/{app}/kembalikan")
async def return_file(
    request: Request,
    *,
    officer: SectionHead,
    context: Context,
    _csrf: Csrf,
    app: AppId,
    once: Once,
    reason: Reason = "",
) -> HTMLResponse:
    pipeline = context.station.pipeline
    problem = _reason_problem(reason)
    if problem is not None:
        desk = Desk(app=_application(context, app), errors={"reason": problem}, reason=reason)
        return _part(request, officer, "desk", HeadView(context, officer).desk(desk), 422)

    async def give_back() -> ApplicationView:
        return await pipeline.validate(officer, app, valid=False, reason=reason.strip())

    return await _act(
        request,
        officer=officer,
        context=context,
        app=app,
        once=once,
        action=give_back,
        said=_returned,
    )


# ---------------------------------------------------------------- a refused activation


@router.get("/aktivasi/{app}/kembalikan")
async def activation_return_form(
    request: Request, officer: SectionHead, context: Context, app: AppId
) -> HTMLResponse:
    """The desk asks for the reason: nothing changes until it is sent."""
    desk = Desk(app=_application(context, app), returning_activation=True)
    return _part(request, officer, "desk", HeadView(context, officer).desk(desk))


@router.post("/aktivasi/{app}/{decision}")
async def decide_activation(
    request: Request,
    *,
    officer: SectionHead,
    context: Context,
    _csrf: Csrf,
    app: AppId,
    decision: Annotated[str, Path(pattern="^(ulang|cetak-baru|kembalikan)$")],
    once: Once,
    reason: Reason = "",
) -> HTMLResponse:
    pipeline = context.station.pipeline
    chosen = _DECISIONS[decision]
    if chosen is ActivationDecision.RETURN:
        problem = _reason_problem(reason)
        if problem is not None:
            desk = Desk(
                app=_application(context, app),
                returning_activation=True,
                errors={"reason": problem},
                reason=reason,
            )
            return _part(request, officer, "desk", HeadView(context, officer).desk(desk), 422)
    before = _application(context, app)

    async def decide() -> ApplicationView:
        return await pipeline.decide_activation(
            officer, app, decision=chosen, reason=reason.strip() or None
        )

    def said(view: ApplicationView) -> Text:
        return _decided(chosen, before or view, view)

    return await _act(
        request,
        officer=officer,
        context=context,
        app=app,
        once=once,
        action=decide,
        said=said,
        activation=True,
    )


# ---------------------------------------------------------------- blank cards


@router.post("/blangko")
async def receive_blanks(
    request: Request,
    *,
    officer: SectionHead,
    context: Context,
    _csrf: Csrf,
    once: Once,
    count: Annotated[str, Form(max_length=32)] = "",
    reference: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    view = HeadView(context, officer)
    errors: dict[str, Text] = {}
    number = count.strip()
    if not number.isdecimal() or not 1 <= int(number) <= BLANKS_PER_DELIVERY:
        errors["count"] = Text(
            f"Isi jumlah blangko dengan angka 1 sampai {BLANKS_PER_DELIVERY}.",
            f"Enter the number of blank cards, from 1 to {BLANKS_PER_DELIVERY}.",
        )
    batch = reference.strip()
    if not batch:
        errors["reference"] = Text(
            "Isi nomor berita acara atau nomor kiriman.",
            "Enter the delivery's record (berita acara) number.",
        )
    elif len(batch) > REASON_MAX:
        errors["reference"] = Text(
            f"Nomor berita acara paling panjang {REASON_MAX} huruf.",
            f"The record number is at most {REASON_MAX} characters.",
        )
    if errors:
        form = BlankForm(errors=errors, count=count, reference=reference)
        return _part(request, officer, "receive", view.receive(form), 422)
    received = int(number)

    async def receive() -> None:
        context.station.pipeline.receive_blanks(officer, count=received, reference=batch)

    try:
        await once_forms(request).run(officer.person, once, receive)
    except PipelineError as error:
        form = BlankForm(errors={"count": error.text}, count=count, reference=reference)
        return _part(request, officer, "receive", view.receive(form), error.status)
    notice = Text(
        f"{received} blangko diterima (berita acara {batch}).",
        f"{received} blank cards received (record {batch}).",
    )
    return _part(request, officer, "receive", view.receive(BlankForm(notice=notice)))


# ---------------------------------------------------------------- shared


async def _act(
    request: Request,
    *,
    officer: SectionHead,
    context: Context,
    app: str,
    once: str,
    action: Callable[[], Awaitable[ApplicationView]],
    said: Callable[[ApplicationView], Text | None],
    activation: bool = False,
) -> HTMLResponse:
    """Run `action` once for this form, and show the desk with its outcome, or with what
    stopped it (nothing changed)."""
    view = HeadView(context, officer)
    try:
        done = await once_forms(request).run(officer.person, once, action)
    except PipelineError as error:
        problem = _stale(context, officer.person, app, error, activation=activation)
        desk = Desk(problem=problem, problem_detail=error.text)
        return _part(request, officer, "desk", view.desk(desk), error.status)
    notice = said(done)
    if notice is None:  # a step started: the desk shows that file
        return _part(request, officer, "desk", view.desk(Desk(app=done)))
    return _part(request, officer, "desk", view.desk(Desk(notice=notice)))


def _application(context: Context, app: str) -> ApplicationView | None:
    try:
        return context.station.pipeline.application(app)
    except NotFound:
        return None


def _reason_problem(reason: str) -> Text | None:
    if not reason.strip():
        return _NO_REASON
    if len(reason.strip()) > REASON_MAX:
        return Text(
            f"Alasan paling panjang {REASON_MAX} huruf (sekarang {len(reason.strip())}).",
            f"The reason is at most {REASON_MAX} characters (now {len(reason.strip())}).",
        )
    return None


def _who(view: ApplicationView) -> str:
    return f"{view.ticket or view.id} ({view.name})"


def _validated(view: ApplicationView) -> Text:
    if view.state is ApplicationState.RETURNED:
        return Text(
            f"Berkas {_who(view)} tidak memenuhi aturan dan dikembalikan: {view.return_reason}",
            f"The file {_who(view)} breaks a rule and was returned: {view.return_reason}",
        )
    if view.step is Step.ENCODE_PRINT:
        return Text(
            f"Berkas {_who(view)} valid. Pemohon sudah pernah direkam: langsung ke cetak KTP-el.",
            f"The file {_who(view)} is valid. The applicant was recorded before: on to printing.",
        )
    return Text(
        f"Berkas {_who(view)} valid dan diteruskan ke operator untuk perekaman biometrik.",
        f"The file {_who(view)} is valid and passed to the operator for biometric recording.",
    )


def _returned(view: ApplicationView) -> Text:
    return Text(
        f"Berkas {_who(view)} dikembalikan kepada pemohon: {view.return_reason}",
        f"The file {_who(view)} was returned to the applicant: {view.return_reason}",
    )


def _decided(decision: ActivationDecision, before: ApplicationView, after: ApplicationView) -> Text:
    serial = before.card.serial if before.card and before.card.serial else "-"
    if decision is ActivationDecision.RETRY:
        return Text(
            f"Keputusan dicatat: aktivasi {_who(after)} diulang dengan kartu yang sama. "
            "Operator dapat memulai aktivasi lagi.",
            f"Decision recorded: {_who(after)} is activated again with the same card. The "
            "operator can start the activation again.",
        )
    if decision is ActivationDecision.REPRINT:
        return Text(
            f"Keputusan dicatat: kartu {serial} dicatat rusak; kartu baru untuk {_who(after)} "
            "dicetak.",
            f"Decision recorded: card {serial} is counted as spoiled; a new card for "
            f"{_who(after)} is printed.",
        )
    return Text(
        f"Keputusan dicatat: kartu {serial} dicatat rusak dan berkas {_who(after)} "
        f"dikembalikan: {after.return_reason}",
        f"Decision recorded: card {serial} is counted as spoiled and the file {_who(after)} "
        f"was returned: {after.return_reason}",
    )


def _stale(context: Context, me: str, app: str, error: PipelineError, *, activation: bool) -> Text:
    """What happened to the file meanwhile, in plain words, before the pipeline's own."""
    if isinstance(error, Invalid):
        return error.text
    view = _application(context, app)
    if view is None:
        return Text("Berkas ini tidak ada.", "There is no such file.")
    nothing = Text("Tidak ada yang diubah.", "Nothing was changed.")
    if view.state is ApplicationState.RETURNED:
        lead = Text("Berkas ini sudah dikembalikan.", "This file was returned already.")
    elif view.phase is Phase.ACTIVE and view.active_by not in (None, me):
        member = context.station.staff.get(view.active_by or "")
        name = member.name if member else view.active_by
        lead = Text(
            f"Berkas ini sedang ditangani {name}.", f"This file is being handled by {name}."
        )
    elif activation:
        lead = Text(
            "Layar ini sudah tidak terbaru: aktivasi berkas ini sudah diputuskan.",
            "This screen was out of date: this file's activation was decided already.",
        )
    elif view.step.spec.number > Step.VALIDATE.spec.number:
        step = view.step.spec.short
        lead = Text(
            f"Layar ini sudah tidak terbaru: berkas ini sudah divalidasi dan kini di langkah "
            f"{step.id}.",
            f"This screen was out of date: the file was validated already and is now at {step.en}.",
        )
    else:
        lead = Text("Layar ini sudah tidak terbaru.", "This screen was out of date.")
    return Text(f"{lead.id} {nothing.id}", f"{lead.en} {nothing.en}")
