"""Logging in and out: a bearer token per officer, for every other route."""

from __future__ import annotations

from fastapi import APIRouter, Response

from appliance.staff import AccountLocked, AuthenticationFailed

from ._deps import Context, Credentials, not_logged_in
from ._errors import ApiError, ErrorBody
from ._models import Login, Session

router = APIRouter(prefix="/session", tags=["session"])


@router.post(
    "",
    status_code=201,
    responses={429: {"model": ErrorBody, "description": "Too many failed logins"}},
)
async def login(body: Login, context: Context) -> Session:
    try:
        member = await context.staff.authenticate_async(body.person, body.secret)
    except AuthenticationFailed as error:
        raise ApiError(401, error.code, error.text) from None
    except AccountLocked as error:
        raise ApiError(429, error.code, error.text) from None
    token = context.sessions.open(member)
    return Session(token=token, person=member.id, name=member.name, roles=sorted(member.roles))


@router.delete("", status_code=204)
async def logout(context: Context, credentials: Credentials) -> Response:
    """End the session of the bearer token; one already ended (or expired) is no error.
    A request with no token at all is not a logout: 401, like any other."""
    if credentials is None:
        raise not_logged_in()
    context.sessions.close(credentials.credentials)
    return Response(status_code=204)
