"""What every router depends on, in one place: the station's parts the API serves, and the
logged-in officer making the request.

The parts are set once on the app by `create_app` (`ApiContext`); a route asks for them
with `Context`, and for the officer with `Me` (401 without a valid session). Screens
added beside the API take the same dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from appliance._text import Text
from appliance.pipeline import Officer, Pipeline
from appliance.staff import Sessions, StaffDirectory

from ._errors import ApiError
from ._live import LiveEvents


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiContext:
    """The station's parts, as the routes use them."""

    pipeline: Pipeline
    staff: StaffDirectory
    sessions: Sessions
    live: LiveEvents
    devices: Callable[[], dict[str, dict[str, Any]]]
    """The devices' states, by name."""
    status: Callable[[], dict[str, Any]]
    """The station's report for `appliance status` and monitoring."""
    station_id: str
    counters: tuple[str, ...]


async def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]
"""The station's parts."""

_bearer = HTTPBearer(auto_error=False)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The request's bearer token, if any (documented in the schema as the security scheme)."""


def not_logged_in() -> ApiError:
    return ApiError(401, "not_logged_in", Text("Silakan masuk (login) dahulu.", "Log in first."))


async def _officer(context: Context, credentials: Credentials) -> Officer:
    member = context.sessions.resolve(credentials.credentials) if credentials else None
    if member is None:
        raise not_logged_in()
    return Officer(person=member.id, roles=member.roles)


Me = Annotated[Officer, Depends(_officer)]
"""The logged-in officer making the request."""
