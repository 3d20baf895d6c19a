"""The API server as a task: it listens once started, leaves the process's signals to the
daemon, ends its open streams and closes its socket when cancelled, and says so when it
cannot listen."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from appliance.api import ApiServer, ApiUnavailable

pytestmark = pytest.mark.asyncio


def _app(stop: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            yield "first\n"
            await stop.wait()

        return StreamingResponse(lines(), media_type="text/plain")

    return app


async def test_it_serves_once_started_and_stops_cleanly_when_cancelled() -> None:
    stop = asyncio.Event()
    server = ApiServer(app=_app(stop), host="127.0.0.1", port=0, on_stop=stop.set)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    task = asyncio.create_task(server.serve(), name="api")
    async with asyncio.timeout(10):
        await server.started.wait()
    assert server.port
    # The daemon owns the signals: the server took none of them.
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        response = await http.get("/hello")
        assert response.json() == {"hello": "world"}
        assert response.headers["date"].endswith(" GMT")
        async with http.stream("GET", "/stream", timeout=None) as streaming:
            lines = streaming.aiter_lines()
            assert await anext(lines) == "first"
            task.cancel()
            # The open stream is ended by `on_stop`, not cut at the grace period.
            async with asyncio.timeout(10):
                assert [line async for line in lines] == []
                with pytest.raises(asyncio.CancelledError):
                    await task
    assert stop.is_set()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", server.port))


async def test_a_port_already_taken_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ApiServer(app=_app(asyncio.Event()), host="127.0.0.1", port=port)
        with pytest.raises(ApiUnavailable, match=f"cannot listen on 127.0.0.1:{port}"):
            await server.serve()
    assert not server.started.is_set()


async def test_an_app_that_fails_to_start_is_a_clear_error() -> None:
    @contextlib.asynccontextmanager
    async def broken(_app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("broken on purpose by the test")
        yield  # pragma: no cover - a lifespan is a generator

    server = ApiServer(app=FastAPI(lifespan=broken), host="127.0.0.1", port=0)
    with pytest.raises(ApiUnavailable, match="failed to start"):
        await server.serve()
    assert not server.started.is_set()
