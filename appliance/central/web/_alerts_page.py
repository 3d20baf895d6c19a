"""The alerts page (`/peringatan`): the alerts not closed in the user's scope, the most
severe first, refreshed live; an officer or technician acknowledges one with a form
(an optional note). A refused acknowledgement (a note too long, an alert closed or taken
meanwhile, one outside the scope) comes back with its status, the words at the alert,
and nothing changed."""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.clock import wall_datetime

from .._alert_store import Alert, AlertError, AlertNotFound, AlertOutOfScope
from .._alerts import Rule
from .._scope import within
from .._users import User
from ._auth import Acknowledger, Csrf, DashboardError, SignedIn
from ._context import Context, DashboardContext
from ._overview import outside_scope
from ._overview_view import ago, clock_time

router = APIRouter(include_in_schema=False)

_ALERT_ID: Final = re.compile(r"^[1-9]\d{0,17}$")
_STATION: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NOTE_FIELD_MAX: Final = 4000
"""What the form accepts at all; the store's own limit gives the message."""


def _station_filter(context: DashboardContext, user: User, station: str) -> str | None:
    if not station:
        return None
    if not _STATION.fullmatch(station):
        raise outside_scope()
    known = context.fleet.get(station)
    district = known.district if known else ""
    if not within(user.scope, district):
        raise outside_scope()
    return station


def _alerts_view(
    context: DashboardContext, user: User, station: str | None
) -> list[dict[str, object]]:
    now = wall_datetime(context.clock)
    zone = context.fleet.default_zone
    alerts = context.alerts.open_alerts(user.scope, stations=None if station is None else [station])
    lines: list[dict[str, object]] = []
    for alert in alerts:
        known = context.fleet.get(alert.station)
        rule_label: Text
        try:
            rule_label = Rule(alert.rule).label
        except ValueError:
            rule_label = Text(alert.rule, alert.rule)
        lines.append(
            {
                "alert": alert,
                "name": known.name if known else alert.station,
                "rule": rule_label,
                "opened": clock_time(alert.opened_at, zone),
                "age": ago(alert.opened_at, now),
                "acknowledged": clock_time(alert.acknowledged_at, zone),
            }
        )
    return lines


def _render(
    request: Request,
    context: DashboardContext,
    user: User,
    station: str | None,
    *,
    block: str | None,
    done: Alert | None = None,
    refused: tuple[int, AlertError] | None = None,
    note: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return context.render.page(
        request,
        "peringatan.html",
        {
            "lines": _alerts_view(context, user, station),
            "station": station or "",
            "done": done,
            "refused": refused,
            "note": note,
        },
        block=block,
        status_code=status_code,
        headers=headers,
    )


@router.get("/peringatan")
def alerts_page(
    request: Request, user: SignedIn, context: Context, stasiun: str = ""
) -> HTMLResponse:
    station = _station_filter(context, user, stasiun)
    return _render(request, context, user, station, block=None)


@router.get("/peringatan/daftar")
def alerts_list(
    request: Request, user: SignedIn, context: Context, stasiun: str = ""
) -> HTMLResponse:
    """The list alone: the live refresh's fragment."""
    station = _station_filter(context, user, stasiun)
    return _render(request, context, user, station, block="alerts")


@router.post("/peringatan/{alert_id}/tangani")
def acknowledge(
    request: Request,
    alert_id: str,
    *,
    user: Acknowledger,
    context: Context,
    _csrf: Csrf,
    note: Annotated[str, Form(max_length=_NOTE_FIELD_MAX)] = "",
    stasiun: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Take on an alert; answers with the list, the alert marked taken or refused."""
    station = _station_filter(context, user, stasiun)
    if not _ALERT_ID.fullmatch(alert_id):
        raise DashboardError(
            404, "alert_unknown", Text("Peringatan tidak dikenal.", "Unknown alert.")
        )
    number = int(alert_id)
    try:
        done = context.alerts.acknowledge(
            number, by=user.name, at=wall_datetime(context.clock), scope=user.scope, note=note
        )
    except (AlertOutOfScope, AlertNotFound):
        # Outside the scope reads as unknown: nothing about another region's alerts.
        raise DashboardError(
            404, "alert_unknown", Text("Peringatan tidak dikenal.", "Unknown alert.")
        ) from None
    except AlertError as error:
        return _render(
            request,
            context,
            user,
            station,
            block="alerts",
            refused=(number, error),
            note=note,
            status_code=error.status,
            headers={"X-Error-Code": error.code},
        )
    return _render(request, context, user, station, block="alerts", done=done)
