"""The collector's check on every core: decoding, hashing and verifying register messages
in worker processes.

Threads were not enough: libsodium releases the GIL while it verifies, but decoding JSON,
re-encoding each event's payload canonically and hashing its body hold it, and so does
everything else the collector does (MQTT, the store's COPY, the acknowledgements). With
two check threads most of their time went into waiting for the GIL. A worker process
has its own, so the collector's process keeps only what must happen in one place: the
order of the messages, the store and the acknowledgements.

What crosses between the processes is kept to plain tuples (`check_wire`): the
message's bytes in, the good events as rows and the rejections out. A worker that dies
(the OOM killer) breaks the pool; the pool is made again and the work tried once more,
and a second failure ends the collector's session like a broken store does.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final

from appliance.logs import get_logger

from ._check import CheckedMessage, WireItem, check_wire, from_wire
from ._errors import SyncError

log = get_logger(__name__)

# Forked from a server that has imported the check already: a pool (one per collector,
# and a test makes many) starts in milliseconds, not half a second per worker.
_PRELOAD: Final = ["appliance.sync._check"]


class CheckPoolBroken(SyncError):
    """The check's worker processes died twice over the same work."""


class CheckPool:
    def __init__(self, *, processes: int | None = None, every_signature: bool = True) -> None:
        """`processes` None: one per core; 0: threads in this process instead (a
        one-core machine, or a test that wants no children)."""
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self._every_signature = every_signature
        self._executor: Executor | None = None

    @property
    def workers(self) -> int:
        return self.processes or (os.cpu_count() or 1)

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (for the benchmark's RSS), once they are started."""
        executor = self._executor
        if not isinstance(executor, ProcessPoolExecutor):
            return []
        return list(getattr(executor, "_processes", {}) or {})

    async def check(self, items: Sequence[WireItem]) -> list[CheckedMessage]:
        """Check the messages on a worker; the results in the order of `items`."""
        for attempt in (1, 2):
            executor = self._started()
            try:
                future = executor.submit(
                    check_wire, list(items), every_signature=self._every_signature
                )
                results = await asyncio.wrap_future(future)
            except BrokenProcessPool as exc:
                log.warning("check_pool_broken", attempt=attempt, error=str(exc))
                self._discard(executor)
                if attempt == 2:
                    raise CheckPoolBroken(f"the check's worker processes died: {exc}") from exc
                continue
            return [from_wire(result) for result in results]
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _started(self) -> Executor:
        if self._executor is None:
            if self.processes:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)
                self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
            else:
                self._executor = ThreadPoolExecutor(
                    self.workers, thread_name_prefix="collector-check"
                )
        return self._executor

    def _discard(self, executor: Executor) -> None:
        if self._executor is executor:
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)
