"""A station's page, `/stasiun/{id}`: who and where it is, whether it is online and since
when, its timeline of the last seven days (state, devices, flags), its devices now and
their history, the latest doctor report with the technician's "Minta diagnosis", the
commands sent to it, and its performance report for any period, recomputed here from its
events (`_station_reports`) and shown with the reports' own page, JSON and PDF.

A station outside the user's scope does not exist for them: 404, as for an unknown id.
The page's reads run on a worker thread (the store's calls block), a report's build too
(seconds for a busy year); the last few reports built are kept, keyed by the events they
were built from (the station's head), so the page's frame and its downloads share one.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from appliance._text import Language, Text
from appliance.clock import wall_datetime
from appliance.oversight import OversightError, Period
from appliance.reports import TargetsSection, report_document
from appliance.screens import language_of

from .._commands import CommandError, CommandRecord
from .._fleet import UNREGISTERED, FleetStation
from .._scope import dotted, within
from .._station_page import (
    TIMELINE_DAYS,
    DeviceNow,
    Region,
    StationHistory,
    devices_now,
    since_days,
    station_history,
)
from .._station_reports import StationReport, build_station_report
from .._status import StationStatus
from .._users import User
from ._auth import Csrf, DashboardError, Diagnoser, SignedIn
from ._context import Context, DashboardContext

router = APIRouter(prefix="/stasiun", include_in_schema=False)

TEMPLATE: Final = "station.html"
StationId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
_ZONE_NAMES: Final = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
_NOT_FOUND: Final = Text(
    "Stasiun tidak ditemukan di wilayah Anda.", "No such station in your region."
)
_REPORTS_KEPT: Final = 8
_WAIT_FOR_ANSWER: Final = timedelta(minutes=10)
_ALERTS_READ: Final = 50
"""The station's latest alerts read for its open ones (one per rule can be open)."""


@dataclass(frozen=True, slots=True)
class _Station:
    id: str
    name: str
    region: Region
    zone: ZoneInfo
    status: StationStatus | None


def _station_or_404(context: DashboardContext, user_scope: str, station: str) -> _Station:
    """The station as the fleet and the status table know it, if the user may see it."""
    registered: FleetStation | None = context.fleet.get(station)
    status = context.status.get(station)
    if registered is None and status is None:
        raise DashboardError(404, "station_not_found", _NOT_FOUND)
    district = registered.district if registered is not None else ""
    if not within(user_scope, district):
        raise DashboardError(404, "station_not_found", _NOT_FOUND)
    name = registered.name if registered is not None else station
    zone = registered.zone if registered is not None else context.fleet.default_zone
    return _Station(station, name, Region(district), zone, status)


def _local(zone: ZoneInfo) -> Callable[..., str]:
    """`when(at)`: a stored UTC time as the station's local time, with its zone's name."""
    suffix = _ZONE_NAMES.get(zone.key, zone.key)

    def when(at: str | None, *, seconds: bool = False) -> str:
        if not at:
            return "-"
        try:
            moment = datetime.fromisoformat(at).astimezone(zone)
        except ValueError:
            return at
        shape = "%d-%m-%Y %H:%M:%S" if seconds else "%d-%m-%Y %H:%M"
        return f"{moment.strftime(shape)} {suffix}"

    return when


def _gather(context: DashboardContext, station: _Station) -> dict[str, Any]:
    """The page's reads, on a worker thread."""
    now = wall_datetime(context.clock)
    store = context.store
    history = (
        station_history(store, station.id, since=since_days(now))
        if store is not None
        else StationHistory(since="", timeline=[], device_history=[], doctor=None)
    )
    devices: list[DeviceNow] = []
    if store is not None:
        known = store.overview([station.id])
        if known:
            overview = known[0]
            states = {
                name: str(payload.get("state", "?"))
                for name, payload in overview.devices.items()
                if isinstance(payload, dict)
            }
            devices = devices_now(overview.device_since, states)
    commands: list[CommandRecord] = (
        context.commands.log.recent(station.id) if context.commands is not None else []
    )
    alerts = [a for a in context.alerts.history(station.id, limit=_ALERTS_READ) if not a.closed_at]
    return {"history": history, "devices": devices, "commands": commands, "alerts": alerts}


def _moment(at: str) -> datetime:
    return datetime.fromisoformat(at)


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A doctor request not answered yet, and whether the page still waits for it."""

    command: CommandRecord
    polling: bool
    """False once it is older than `_WAIT_FOR_ANSWER`: the station may be offline (it runs
    the request when it is back, if the request is still fresh), so the page stops asking
    every few seconds and says so."""


def _waiting(
    commands: list[CommandRecord], history: StationHistory, now: datetime
) -> _Waiting | None:
    """The latest doctor request, if no report answered it: the report carries the
    request's id, or (a station that did not say) arrived after the request."""
    latest = next((c for c in commands if c.kind == "doctor"), None)
    if latest is None:
        return None
    doctor = history.doctor
    if doctor is not None and (
        doctor.request == latest.request or _moment(doctor.at) >= _moment(latest.at)
    ):
        return None
    return _Waiting(latest, polling=now - _moment(latest.at) < _WAIT_FOR_ANSWER)


def _values(
    context: DashboardContext, station: _Station, gathered: dict[str, Any], user: User
) -> dict[str, Any]:
    history: StationHistory = gathered["history"]
    commands: list[CommandRecord] = gathered["commands"]
    return {
        "station": station,
        "status": station.status,
        "region": station.region,
        "unregistered": UNREGISTERED,
        "dotted": dotted,
        "when": _local(station.zone),
        "history": history,
        "devices": gathered["devices"],
        "alerts": gathered["alerts"],
        "commands": commands,
        "pending": _waiting(commands, history, wall_datetime(context.clock)),
        "can_diagnose": user.role.diagnoses and context.commands is not None,
        "timeline_days": TIMELINE_DAYS,
    }


async def _page(
    request: Request,
    context: DashboardContext,
    user: User,
    station_id: str,
    *,
    periode: str = "",
    block: str | None = None,
    notice: Text | None = None,
    status_code: int = 200,
    problem: DashboardError | None = None,
) -> HTMLResponse:
    station = await asyncio.to_thread(_station_or_404, context, user.scope, station_id)
    gathered = await asyncio.to_thread(_gather, context, station)
    values = _values(context, station, gathered, user)
    period_error: Text | None = None
    period: Period | None = None
    if periode:
        try:
            period = Period.parse(periode)
        except OversightError as refused:
            period_error = refused.text
            status_code = 422
    values.update(
        periode=periode,
        period=period,
        period_error=period_error,
        notice=notice,
        problem=problem,
    )
    return context.render.page(
        request,
        TEMPLATE,
        values,
        block=block,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/{station_id}")
async def station_page(
    request: Request,
    station_id: StationId,
    user: SignedIn,
    context: Context,
    periode: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    return await _page(request, context, user, station_id, periode=periode.strip())


_PARTS: Final = {
    "kepala": "head",
    "linimasa": "timeline",
    "perangkat": "devices",
    "peringatan": "alerts",
}


@router.get("/{station_id}/bagian/{part}")
async def live_part(
    request: Request,
    station_id: StationId,
    part: Annotated[str, Path(pattern="^(kepala|linimasa|perangkat|peringatan)$")],
    user: SignedIn,
    context: Context,
) -> HTMLResponse:
    """A part of the page the live feed refreshes: on `status` (a station's row changed)
    the header (online, last seen, version, clock, flags), the timeline, the devices; on
    `alerts` the station's open alerts."""
    return await _page(request, context, user, station_id, block=_PARTS[part])


@router.get("/{station_id}/diagnosis")
async def doctor_part(
    request: Request, station_id: StationId, user: SignedIn, context: Context
) -> HTMLResponse:
    """The doctor's report and the command log: the page's part that refreshes while a
    diagnosis is awaited, and on the live feed."""
    return await _page(request, context, user, station_id, block="doctor")


@router.post("/{station_id}/diagnosis")
async def request_doctor(
    request: Request, station_id: StationId, user: Diagnoser, context: Context, _csrf: Csrf
) -> HTMLResponse:
    """A signed `cmd/doctor` to the station, recorded with who asked; the part comes back
    waiting for the report, which appears when the station's answer arrives."""
    station = await asyncio.to_thread(_station_or_404, context, user.scope, station_id)
    if context.commands is None:
        raise DashboardError(
            503,
            "commands_unavailable",
            Text(
                "Pengiriman perintah tidak aktif di dasbor ini.",
                "Sending commands is not enabled on this dashboard.",
            ),
        )
    try:
        await context.commands.send(station.id, "doctor", {}, by=user.name)
    except CommandError as refused:
        raise DashboardError(refused.status, refused.code, refused.text) from refused
    notice = Text(
        "Permintaan diagnosis terkirim; laporan muncul di sini begitu stasiun menjawab.",
        "Diagnosis requested; the report appears here as soon as the station answers.",
    )
    return await _page(request, context, user, station_id, block="doctor", notice=notice)


class _Reports:
    """The last few reports built, by (station, period, head, zone, targets): the same
    events and settings give the same report, so a hit is exact. Used on the event loop
    only; the builds run on worker threads, one per key however many ask, and one kept
    even when the request that started it has gone."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[Any, ...], StationReport] = OrderedDict()
        self._building: dict[tuple[Any, ...], asyncio.Future[StationReport]] = {}

    def _keep(self, key: tuple[Any, ...], building: asyncio.Future[StationReport]) -> None:
        self._building.pop(key, None)
        if building.cancelled() or building.exception() is not None:
            return
        self._kept[key] = building.result()
        while len(self._kept) > _REPORTS_KEPT:
            self._kept.popitem(last=False)

    async def get(
        self,
        context: DashboardContext,
        station: _Station,
        period: Period,
        targets: TargetsSection,
    ) -> StationReport:
        store = context.store
        if store is None:
            raise DashboardError(
                503,
                "store_unavailable",
                Text(
                    "Data register stasiun tidak tersedia di dasbor ini.",
                    "The stations' registers are not available on this dashboard.",
                ),
            )
        head = await asyncio.to_thread(store.head, station.id)
        key = (station.id, str(period), head, station.zone.key, targets.model_dump_json())
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
            return found
        building = self._building.get(key)
        if building is None:
            building = asyncio.ensure_future(
                asyncio.to_thread(
                    build_station_report,
                    store,
                    station=station.id,
                    office=station.name,
                    place=station.region.district_name,
                    period=period,
                    zone=station.zone,
                    targets=targets,
                )
            )
            self._building[key] = building
            building.add_done_callback(lambda done: self._keep(key, done))
        return await asyncio.shield(building)


def _reports_of(request: Request) -> _Reports:
    """This app's reports (one per app: two dashboards in one process share nothing)."""
    reports: _Reports | None = getattr(request.app.state, "station_reports", None)
    if reports is None:
        reports = request.app.state.station_reports = _Reports()
    return reports


@router.get("/{station_id}/laporan")
async def station_report(
    request: Request,
    *,
    station_id: StationId,
    user: SignedIn,
    context: Context,
    periode: Annotated[str, Query(max_length=40)] = "",
    format: Annotated[str, Query(pattern="^(html|json|pdf)$")] = "html",  # noqa: A002
) -> Response:
    """The period's report, recomputed from the station's events: the reports' own HTML
    page (the station page's frame), its JSON, or its PDF to download."""
    station = await asyncio.to_thread(_station_or_404, context, user.scope, station_id)
    try:
        period = Period.parse(periode.strip())
    except OversightError as refused:
        raise DashboardError(422, refused.code, refused.text, field="periode") from refused
    targets = context.targets or TargetsSection()
    built = await _reports_of(request).get(context, station, period, targets)
    lang: Language = language_of(request)
    name = f"laporan-{station.id}-{period}"
    headers = {
        "Cache-Control": "no-store",
        "X-Ktpel-Station": station.id,
        "X-Ktpel-Events-Upto": str(built.upto),
    }
    if format == "json":
        body = json.dumps(report_document(built.report), ensure_ascii=False, indent=2)
        headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return Response(body, media_type="application/json", headers=headers)
    if format == "pdf":
        data = await asyncio.to_thread(built.pdf, lang)
        headers["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        return Response(data, media_type="application/pdf", headers=headers)
    page = await asyncio.to_thread(built.html, lang)
    return HTMLResponse(page, headers=headers)


__all__ = ["router"]
