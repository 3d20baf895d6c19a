"""Bodies are bounded before anything reads them whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance._text import Text

from ._errors import error_response


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, by their declared length when they
    declare one, else as they arrive."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._limit):
            response = error_response(
                Request(scope, receive),
                413,
                "body_too_large",
                Text("Isi permintaan terlalu besar.", "The request body is too large."),
            )
            await response(scope, receive, send)
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
