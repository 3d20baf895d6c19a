"""Who is at the dashboard: the session cookie, the CSRF token every form carries back,
the signed-in user's dependencies (any role, or one that may act), and the refusals the
pages show.

The session is a row of `Sessions` (the database), its token in a cookie: HttpOnly,
SameSite=Strict, Secure over TLS. Each session has its own CSRF token, rendered into
every page and sent back by each form (a field) or htmx (a header); before signing in,
the sign-in form's token is a double-submit cookie. A request without the right token is
refused with 403 `csrf_failed` and changes nothing. A page's own live refreshes carry
`BACKGROUND_HEADER` and do not count as the user's activity, so an abandoned dashboard
signs out after the idle limit even while its overview keeps refreshing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, Request, Response

from appliance._text import Text
from appliance.errors import ApplianceError
from appliance.screens import (
    BACKGROUND_HEADER,
    back_to,
    cookie_csrf,
    csrf_holds,
    remember_cookie_csrf,
)

from .._scope import DashboardRole
from .._sessions import Session
from .._users import User
from ._context import dashboard_context

SESSION_COOKIE: Final = "ktpel_pusat_sesi"
PRE_CSRF_COOKIE: Final = "ktpel_pusat_csrf"
_NO_SESSION: Final = object()


class DashboardError(ApplianceError):
    """A request refused: its HTTP status, a stable `code` and an Indonesian/English
    text; `field` names the form field it is about, when it is about one."""

    def __init__(self, status: int, code: str, text: Text, *, field: str | None = None) -> None:
        super().__init__(text.en)
        self.status = status
        self.code = code
        self.text = text
        self.field = field


class SignInRequired(Exception):
    """No valid session: the browser goes to the sign-in page, then back."""

    def __init__(self, back_to: str, *, expired: bool) -> None:
        super().__init__(back_to)
        self.back_to = back_to
        self.expired = expired


def session_of(request: Request) -> Session | None:
    """The request's session (looked up once per request), None before signing in."""
    cached = getattr(request.state, "session", _NO_SESSION)
    if cached is not _NO_SESSION:
        return cached  # type: ignore[return-value]
    token = request.cookies.get(SESSION_COOKIE)
    session = None
    if token:
        touch = request.headers.get(BACKGROUND_HEADER) is None
        session = dashboard_context(request).sessions.resolve(token, touch=touch)
    request.state.session = session
    return session


def csrf_for_page(request: Request) -> str:
    """The token a page's forms carry: the session's, or the sign-in form's cookie."""
    session = session_of(request)
    if session is not None:
        return session.csrf
    return cookie_csrf(request, PRE_CSRF_COOKIE)


def remember_pre_csrf(request: Request, response: Response) -> None:
    remember_cookie_csrf(request, response, PRE_CSRF_COOKIE)


async def check_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request that does not carry its page's CSRF token."""
    session = session_of(request)
    expected = session.csrf if session is not None else request.cookies.get(PRE_CSRF_COOKIE)
    if not await csrf_holds(request, expected):
        raise DashboardError(
            403,
            "csrf_failed",
            Text(
                "Formulir ini kedaluwarsa atau bukan dari dasbor. Muat ulang halaman.",
                "This form is stale or not from the dashboard. Reload the page.",
            ),
        )


Csrf = Annotated[None, Depends(check_csrf)]


def user_with(
    allowed: Callable[[DashboardRole], bool] | None = None,
) -> Callable[[Request], Awaitable[User]]:
    """The dependency of a signed-in route: the user, whose role must pass `allowed`."""

    async def signed_in_user(request: Request) -> User:
        session = session_of(request)
        if session is None:
            raise SignInRequired(back_to(request), expired=SESSION_COOKIE in request.cookies)
        if allowed is not None and not allowed(session.user.role):
            raise DashboardError(
                403,
                "wrong_role",
                Text(
                    "Peran Anda tidak mengizinkan tindakan ini.",
                    "Your role does not allow this.",
                ),
            )
        return session.user

    return signed_in_user


SignedIn = Annotated[User, Depends(user_with())]
"""Any signed-in user: a viewer at least."""
Acknowledger = Annotated[User, Depends(user_with(lambda role: role.acknowledges))]
"""A user who may acknowledge alerts (petugas, teknisi)."""
Diagnoser = Annotated[User, Depends(user_with(lambda role: role.diagnoses))]
"""A user who may ask a station for a remote diagnosis (teknisi)."""
