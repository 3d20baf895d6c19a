"""Stop requests that must stop: telling one from a timeout in the errors aiomqtt raises
(`raise_if_stopping`), and one that arrives with the broker's answer (`CancelSafeClient`).

The chains are made by asyncio itself, as the client makes them: its `_wait_for` bounds a
wait with `asyncio.timeout`, whose TimeoutError stands on a CancelledError of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from appliance.sync._mqtt import CancelSafeClient, raise_if_stopping
from sim.broker import PrivateMosquitto


async def _timed_out_wait() -> None:
    """What the client raises when the broker does not answer within its timeout."""
    client = CancelSafeClient("127.0.0.1")  # never connected: only its bound is used
    await client._wait_for(asyncio.get_running_loop().create_future(), timeout=0.01)


async def test_a_stop_that_comes_with_the_brokers_puback_still_stops(tmp_path: Path) -> None:
    """The PUBACK completes the publish in the same loop iteration as the stop: Python
    3.11's `asyncio.wait_for`, which aiomqtt bounds its waits with, returned and lost
    the stop (CPython gh-86296), and the uplink ran on into its session."""
    with PrivateMosquitto(directory=tmp_path / "broker") as broker:
        async with CancelSafeClient(
            broker.host, broker.port, identifier="stopped", protocol=aiomqtt.ProtocolVersion.V5
        ) as client:
            publishing: list[asyncio.Task[None]] = []
            paho = client._client
            confirm = paho.on_publish  # aiomqtt's, which sets the publish's confirmation
            assert confirm is not None

            def confirm_and_stop(*args: Any) -> None:
                confirm(*args)
                publishing[0].cancel()

            paho.on_publish = confirm_and_stop
            publishing.append(asyncio.create_task(client.publish("t/stop", b"x", qos=1)))
            with pytest.raises(asyncio.CancelledError):
                await publishing[0]
            assert publishing[0].cancelled()


async def test_a_broker_that_never_answers_is_no_stop_request() -> None:
    with pytest.raises(aiomqtt.MqttError) as raised:
        await _timed_out_wait()
    raise_if_stopping(raised.value)  # nothing raised: the uplink reconnects


async def test_a_stop_hidden_behind_a_disconnect_that_timed_out_still_stops() -> None:
    caught: list[BaseException] = []
    started = asyncio.Event()

    async def session() -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            try:
                await _timed_out_wait()  # the goodbye on a dead link
            except aiomqtt.MqttError as error:
                caught.append(error)
                raise_if_stopping(error)
            raise

    task = asyncio.create_task(session())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (error,) = caught
    assert str(error) == "Operation timed out"
    with pytest.raises(asyncio.CancelledError):
        raise_if_stopping(error)


async def test_a_stop_during_asyncio_timeout_still_stops() -> None:
    caught: list[BaseException] = []
    started = asyncio.Event()

    async def session() -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            try:
                async with asyncio.timeout(0.01):
                    await asyncio.Event().wait()
            except TimeoutError as error:
                caught.append(error)
            raise

    task = asyncio.create_task(session())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(asyncio.CancelledError):
        raise_if_stopping(caught[0])
