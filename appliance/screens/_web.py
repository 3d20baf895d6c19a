"""What every web app of ours shares about its browser sessions: the station's screens
and the central office's dashboard both use these, each with its own cookies and its own
refusal.

CSRF is the double-submit pattern on top of SameSite=Strict: a token rendered into each
page comes back with every unsafe request as a form field or, from htmx, a header.
"""

from __future__ import annotations

import secrets
from typing import Final
from urllib.parse import quote

from fastapi import Request, Response

CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
BACKGROUND_HEADER: Final = "X-Ktpel-Background"
"""Sent by a page's own live refreshes: not the user's activity."""
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TOKEN_LENGTH: Final = 43  # secrets.token_urlsafe(32)


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_csrf(request: Request, cookie: str) -> str:
    """The double-submit token in `cookie`, or a new one that `remember_cookie_csrf`
    sets on the response."""
    token = request.cookies.get(cookie)
    if token is None or len(token) != _TOKEN_LENGTH:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def remember_cookie_csrf(request: Request, response: Response, cookie: str) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new is not None:
        response.set_cookie(
            cookie, new, httponly=True, samesite="strict", secure=is_tls(request), path="/"
        )


async def csrf_holds(request: Request, expected: str | None) -> bool:
    """Whether an unsafe request carries `expected` back (a safe one always passes)."""
    if request.method not in UNSAFE_METHODS:
        return True
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    return bool(expected) and bool(sent) and secrets.compare_digest(str(expected), str(sent))


def back_to(request: Request) -> str:
    """Where to return after signing in: the page itself, or for a fragment or a form,
    the page the user was on."""
    if request.headers.get("HX-Request") or request.method != "GET":
        referer = request.headers.get("HX-Current-URL") or request.headers.get("referer", "")
        path = referer.split(str(request.base_url).rstrip("/"), 1)[-1]
        return path if path.startswith("/") and not path.startswith("//") else "/"
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def sign_in_url(back: str, *, expired: bool) -> str:
    url = f"/masuk?kembali={quote(back, safe='/')}"
    return url + "&habis=1" if expired else url


def local_path(path: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    if path and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/"
