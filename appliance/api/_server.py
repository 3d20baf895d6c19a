"""The API served inside the daemon's event loop, as one task of the station's TaskGroup.

uvicorn's `Server.serve()` is made for a process of its own: it takes over SIGINT and
SIGTERM (the daemon owns them, and stops the station in order) and its main loop wakes
ten times a second to refresh the Date header and look for an exit request, which on a
Raspberry Pi is most of an idle station's CPU (benchmarks/api_idle.py: 20 loop wake-ups
a second against 0.2). So the station binds its own listening socket and drives uvicorn
through the public steps `serve()` is made of (`Config.load`, `Server.startup(sockets)`,
`Server.shutdown(sockets)`), with the app's lifespan as uvicorn runs it, and waits for
cancellation in between: no signal handlers, no timer, and nothing overridden.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.errors import ApplianceError
from appliance.logs import get_logger

from ._clients import AllowedClients, Network

log = get_logger(__name__)

_BACKLOG = 64
"""A station's screens and commands: a handful of clients, never a crowd."""
_GRACE_S = 2
"""How long requests in flight may finish when the station stops."""


class ApiUnavailable(ApplianceError):
    """The API cannot listen (the port is taken, the address is not this machine's) or its
    app refused to start."""


class _Dated:
    """Stamp each response with its Date header (RFC 9110 §6.6.1), which uvicorn would
    otherwise refresh on its 10 Hz timer."""

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


@dataclass(frozen=True, slots=True, kw_only=True)
class LanMode:
    """Serving the office's LAN: TLS with the station's own certificate, to the listed
    clients only."""

    certificate: Path
    key: Path
    allowed_clients: Sequence[Network]


class ApiServer:
    def __init__(
        self,
        *,
        app: FastAPI,
        host: str,
        port: int,
        on_stop: Callable[[], None] | None = None,
        lan: LanMode | None = None,
    ) -> None:
        """`on_stop` ends what would keep a connection open (the live event streams)."""
        served: ASGIApp = _Dated(app)
        if lan is not None:
            served = AllowedClients(served, networks=lan.allowed_clients)
        self._config = uvicorn.Config(
            served,
            host=host,
            port=port,
            ssl_certfile=lan.certificate if lan else None,
            ssl_keyfile=lan.key if lan else None,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=_GRACE_S,
            date_header=False,
        )
        self._host = host
        self._port = port
        self._on_stop = on_stop
        self.started = asyncio.Event()
        """Set once the socket listens and the app has started."""
        self.port: int | None = None
        """The port listened on (the one the system chose, for port 0)."""

    async def serve(self) -> None:
        """Listen and serve until cancelled; then stop accepting, end the live streams,
        let requests in flight finish (up to the grace period) and shut the app down.
        Raises `ApiUnavailable` if it cannot listen or the app does not start."""
        sockets = _listen(self._host, self._port)
        server = uvicorn.Server(self._config)
        try:
            if not self._config.loaded:
                self._config.load()
            server.lifespan = self._config.lifespan_class(self._config)
            try:
                await server.startup(sockets=sockets)
            except SystemExit:
                # uvicorn's answer to an app whose lifespan startup failed (the failure
                # itself is logged by uvicorn).
                raise ApiUnavailable("the API's app failed to start") from None
        except BaseException:
            for listener in sockets:
                listener.close()
            raise
        self.port = sockets[0].getsockname()[1]
        log.info("api_listening", host=self._host, port=self.port, tls=self._config.is_ssl)
        self.started.set()
        try:
            await asyncio.Event().wait()  # until the station's TaskGroup cancels this task
        finally:
            if self._on_stop is not None:
                self._on_stop()
            # Within the cancelled task: uvicorn closes the connections and the sockets
            # properly rather than being killed mid-way.
            try:
                await server.shutdown(sockets=sockets)
            finally:
                for listener in sockets:
                    listener.close()
            log.info("api_stopped")


def _listen(host: str, port: int) -> list[socket.socket]:
    """Bind every address `host` names, as asyncio's `create_server` would (IPv6 sockets
    only for IPv6); the listening sockets are handed to uvicorn."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise ApiUnavailable(f"cannot listen on {host}:{port}: {error}") from error
    sockets: list[socket.socket] = []
    try:
        for family, address in dict.fromkeys((entry[0], entry[4]) for entry in addresses):
            listener = socket.create_server(address, family=family, backlog=_BACKLOG)
            sockets.append(listener)
    except OSError as error:
        for listener in sockets:
            listener.close()
        raise ApiUnavailable(f"cannot listen on {host}:{port}: {error}") from error
    return sockets
