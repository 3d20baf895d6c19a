"""The screens mounted on the station's app, beside the JSON API: the consoles, the
waiting-room board and the kiosk, their static files and their error pages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from appliance._text import Language
from appliance.api import ApiContext
from appliance.oversight import Period
from appliance.staff import Sessions

from . import (
    _board,
    _complaint_book,
    _counter,
    _head,
    _kiosk,
    _kiosk_survey,
    _operator,
    _signin,
    _supervisor,
)
from ._context import ScreenContext
from ._render import STATIC, Renderer
from ._session import SignInRequired
from ._settings import ScreensSection
from ._timing import ServerTiming
from ._web import sign_in_url

SCREEN_ROUTERS = (
    _signin.router,
    _counter.router,
    _kiosk_survey.router,
    _kiosk.router,
    _board.router,
    _head.router,
    _operator.router,
    _complaint_book.router,
    _supervisor.router,
)


def mount_screens(
    app: FastAPI,
    *,
    sessions: Sessions,
    settings: ScreensSection,
    office: str,
    performance: Callable[[Period, Language], str] | None = None,
) -> ScreenContext:
    """Add the screens to the API's `app` (made by `api.create_app`); `performance`
    renders a period's performance report for the leadership's console."""
    station: ApiContext = app.state.context
    context = ScreenContext(
        station=station,
        sessions=sessions,
        settings=settings,
        office=office,
        render=Renderer(),
        performance=performance,
    )
    app.state.screens = context
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_middleware(ServerTiming)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in SCREEN_ROUTERS:
        app.include_router(router)
    return context


async def _to_sign_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    url = sign_in_url(error.back_to, expired=error.expired)
    if request.headers.get("HX-Request"):
        # htmx follows this header with a whole-page navigation, not a swapped fragment.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
