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

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import Depends, Request, Response

from appliance._text import Text
from appliance.api import ApiError
from appliance.domain import Role
from appliance.pipeline import Officer
from appliance.staff import StaffMember

from ._context import ScreenContext, screen_context

SESSION_COOKIE: Final = "ktpel_sesi"
CSRF_COOKIE: Final = "ktpel_csrf"
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
BACKGROUND_HEADER: Final = "X-Ktpel-Background"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SignInRequired(Exception):
    """No valid console session: the browser goes to the sign-in page."""

    def __init__(self, back_to: str, *, expired: bool) -> None:
        super().__init__(back_to)
        self.back_to = back_to
        self.expired = expired


def csrf_token(request: Request) -> str:
    """The page's CSRF token: the browser's, or a new one set on the response by
    `remember_csrf`."""
    token = request.cookies.get(CSRF_COOKIE)
    if token is None or len(token) != 43:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def remember_csrf(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new is not None:
        response.set_cookie(
            CSRF_COOKIE, new, httponly=True, samesite="strict", secure=_tls(request), path="/"
        )


async def check_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request that does not carry the browser's CSRF token."""
    if request.method not in _UNSAFE:
        return
    expected = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not expected or not sent or not secrets.compare_digest(expected, sent):
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
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_tls(request), path="/"
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
            raise SignInRequired(_back_to(request), expired=expired)
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


def _back_to(request: Request) -> str:
    if request.headers.get("HX-Request") or request.method != "GET":
        # A fragment or a form: back to the page the officer was on.
        referer = request.headers.get("HX-Current-URL") or request.headers.get("referer", "")
        path = referer.split(str(request.base_url).rstrip("/"), 1)[-1]
        return path if path.startswith("/") and not path.startswith("//") else "/"
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def sign_in_url(back_to: str, *, expired: bool) -> str:
    url = f"/masuk?kembali={quote(back_to, safe='/')}"
    return url + "&habis=1" if expired else url


def _tls(request: Request) -> bool:
    return request.url.scheme == "https"


ScreenOfficer = Annotated[Officer, Depends(officer_in())]
Context = Annotated[ScreenContext, Depends(screen_context)]
