"""The API served by uvicorn inside the daemon's event loop, on the configured address."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from email.utils import formatdate

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _EmbeddedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The daemon owns the process's signals; uvicorn only serves.
        yield

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        # uvicorn's own loop wakes ten times a second to refresh its Date header and to
        # look at `should_exit`: on a Raspberry Pi, the largest part of an idle station's
        # CPU. The Date header is stamped per response instead (`_Dated`), and the exit
        # is awaited.
        await self.on_tick(0)
        await self._exit_requested.wait()


class _Dated:
    """Stamp each response with its Date header (RFC 9110 §6.6.1), which uvicorn would
    otherwise refresh on a timer."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(usegmt=True).encode()
                message["headers"] = [*message.get("headers", ()), (b"date", date)]
            await send(message)

        await self._app(scope, receive, dated)


class ApiServer:
    def __init__(
        self,
        *,
        app: FastAPI,
        host: str,
        port: int,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """`on_stop` ends what would keep a connection open (the live event streams)."""
        self._server = _EmbeddedServer(
            uvicorn.Config(
                _Dated(app),
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=2,
                date_header=False,
            )
        )
        self.started = asyncio.Event()
        self.port: int | None = None
        self._on_stop = on_stop

    async def serve(self) -> None:
        """Serve until cancelled; `started` is set once the socket listens."""
        task = asyncio.create_task(self._server.serve(), name="api-server")
        try:
            while not self._server.started:
                if task.done():
                    await task  # raises what stopped it (the port is taken...)
                    return
                await asyncio.sleep(0.01)
            sockets = [s for server in self._server.servers for s in server.sockets]
            self.port = sockets[0].getsockname()[1] if sockets else None
            self.started.set()
            # Shielded: a cancelled daemon asks uvicorn to stop (below) rather than killing
            # it mid-way, so connections and the listening socket are closed properly.
            await asyncio.shield(task)
        finally:
            self._server.request_exit()
            if self._on_stop is not None:
                self._on_stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
