"""The dashboard's app: its routers, static files, refusals as pages, the live feed's
poller in the app's lifespan, and `/metrics`.

A new page is a router module in this package (or beside it, for the station's page),
listed in `DASHBOARD_ROUTERS`; its templates extend `dashboard.html` (the shell: header,
navigation, language, sign-out, idle countdown, the live feed) and fill `block page`;
its routes take `SignedIn` (or `Acknowledger`, `Diagnoser`), `Csrf` on every POST, and
`Context`, and never show a station outside the user's scope (`in_scope_or_404`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from appliance.screens import STATIC, sign_in_url

from . import _alerts_page, _overview, _signin, _station
from ._auth import DashboardError, SignInRequired
from ._context import DashboardContext
from ._render import CENTRAL_STATIC, CENTRAL_STATIC_URL

ERROR_CODE_HEADER: Final = "X-Error-Code"

DASHBOARD_ROUTERS = [
    _signin.router,
    _overview.router,
    _alerts_page.router,
    _station.router,
]
"""Every page of the dashboard; a router added here is served with the rest."""


def create_dashboard(
    context: DashboardContext, *, metrics: Callable[[], ASGIApp] | None = None
) -> FastAPI:
    """The dashboard on `context`; `metrics` makes the Prometheus app mounted at
    `/metrics`."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        polling = asyncio.create_task(context.live.run(), name="dashboard-live")
        try:
            yield
        finally:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling

    app = FastAPI(
        title="KTP-el central dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.dashboard = context
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(DashboardError, _refused)
    if metrics is not None:
        # At /metrics itself (a mount would answer there with a redirect to /metrics/).
        app.router.routes.append(Route("/metrics", _Asgi(metrics()), methods=["GET"]))
    app.mount(CENTRAL_STATIC_URL, StaticFiles(directory=CENTRAL_STATIC), name="central-static")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in DASHBOARD_ROUTERS:
        app.include_router(router)
    return app


class _Asgi:
    """An ASGI app as a route's endpoint (Starlette takes a plain function for a
    request handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _to_sign_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    url = sign_in_url(error.back_to, expired=error.expired)
    if request.headers.get("HX-Request"):
        # htmx follows this header with a whole-page navigation, not a swapped fragment.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


async def _refused(request: Request, error: Exception) -> Response:
    """A refusal as HTML (the words where the answer goes, app.js shows it), with its
    status and its code in a header for machines."""
    assert isinstance(error, DashboardError)
    context: DashboardContext = request.app.state.dashboard
    return context.render.page(
        request,
        "refused.html",
        {"error": error},
        block="refusal" if request.headers.get("HX-Request") else None,
        status_code=error.status,
        headers={ERROR_CODE_HEADER: error.code},
    )
