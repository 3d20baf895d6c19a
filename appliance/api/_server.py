"""The API served by uvicorn inside the daemon's event loop, on the configured address."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The daemon owns the process's signals; uvicorn only serves.
        yield


class ApiServer:
    def __init__(self, *, app: FastAPI, host: str, port: int) -> None:
        self._server = _EmbeddedServer(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=2,
            )
        )
        self.started = asyncio.Event()
        self.port: int | None = None

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
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task
