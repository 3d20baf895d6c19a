"""Server-Timing (W3C) on every response: how long the station took to answer, from the
request to the start of its response (for a page: the views read and the template
rendered). benchmarks/console.py reads it; a browser's developer tools show it."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took_ms = (time.perf_counter() - started) * 1000
                entry = f"app;dur={took_ms:.2f}".encode()
                message["headers"] = [*message.get("headers", ()), (b"server-timing", entry)]
            await send(message)

        await self._app(scope, receive, timed)
