"""The local API: every operator action of the SOP, authorised by role, on loopback.

Officers log in with their id and PIN and get a bearer token; each action then runs as
that person, and the register records who did it. Reads (applications, queue, devices,
the day's figures) need a login too: the data is citizens'. Errors are JSON with a
stable `code` (see `_errors`). Bodies are bounded before they are parsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance._text import Text
from appliance._version import __version__
from appliance.domain import Document, Role, ServiceType, Step
from appliance.pipeline import (
    ApplicationView,
    Officer,
    Pipeline,
    PipelineError,
    QueueView,
    SubmitForm,
    TicketView,
)
from appliance.staff import AccountLocked, AuthenticationFailed, Sessions, StaffDirectory

from ._errors import (
    ApiError,
    ErrorBody,
    on_api_error,
    on_http_error,
    on_pipeline_error,
    on_unexpected_error,
    on_validation_error,
)
from ._live import LiveEvents

Id = Annotated[str, Path(pattern=r"^[0-9]{8}-[0-9]{4}$", description="application id")]
TicketNumber = Annotated[str, Path(pattern=r"^[A-Z]-[0-9]{3,4}$")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 422, 503)
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Login(_Body):
    person: str = Field(min_length=1, max_length=32)
    secret: str = Field(min_length=1, max_length=128)


class Session(BaseModel):
    token: str
    person: str
    name: str
    roles: list[Role]


class NewTicket(_Body):
    service: ServiceType


class CallNext(_Body):
    counter: str = Field(min_length=1, max_length=32)
    service: ServiceType | None = None


class Recall(_Body):
    counter: str = Field(min_length=1, max_length=32)


class Check(_Body):
    documents: tuple[Document, ...] = Field(max_length=16)


class Validate(_Body):
    valid: bool
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class BlanksReceived(_Body):
    count: int = Field(ge=1, le=100_000)
    reference: str = Field(min_length=1, max_length=200)


class BlankStockView(BaseModel):
    received: int
    issued: int
    spoiled: int
    in_process: int
    available: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    station: str


_bearer = HTTPBearer(auto_error=False)


async def _officer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Officer:
    sessions: Sessions = request.app.state.sessions
    member = sessions.resolve(credentials.credentials) if credentials else None
    if member is None:
        raise _not_logged_in()
    return Officer(person=member.id, roles=member.roles)


def _not_logged_in() -> ApiError:
    return ApiError(401, "not_logged_in", Text("Silakan masuk (login) dahulu.", "Log in first."))


Me = Annotated[Officer, Depends(_officer)]
"""The logged-in officer making the request."""


def create_app(
    *,
    pipeline: Pipeline,
    staff: StaffDirectory,
    sessions: Sessions,
    live: LiveEvents,
    devices: Callable[[], dict[str, dict[str, Any]]],
    status: Callable[[], dict[str, Any]],
    station_id: str,
    max_body_bytes: int = 64 * 1024,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        live.bind(asyncio.get_running_loop())
        yield

    app = FastAPI(
        title="KTP-el station",
        version=__version__,
        description="The station's local API: the SOP's operator actions, by role.",
        lifespan=lifespan,
        responses=_ERRORS,
    )
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(PipelineError, on_pipeline_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
    app.add_middleware(_BodyLimit, limit=max_body_bytes)

    app.state.sessions = sessions

    @app.get("/api/v1/health", tags=["station"])
    async def health() -> Health:
        return Health(status="ok", version=__version__, station=station_id)

    @app.get("/api/v1/status", tags=["station"])
    async def station_status() -> dict[str, Any]:
        """The station's state for `appliance status` and monitoring: devices, today's
        queue and steps, blank stock, uplink, disk, clock. Counts and states only, nothing
        about a person, so no login is asked."""
        return status()

    @app.post(
        "/api/v1/session",
        tags=["session"],
        status_code=201,
        responses={429: {"model": ErrorBody, "description": "Too many failed logins"}},
    )
    async def login(body: Login) -> Session:
        try:
            member = await staff.authenticate_async(body.person, body.secret)
        except AuthenticationFailed as error:
            raise ApiError(401, error.code, error.text) from None
        except AccountLocked as error:
            raise ApiError(429, error.code, error.text) from None
        token = sessions.open(member)
        return Session(token=token, person=member.id, name=member.name, roles=sorted(member.roles))

    @app.delete("/api/v1/session", tags=["session"], status_code=204)
    async def logout(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Response:
        """End the session of the bearer token; one already ended (or expired) is no
        error. A request with no token at all is not a logout: 401, like any other."""
        if credentials is None:
            raise _not_logged_in()
        sessions.close(credentials.credentials)
        return Response(status_code=204)

    # ------------------------------------------------------------------ queue

    @app.post("/api/v1/queue/tickets", tags=["queue"], status_code=201)
    async def take_ticket(body: NewTicket, me: Me) -> TicketView:
        return await pipeline.issue_ticket(me, body.service)

    @app.get("/api/v1/queue", tags=["queue"])
    async def queue(_me: Me) -> QueueView:
        return pipeline.queue()

    @app.post("/api/v1/queue/call-next", tags=["queue"])
    async def call_next(body: CallNext, me: Me) -> TicketView:
        return pipeline.call_next(me, counter=body.counter, service=body.service)

    @app.post("/api/v1/queue/tickets/{ticket}/recall", tags=["queue"])
    async def recall(ticket: TicketNumber, body: Recall, me: Me) -> TicketView:
        return pipeline.recall(me, ticket, counter=body.counter)

    @app.post("/api/v1/queue/tickets/{ticket}/no-show", tags=["queue"])
    async def no_show(ticket: TicketNumber, me: Me) -> TicketView:
        return pipeline.mark_no_show(me, ticket)

    # ------------------------------------------------------------------ applications

    @app.post("/api/v1/applications", tags=["applications"], status_code=201)
    async def submit(body: SubmitForm, me: Me) -> ApplicationView:
        return await pipeline.submit(me, body)

    @app.get("/api/v1/applications", tags=["applications"])
    async def applications(
        _me: Me,
        state: Annotated[
            Literal["in_progress", "waiting_blank", "returned", "completed"] | None, Query()
        ] = None,
        step: Annotated[Step | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[ApplicationView]:
        return pipeline.applications(state=state, step=step, limit=limit)

    @app.get("/api/v1/applications/{app_id}", tags=["applications"])
    async def application(app_id: Id, _me: Me) -> ApplicationView:
        return pipeline.application(app_id)

    @app.post("/api/v1/applications/{app_id}/steps/{step}/start", tags=["applications"])
    async def start(app_id: Id, step: Step, me: Me) -> ApplicationView:
        return await pipeline.start_step(me, app_id, step)

    @app.post("/api/v1/applications/{app_id}/check", tags=["applications"])
    async def check(app_id: Id, body: Check, me: Me) -> ApplicationView:
        return await pipeline.check(me, app_id, body.documents)

    @app.post("/api/v1/applications/{app_id}/validate", tags=["applications"])
    async def validate(app_id: Id, body: Validate, me: Me) -> ApplicationView:
        return await pipeline.validate(me, app_id, valid=body.valid, reason=body.reason)

    @app.post("/api/v1/applications/{app_id}/transfer", tags=["applications"])
    async def transfer(app_id: Id, me: Me) -> ApplicationView:
        return await pipeline.transfer(me, app_id)

    @app.post("/api/v1/applications/{app_id}/handover", tags=["applications"])
    async def handover(app_id: Id, me: Me) -> ApplicationView:
        return await pipeline.handover(me, app_id)

    # ------------------------------------------------------------------ stock, devices

    @app.post("/api/v1/blanks", tags=["blank cards"], status_code=204)
    async def blanks(body: BlanksReceived, me: Me) -> Response:
        pipeline.receive_blanks(me, count=body.count, reference=body.reference)
        return Response(status_code=204)

    @app.get("/api/v1/blanks", tags=["blank cards"])
    async def stock(_me: Me) -> BlankStockView:
        current = pipeline.blank_stock()
        return BlankStockView(
            received=current.received,
            issued=current.issued,
            spoiled=current.spoiled,
            in_process=current.in_process,
            available=current.available,
        )

    @app.get("/api/v1/devices", tags=["station"])
    async def device_status(_me: Me) -> dict[str, dict[str, Any]]:
        return devices()

    @app.get("/api/v1/events", tags=["station"], response_class=StreamingResponse)
    async def events(_me: Me) -> StreamingResponse:
        """Server-sent events: every register event as it is written."""
        return StreamingResponse(live.stream(), media_type="text/event-stream")

    return app


class _BodyLimit:
    """Refuse bodies over `limit` bytes with 413 before anything reads them whole."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._limit):
            await _too_large(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._limit:
                    raise HTTPException(413)
            return message

        await self._app(scope, bounded, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.requests import Request as StarletteRequest  # noqa: PLC0415

    from ._errors import error_response  # noqa: PLC0415

    response = error_response(
        StarletteRequest(scope, receive),
        413,
        "body_too_large",
        Text("Isi permintaan terlalu besar.", "The request body is too large."),
    )
    await response(scope, receive, send)
