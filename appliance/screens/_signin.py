"""Signing in and out of the consoles, the language switch and the officers' live feed."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from appliance._text import Text
from appliance.api import Audience
from appliance.staff import AccountLocked, AuthenticationFailed

from ._consoles import home_of
from ._i18n import LANGUAGE_COOKIE, LANGUAGES
from ._live import officer_topic
from ._session import (
    Context,
    Csrf,
    ScreenOfficer,
    close_session,
    open_session,
    signed_in,
)
from ._web import local_path

router = APIRouter(include_in_schema=False)

_SSE: Final = "text/event-stream"


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    member = signed_in(request)
    return RedirectResponse(home_of(member.roles) if member else "/masuk", status_code=303)


@router.get("/masuk")
async def sign_in_page(
    request: Request, context: Context, kembali: str = "/", habis: int = 0
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
        "signin.html",
        {"back_to": local_path(kembali), "notice": notice, "errors": {}, "person": ""},
    )


@router.post("/masuk")
async def sign_in(
    request: Request,
    context: Context,
    _csrf: Csrf,
    person: Annotated[str, Form(max_length=64)] = "",
    pin: Annotated[str, Form(max_length=128)] = "",
    kembali: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    errors: dict[str, Text] = {}
    if not person.strip():
        errors["person"] = Text("Isi ID petugas.", "Enter your officer ID.")
    if not pin:
        errors["pin"] = Text("Isi PIN.", "Enter your PIN.")
    if not errors:
        try:
            member = await context.station.staff.authenticate_async(person.strip(), pin)
        except (AuthenticationFailed, AccountLocked) as error:
            errors["pin"] = error.text
        else:
            back_to = local_path(kembali)
            target = back_to if back_to != "/" else home_of(member.roles)
            response = RedirectResponse(target, status_code=303)
            open_session(request, response, member)
            return response
    return context.render.page(
        request,
        "signin.html",
        {"back_to": local_path(kembali), "notice": None, "errors": errors, "person": person},
        status_code=422,
    )


@router.post("/keluar")
async def sign_out(request: Request, _csrf: Csrf) -> Response:
    response = RedirectResponse("/masuk", status_code=303)
    close_session(request, response)
    return response


@router.post("/sesi/perpanjang", status_code=204)
async def stay_signed_in(_officer: ScreenOfficer, _csrf: Csrf) -> Response:
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


@router.get("/langsung/petugas")
async def officer_feed(_officer: ScreenOfficer, context: Context) -> StreamingResponse:
    """What changed, by topic, for the consoles (see `_live`)."""
    stream = context.station.live.topics(Audience.OFFICER, officer_topic)
    return StreamingResponse(stream, media_type=_SSE, headers={"Cache-Control": "no-store"})
