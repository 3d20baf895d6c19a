"""The overview (`/ikhtisar`): the stations of the user's scope, filtered by province,
regency, a search and "problems only", problems first, a page at a time, refreshed live.

It reads the status rows of the user's scope and the open alerts, nothing else. A filter
outside the user's scope is refused with 404, as if the region had no stations: a
regency's officer learns nothing about another regency by guessing its code."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.clock import wall_datetime

from .._status import StationStatus
from .._users import User
from ._auth import DashboardError, SignedIn
from ._context import Context, DashboardContext
from ._overview_view import Filters, overview

router = APIRouter(include_in_schema=False)

_PROVINCE: Final = re.compile(r"^\d{2}$")
_REGENCY: Final = re.compile(r"^\d{4}$")
_PAGE: Final = re.compile(r"^[1-9]\d{0,5}$")
_QUERY_MAX: Final = 64


def outside_scope() -> DashboardError:
    return DashboardError(
        404,
        "not_in_scope",
        Text(
            "Tidak ada stasiun di wilayah itu yang dapat Anda lihat.",
            "There is no station in that area that you can see.",
        ),
    )


def _bad_filter(field: str, text: Text) -> DashboardError:
    return DashboardError(422, "bad_filter", text, field=field)


def parse_filters(
    user: User, *, provinsi: str, kabupaten: str, masalah: str, q: str, halaman: str
) -> Filters:
    """The filters as asked, checked against their form and the user's scope."""
    province = provinsi.replace(".", "").strip() or None
    regency = kabupaten.replace(".", "").strip() or None
    if province is not None and not _PROVINCE.fullmatch(province):
        raise _bad_filter("provinsi", Text("Kode provinsi: 2 angka.", "Province code: 2 digits."))
    if regency is not None and not _REGENCY.fullmatch(regency):
        raise _bad_filter(
            "kabupaten", Text("Kode kabupaten/kota: 4 angka.", "Regency code: 4 digits.")
        )
    if not _PAGE.fullmatch(halaman):
        raise _bad_filter("halaman", Text("Nomor halaman tidak sah.", "Not a page number."))
    if len(q) > _QUERY_MAX:
        raise _bad_filter(
            "q",
            Text(f"Pencarian paling panjang {_QUERY_MAX} huruf.", f"Search: {_QUERY_MAX} at most."),
        )
    if province and regency and not regency.startswith(province):
        # A regency of another province than the one chosen: the province wins.
        regency = None
    for code in (province, regency):
        if code and not (code.startswith(user.scope) or user.scope.startswith(code)):
            raise outside_scope()
    return Filters(
        province=province if province and len(province) > len(user.scope) else None,
        regency=regency if regency and len(regency) > len(user.scope) else None,
        problems_only=masalah == "1",
        query=q.strip(),
        page=int(halaman),
    )


def _query(filters: Filters) -> str:
    pairs = {
        "provinsi": filters.province or "",
        "kabupaten": filters.regency or "",
        "q": filters.query,
        "masalah": "1" if filters.problems_only else "",
    }
    return urlencode({key: value for key, value in pairs.items() if value})


def _render(
    request: Request,
    context: DashboardContext,
    user: User,
    filters: Filters,
    *,
    block: str | None,
    refused: DashboardError | None = None,
    asked: str = "",
) -> HTMLResponse:
    rows = context.status.glance(user.scope)
    alerts = context.alerts.open_alerts(user.scope)

    def load(stations: Sequence[str]) -> list[StationStatus]:
        # Read in the page's order; a row deleted meanwhile is left out.
        found = (context.status.get(station) for station in stations)
        return [status for status in found if status is not None]

    view = overview(
        rows,
        alerts,
        load=load,
        filters=filters,
        now=wall_datetime(context.clock),
        zone=ZoneInfo(context.fleet.default_zone.key),
        page_size=context.settings.page_size,
    )
    query = _query(filters)
    page_query = f"{query}&" if query else ""
    return context.render.page(
        request,
        "ikhtisar.html",
        {
            "view": view,
            "filters": filters,
            "query": f"{page_query}halaman={view.page}",
            "page_query": page_query,
            "errors": {} if refused is None else {refused.field: refused.text},
            "asked": asked,
        },
        block=block,
        status_code=200 if refused is None else refused.status,
        headers=None if refused is None else {"X-Error-Code": refused.code},
    )


@router.get("/ikhtisar")
def overview_page(
    request: Request,
    *,
    user: SignedIn,
    context: Context,
    provinsi: str = "",
    kabupaten: str = "",
    masalah: str = "",
    q: str = "",
    halaman: str = "1",
) -> HTMLResponse:
    try:
        filters = parse_filters(
            user, provinsi=provinsi, kabupaten=kabupaten, masalah=masalah, q=q, halaman=halaman
        )
    except DashboardError as refused:
        if refused.code != "bad_filter":
            raise
        # The whole scope again, the words under the field that was refused.
        return _render(
            request, context, user, Filters(), block=None, refused=refused, asked=q[:_QUERY_MAX]
        )
    return _render(request, context, user, filters, block=None)


@router.get("/ikhtisar/tabel")
def overview_table(
    request: Request,
    *,
    user: SignedIn,
    context: Context,
    provinsi: str = "",
    kabupaten: str = "",
    masalah: str = "",
    q: str = "",
    halaman: str = "1",
) -> HTMLResponse:
    """The counts and the table alone: the live refresh's fragment."""
    filters = parse_filters(
        user, provinsi=provinsi, kabupaten=kabupaten, masalah=masalah, q=q, halaman=halaman
    )
    return _render(request, context, user, filters, block="overview")
