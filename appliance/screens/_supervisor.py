"""The leadership's console (`/pimpinan`): the Camat and the Sekretaris Kecamatan (role
`pimpinan`) read a period's figures (the IKM with its grade, whether the sample is short
of Krejcie-Morgan's, the keypad's satisfaction share, the complaints by status and the
escalated ones), the complaint book (read only, on `/pengaduan`, without contacts), and
the quarterly recap: they approve the draft, then publish it on the waiting-room board.

They serve no applicant: this console has no queue, no file and no step, and the
workflow gives the role none (the pipeline refuses it anyway). The figures are the
pipeline's (`RecapDesk.figures`, the same pure function the central office runs); this
page only shows them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appliance._text import Text
from appliance.domain import RecapState, Role
from appliance.oversight import OversightError, Period
from appliance.pipeline import NotFound, Officer, PipelineError, RecapView

from ._complaint_book import recap_quarter
from ._consoles import render_console
from ._i18n import language_of
from ._recap_labels import LABELS
from ._session import Context, Csrf, officer_in

router = APIRouter(prefix="/pimpinan", include_in_schema=False)

Leader = Annotated[Officer, Depends(officer_in(Role.SUPERVISOR))]
Quarter = Annotated[str, Path(pattern=r"^[0-9]{4}-Q[1-4]$")]
TEMPLATE: Final = "supervisor.html"


def _recap(context: Context, period: str) -> RecapView | None:
    try:
        return context.station.pipeline.recaps.view(period)
    except NotFound:
        return None


def _page(
    request: Request,
    officer: Officer,
    context: Context,
    *,
    periode: str = "",
    notice: Text | None = None,
    problem: Text | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    pipeline = context.station.pipeline
    quarter = recap_quarter(pipeline.today())
    errors: dict[str, Text] = {}
    # By default the quarter the recap is for: its figures beside its recap.
    period = Period.parse(quarter)
    try:
        period = Period.parse(periode) if periode else period
    except OversightError as refused:
        errors["periode"] = refused.text
        status_code = 422
    values: dict[str, Any] = {
        "period": period,
        "periode": periode or str(period),
        "errors": errors,
        "figures": pipeline.recaps.figures(officer, period),
        "recap": _recap(context, quarter),
        "recap_quarter": quarter,
        "labels": LABELS,
        "has_report": context.performance is not None,
        "notice": notice,
        "problem": problem,
    }
    return render_console(request, officer, TEMPLATE, values, status_code=status_code)


@router.get("")
async def console(
    request: Request, officer: Leader, context: Context, periode: str = ""
) -> HTMLResponse:
    return _page(request, officer, context, periode=periode.strip())


@router.get("/laporan")
async def performance(
    request: Request, _officer: Leader, context: Context, periode: str = ""
) -> Response:
    """The period's performance report (targets against achievement, trends, charts) as
    the reports render it: one self-contained page, to read, save or print."""
    if context.performance is None:
        return RedirectResponse("/pimpinan", status_code=303)
    try:
        period = Period.parse(periode.strip())
    except OversightError:
        return _page(request, _officer, context, periode=periode.strip())
    # Seconds for a busy year: built on a worker thread (the register's reads take its lock a
    # chunk at a time), so the board, the kiosk and the consoles keep being served meanwhile.
    page = await asyncio.to_thread(context.performance, period, language_of(request))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/rekap/{period}/selesai")
async def recap_done(
    request: Request, officer: Leader, context: Context, period: Quarter
) -> HTMLResponse:
    recap = _recap(context, period)
    notice = None
    if recap is not None and recap.state is RecapState.APPROVED:
        notice = Text(f"Rekap {period} disetujui.", f"The recap of {period} is approved.")
    elif recap is not None and recap.state is RecapState.PUBLISHED:
        notice = Text(
            f"Rekap {period} diumumkan di papan ruang tunggu.",
            f"The recap of {period} is published on the waiting-room board.",
        )
    return _page(request, officer, context, notice=notice)


@router.post("/rekap/{period}/{action}")
async def decide(
    request: Request,
    *,
    officer: Leader,
    context: Context,
    _csrf: Csrf,
    period: Quarter,
    action: Annotated[str, Path(pattern="^(setujui|umumkan)$")],
) -> Response:
    recaps = context.station.pipeline.recaps
    try:
        if action == "setujui":
            recaps.approve(officer, period)
        else:
            recaps.publish(officer, period)
    except PipelineError as error:
        return _page(request, officer, context, problem=error.text, status_code=error.status)
    return RedirectResponse(f"/pimpinan/rekap/{period}/selesai", status_code=303)
