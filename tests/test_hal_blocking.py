"""BlockingCaller: calls into blocking library code that may never return."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading

import pytest

from appliance.hal._blocking import BlockingCaller


def _worker_threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == f"hal-{name}"]


async def test_a_call_given_up_on_gets_a_new_thread_and_ends_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caller = BlockingCaller(name="hung-printer")
    started, release = threading.Event(), threading.Event()

    def transfer_that_hangs() -> None:
        started.set()
        release.wait()
        raise OSError("the transfer failed, long after anyone cared")

    call = asyncio.create_task(caller.call(transfer_that_hangs))
    try:
        await asyncio.to_thread(started.wait)
        (hung,) = _worker_threads("hung-printer")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert caller.abandoned_threads == 1

        assert await caller.call(lambda: "answered") == "answered"  # on a fresh thread
        assert len(_worker_threads("hung-printer")) == 2  # the hung one is left behind
    finally:
        release.set()
    # Once it has ended, the loop has its failure in hand: the thread settles the call
    # before the join's own wake-up is queued.
    await asyncio.to_thread(hung.join)
    del call
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert "never retrieved" not in caplog.text
    caller.close()
