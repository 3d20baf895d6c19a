"""Calls into blocking library code (pyusb, python-escpos) that may never return.

Each call runs on the device's own worker thread, so the event loop never waits on it
and the caller's deadline still applies. When a call overruns, its thread is abandoned
(a thread cannot be killed) and the next call gets a fresh one: a hung libusb transfer
costs one idle daemon thread, not the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]


class BlockingCaller:
    def __init__(self, *, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        self.abandoned_threads = 0

    async def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the worker thread; cancelling the await abandons it.

        One call at a time: the device's operation guard sees to that.
        """
        jobs = self._jobs or self._start_worker()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        jobs.put((function, loop, future))
        try:
            # Shielded: cancelling the caller must not cancel the future too, or it
            # would look settled and the hung thread would never be abandoned.
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done():
                # Still running on the thread: let it finish (or never) on its own, and
                # what it ends with concerns nobody now.
                future.add_done_callback(_ignore_outcome)
                self.abandoned_threads += 1
                jobs.put(None)
                self._jobs = None
            raise

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.put(None)
            self._jobs = None

    def _start_worker(self) -> queue.SimpleQueue[_Job | None]:
        jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        thread = threading.Thread(target=_work, args=(jobs,), name=f"hal-{self._name}", daemon=True)
        thread.start()
        self._jobs = jobs
        return jobs


def _ignore_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not log it as lost


def _work(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        function, loop, future = job
        try:
            result = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            _deliver(loop, future, exc, error=True)
        else:
            _deliver(loop, future, result, error=False)


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], value: Any, *, error: bool
) -> None:
    def settle() -> None:
        if future.done():
            return
        if error:
            future.set_exception(value)
        else:
            future.set_result(value)

    # If the loop closed while the call hung, nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)
