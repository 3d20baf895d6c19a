"""Signing in and out of the dashboard, the language switch, staying signed in, and the
live feed."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from appliance._text import Text
from appliance.screens import LANGUAGE_COOKIE, LANGUAGES, is_tls, local_path
from appliance.staff import AccountLocked, AuthenticationFailed

from ._auth import SESSION_COOKIE, Csrf, SignedIn, session_of
from ._context import Context

router = APIRouter(include_in_schema=False)

HOME: Final = "/ikhtisar"
_SSE: Final = "text/event-stream"


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    return RedirectResponse(HOME if session_of(request) else "/masuk", status_code=303)


@router.get("/masuk")
async def sign_in_page(
    request: Request, context: Context, kembali: str = HOME, habis: int = 0
) -> Response:
    notice = (
        Text(
            "Sesi Anda berakhir karena tidak ada aktivitas. Silakan masuk lagi.",
            "Your session ended after a period of inactivity. Please sign in again.",
        )
        if habis
        else None
    )
    return context.render.page(
        request,
        "masuk.html",
        {"back_to": local_path(kembali), "notice": notice, "errors": {}, "name": ""},
    )


@router.post("/masuk")
async def sign_in(
    request: Request,
    context: Context,
    _csrf: Csrf,
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    kembali: Annotated[str, Form(max_length=512)] = HOME,
) -> Response:
    errors: dict[str, Text] = {}
    name = name.strip()
    if not name:
        errors["name"] = Text("Isi nama pengguna.", "Enter your user name.")
    if not password:
        errors["password"] = Text("Isi kata sandi.", "Enter your password.")
    if not errors:
        try:
            user = await context.users.authenticate(name, password)
        except (AuthenticationFailed, AccountLocked) as error:
            errors["password"] = (
                error.text
                if isinstance(error, AccountLocked)
                else Text("Nama pengguna atau kata sandi salah.", "Wrong user name or password.")
            )
            code = error.code
        else:
            back = local_path(kembali)
            response = RedirectResponse(HOME if back == "/" else back, status_code=303)
            token, _session = context.sessions.open(user)
            response.set_cookie(
                SESSION_COOKIE,
                token,
                httponly=True,
                samesite="strict",
                secure=is_tls(request),
                path="/",
            )
            return response
    else:
        code = "missing_field"
    return context.render.page(
        request,
        "masuk.html",
        {"back_to": local_path(kembali), "notice": None, "errors": errors, "name": name},
        status_code=422,
        headers={"X-Error-Code": code},
    )


@router.post("/keluar")
async def sign_out(request: Request, context: Context, _csrf: Csrf) -> Response:
    response = RedirectResponse("/masuk", status_code=303)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        context.sessions.close(token)
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
    return response


@router.post("/sesi/perpanjang", status_code=204)
async def stay_signed_in(_user: SignedIn, _csrf: Csrf) -> Response:
    """The countdown's "stay signed in": the request itself refreshes the session."""
    return Response(status_code=204)


@router.get("/bahasa/{language}")
async def choose_language(language: str, kembali: str = "/") -> Response:
    response = RedirectResponse(local_path(kembali), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="strict", path="/"
        )
    return response


@router.get("/langsung")
async def live_feed(_user: SignedIn, context: Context) -> StreamingResponse:
    """What changed (`status`, `alerts`), for the open pages to fetch their parts."""
    return StreamingResponse(
        context.live.stream(), media_type=_SSE, headers={"Cache-Control": "no-store"}
    )
