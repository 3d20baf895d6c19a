"""Telling a stop request from a timeout, in the errors aiomqtt raises (`raise_if_stopping`).

The chains are made by asyncio itself, as aiomqtt makes them: its `_wait_for` is
`asyncio.wait_for`, whose TimeoutError stands on a CancelledError of its own.
"""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from appliance.sync._mqtt import raise_if_stopping


async def _timed_out_wait() -> None:
    """What aiomqtt raises when the broker does not answer within its timeout."""
    try:
        await asyncio.wait_for(asyncio.get_running_loop().create_future(), timeout=0.01)
    except TimeoutError:
        raise aiomqtt.MqttError("Operation timed out") from None


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
    assert isinstance(error.__context__, TimeoutError)
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
