"""The local API composed: every operator action of the SOP, authorised by role, on loopback.

Officers log in with their id and PIN and get a bearer token; each action then runs as
that person, and the register records who did it. Reads (applications, queue, devices,
the day's figures) need a login too: the data is citizens'. The waiting room's stream
needs none, and carries nothing about a person. Errors are JSON with a stable `code`
(`_errors`). Bodies are bounded before they are parsed (`_limits`).

One router per area (`_routes_*`), all under `/api/v1`, on the dependencies of `_deps`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from appliance._version import __version__
from appliance.pipeline import Pipeline, PipelineError
from appliance.staff import Sessions, StaffDirectory

from . import (
    _routes_applications,
    _routes_complaints,
    _routes_events,
    _routes_queue,
    _routes_reports,
    _routes_session,
    _routes_station,
    _routes_stock,
    _routes_survey,
)
from ._deps import ApiContext
from ._errors import (
    ApiError,
    MethodTable,
    on_api_error,
    on_http_error,
    on_pipeline_error,
    on_unexpected_error,
    on_validation_error,
)
from ._limits import BodyLimit
from ._live import LiveEvents
from ._models import ERRORS
from ._openapi import describe_counters

API_PREFIX: Final = "/api/v1"

API_ROUTERS: Final[tuple[APIRouter, ...]] = (
    _routes_station.router,
    _routes_session.router,
    _routes_queue.router,
    _routes_applications.router,
    _routes_stock.router,
    _routes_events.router,
    _routes_survey.router,
    _routes_complaints.router,
    _routes_reports.router,
)
"""The JSON API, by area. The screens (server-rendered pages, htmx fragments and their
live feeds) are routers of their own beside these, outside `/api/v1`, included in
`create_app` after them: they take the same dependencies (`_deps`) and get their live
events from `LiveEvents.stream` with their audience."""


def create_app(
    *,
    pipeline: Pipeline,
    staff: StaffDirectory,
    sessions: Sessions,
    live: LiveEvents,
    devices: Callable[[], dict[str, dict[str, Any]]],
    status: Callable[[], dict[str, Any]],
    station_id: str,
    counters: Sequence[str],
    max_body_bytes: int = 64 * 1024,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        live.bind(asyncio.get_running_loop())
        yield

    app = FastAPI(
        title="KTP-el station",
        version=__version__,
        description="The station's local API: the SOP's operator actions, by role.",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.context = ApiContext(
        pipeline=pipeline,
        staff=staff,
        sessions=sessions,
        live=live,
        devices=devices,
        status=status,
        station_id=station_id,
        counters=tuple(counters),
    )
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(PipelineError, on_pipeline_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.state.methods = MethodTable(
        (API_PREFIX + route.path, route.methods or ())
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    )
    describe_counters(app, counters)
    return app
