"""The daemon's side of the fingerprint worker: started on demand, stopped when idle.

Extraction and matching need numpy: 35 MB for the worker once imported, and up to 25
more for one extraction's arrays, which glibc does not always give back. In the daemon
they would stay for the rest of its life after the first applicant. In a worker
process they last as long as the fingers keep coming: the worker stops after
`idle_stop_s` without a request, and the next finger starts a new one
(docs/footprint.md has the figures).

One request at a time goes to the one worker; the others wait their turn. A worker that
dies, or one whose request was cancelled half-way (its stream is then out of step), is
killed and forgotten: the request fails with `FingerprintWorkerError` and the next one
starts a new worker. Only process ids, exit codes and durations are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import sys
import time
from types import TracebackType
from typing import Final, Self

from appliance.errors import ApplianceError
from appliance.logs import get_logger

from . import _wire as wire
from ._deferred import WORKING_DPI, ExtractionError
from ._iso import FingerTemplate, decode_iso19794_2, encode_iso19794_2

log = get_logger(__name__)

DEFAULT_IDLE_STOP_S: Final = 60.0
"""Long enough to serve one applicant's recording and activation without a restart
(about a second of imports each), short enough to be gone between applicants."""
_STOP_GRACE_S: Final = 5.0


class FingerprintWorkerError(ApplianceError):
    """The fingerprint worker could not answer: it would not start, or it stopped."""


class FingerprintWorker:
    """Fingerprint extraction and 1:1 scores in a worker process of the daemon's.

    Use as `async with FingerprintWorker() as worker:`; leaving it stops the worker.
    """

    def __init__(
        self, *, idle_stop_s: float = DEFAULT_IDLE_STOP_S, python: str = sys.executable
    ) -> None:
        if idle_stop_s < 0:
            raise ValueError(f"idle_stop_s {idle_stop_s} is negative")
        self._idle_stop_s = idle_stop_s
        self._command = (python, "-m", "appliance.fingerprint._serve")
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def pid(self) -> int | None:
        """The running worker's process id, None when there is none."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    # ---------------------------------------------------------------- the work

    async def extract_template(
        self, image: bytes, *, finger_position: int, resolution_dpi: int = WORKING_DPI
    ) -> FingerTemplate:
        """`extract_template`, in the worker (`image` a PNG or PGM file)."""
        args = _pack(wire.EXTRACT_ARGS, finger_position, resolution_dpi)
        return decode_iso19794_2(await self._request(wire.EXTRACT, args + image))

    async def match_score(self, probe: FingerTemplate, reference: FingerTemplate) -> float:
        """`match_score`, in the worker."""
        probe_record = encode_iso19794_2(probe)
        payload = wire.SCORE_ARGS.pack(len(probe_record)) + probe_record
        answer = await self._request(wire.SCORE, payload + encode_iso19794_2(reference))
        return float(wire.SCORE_ANSWER.unpack(answer)[0])

    async def verify_score(
        self,
        image: bytes,
        reference: FingerTemplate,
        *,
        finger_position: int,
        resolution_dpi: int = WORKING_DPI,
    ) -> float:
        """The live finger's template scored against `reference`, in one trip."""
        record = encode_iso19794_2(reference)
        args = _pack(wire.VERIFY_ARGS, finger_position, resolution_dpi, len(record))
        answer = await self._request(wire.VERIFY, args + record + image)
        return float(wire.SCORE_ANSWER.unpack(answer)[0])

    # ---------------------------------------------------------------- the process

    async def start(self) -> None:
        """Start the worker now if none runs, so that its imports (about a second) overlap
        with what the caller does before its first request."""
        async with self._lock:
            self._cancel_idle_timer()
            await self._running()
            self._arm_idle_timer()

    async def wait_stopped(self) -> None:
        """Until no worker runs (after an idle stop, or a death)."""
        while self._process is not None or self._stopping:
            if self._stopping:
                await asyncio.gather(*self._stopping)
            elif (process := self._process) is not None:
                await process.wait()
                if not self._stopping:  # died on its own, not stopped by us
                    self._forget(process)

    async def aclose(self) -> None:
        """Stop the worker; a later request starts none."""
        self._closed = True
        async with self._lock:
            self._cancel_idle_timer()
            process = self._process
            if process is not None:
                await self._stop(process)
        while self._stopping:
            await asyncio.gather(*self._stopping)

    async def _request(self, op: int, payload: bytes) -> bytes:
        async with self._lock:
            self._cancel_idle_timer()
            process = await self._running()
            started = time.perf_counter()
            try:
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.write(wire.frame(op, payload))
                await process.stdin.drain()
                code, length = wire.HEADER.unpack(
                    await process.stdout.readexactly(wire.HEADER.size)
                )
                answer = await process.stdout.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                self._kill(process)
                returncode = await process.wait()
                log.warning("fingerprint_worker_died", pid=process.pid, returncode=returncode)
                raise FingerprintWorkerError(
                    f"the fingerprint worker stopped during a request (exit code {returncode})"
                ) from error
            except BaseException:  # cancelled half-way: the stream is out of step
                self._kill(process)
                raise
            self._arm_idle_timer()
        log.debug("fingerprint_request", op=op, seconds=round(time.perf_counter() - started, 3))
        return _answer(code, answer)

    async def _running(self) -> asyncio.subprocess.Process:
        """The running worker, started if there is none (under the lock)."""
        if self._closed:
            raise FingerprintWorkerError("the fingerprint worker is closed")
        while self._stopping:
            await asyncio.gather(*self._stopping)
        process = self._process
        if process is not None and process.returncode is None:
            return process
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                close_fds=True,
            )
        except OSError as error:
            raise FingerprintWorkerError(f"the fingerprint worker cannot start: {error}") from error
        self._process = process
        log.info("fingerprint_worker_started", pid=process.pid)
        return process

    def _arm_idle_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self._idle_stop_s, self._idle)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle(self) -> None:
        self._idle_timer = None
        process = self._process
        if process is None or self._lock.locked():
            return  # a request holds it: the timer is armed again after it
        task = asyncio.get_running_loop().create_task(self._stop(process), name="fingerprint-stop")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """The end of its stdin stops a worker between requests; a stuck one is killed."""
        if process.stdin is not None:
            process.stdin.close()
        try:
            async with asyncio.timeout(_STOP_GRACE_S):
                returncode = await process.wait()
        except TimeoutError:
            self._kill(process)
            returncode = await process.wait()
        self._forget(process)
        log.info("fingerprint_worker_stopped", pid=process.pid, returncode=returncode)

    def _kill(self, process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        self._forget(process)
        if process.returncode is None:  # reaped in the background, awaited by aclose
            task = asyncio.get_running_loop().create_task(_reap(process), name="fingerprint-reap")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _forget(self, process: asyncio.subprocess.Process) -> None:
        if self._process is process:
            self._process = None


async def _reap(process: asyncio.subprocess.Process) -> None:
    await process.wait()


def _pack(layout: struct.Struct, *values: int) -> bytes:
    try:
        return layout.pack(*values)
    except struct.error as error:
        raise ValueError(f"finger position or resolution out of range: {values}") from error


def _answer(code: int, payload: bytes) -> bytes:
    if code == wire.OK:
        return payload
    message = payload.decode(errors="replace")
    if code == wire.EXTRACTION:
        raise ExtractionError(message)
    if code == wire.INVALID:
        raise ValueError(message)
    raise FingerprintWorkerError(f"the fingerprint worker failed: {message}")
