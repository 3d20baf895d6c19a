"""Who is at a console: the session cookie, the CSRF token every form carries, and the
officer dependency of the console routes.

The session is the same kind of login as the API's bearer token (`staff.Sessions`, the
same lockout), kept in a cookie: HttpOnly, SameSite=Strict, Secure when served over TLS.
Consoles have their own, shorter idle limit. A screen refreshing itself in the background
(`BACKGROUND_HEADER`, the live feeds) does not count as the officer's activity, so a busy
queue does not keep an abandoned console signed in.

CSRF: a random token in an HttpOnly, SameSite=Strict cookie, rendered into each page;
every unsafe request carries it back as a form field or, from htmx, a header, and is
refused with 403 when it does not match (the double-submit pattern, on top of SameSite).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, Request, Response

from appliance._text import Text
from appliance.api import ApiError
from appliance.domain import Role
from appliance.pipeline import Officer
from appliance.staff import StaffMember

from ._context import ScreenContext, screen_context
from ._web import (
    BACKGROUND_HEADER,
    back_to,
    cookie_csrf,
    csrf_holds,
    is_tls,
    remember_cookie_csrf,
)

SESSION_COOKIE: Final = "ktpel_sesi"
CSRF_COOKIE: Final = "ktpel_csrf"


class SignInRequired(Exception):
    """No valid console session: the browser goes to the sign-in page."""

    def __init__(self, back_to: str, *, expired: bool) -> None:
        super().__init__(back_to)
        self.back_to = back_to
        self.expired = expired


def csrf_token(request: Request) -> str:
    """The page's CSRF token: the browser's, or a new one set on the response by
    `remember_csrf`."""
    return cookie_csrf(request, CSRF_COOKIE)


def remember_csrf(request: Request, response: Response) -> None:
    remember_cookie_csrf(request, response, CSRF_COOKIE)


async def check_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request that does not carry the browser's CSRF token."""
    if not await csrf_holds(request, request.cookies.get(CSRF_COOKIE)):
        raise ApiError(
            403,
            "csrf_failed",
            Text(
                "Formulir ini kedaluwarsa atau bukan dari layar stasiun. Muat ulang halaman.",
                "This form is stale or not from the station's screens. Reload the page.",
            ),
        )


Csrf = Annotated[None, Depends(check_csrf)]


def open_session(request: Request, response: Response, member: StaffMember) -> None:
    context = screen_context(request)
    token = context.sessions.open(member)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=is_tls(request), path="/"
    )


def close_session(request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        screen_context(request).sessions.close(token)
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)


def signed_in(request: Request) -> StaffMember | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    touch = request.headers.get(BACKGROUND_HEADER) is None
    return screen_context(request).sessions.resolve(token, touch=touch)


def officer_in(*roles: Role) -> Callable[[Request], Awaitable[Officer]]:
    """The dependency of a console's routes: the signed-in officer, who must hold one of
    `roles` (any role when none is named)."""

    async def officer(request: Request) -> Officer:
        member = signed_in(request)
        if member is None:
            expired = SESSION_COOKIE in request.cookies
            raise SignInRequired(back_to(request), expired=expired)
        if roles and not any(member.has_role(role) for role in roles):
            raise ApiError(
                403,
                "wrong_role",
                Text(
                    "Layar ini untuk peran lain. Pilih layar Anda di menu.",
                    "This screen is for another role. Choose yours from the menu.",
                ),
            )
        return Officer(person=member.id, roles=member.roles)

    return officer


ScreenOfficer = Annotated[Officer, Depends(officer_in())]
Context = Annotated[ScreenContext, Depends(screen_context)]
