"""The fingerprint worker process: the same answers as the in-process work, a clean error
when it dies, a new worker after that, an idle stop, and no child left behind."""

from __future__ import annotations

import asyncio
import functools
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from appliance.fingerprint import (
    DEFAULT_THRESHOLD,
    ExtractionError,
    FingerMatcher,
    FingerprintWorker,
    FingerprintWorkerError,
    FingerTemplate,
    InProcessFingerprints,
    extract_template,
    match_score,
)
from sim.fingerprints import SyntheticFinger

REPOSITORY = Path(__file__).resolve().parent.parent


@functools.cache
def impression(person: int, capture: int, *, finger: int = 2) -> bytes:
    rng = np.random.default_rng([person, finger, capture])
    return SyntheticFinger(person_seed=person, finger=finger).impression(rng=rng)


@functools.cache
def in_process(person: int, capture: int) -> FingerTemplate:
    return extract_template(impression(person, capture), finger_position=2)


def gone(pid: int) -> bool:
    """True once `pid` has exited and been reaped (or was never ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")


async def test_the_worker_answers_as_the_in_process_work() -> None:
    async with FingerprintWorker() as worker:
        probe = await worker.extract_template(impression(1, 1), finger_position=2)
        reference = await worker.extract_template(impression(1, 0), finger_position=2)
        stranger = await worker.extract_template(impression(2, 0), finger_position=2)
        assert probe == in_process(1, 1)
        assert reference == in_process(1, 0)
        assert stranger == in_process(2, 0)
        same = await worker.match_score(probe, reference)
        assert same == match_score(in_process(1, 1), in_process(1, 0))
        assert same >= DEFAULT_THRESHOLD
        other = await worker.match_score(stranger, reference)
        assert other == match_score(in_process(2, 0), in_process(1, 0))
        assert other < DEFAULT_THRESHOLD
        verified = await worker.verify_score(impression(1, 1), reference, finger_position=2)
        assert verified == same
        # A resolution other than 500 dpi is resampled in the worker as in the process.
        assert await worker.extract_template(
            impression(1, 0), finger_position=2, resolution_dpi=600
        ) == extract_template(impression(1, 0), finger_position=2, resolution_dpi=600)


async def test_the_matcher_decides_alike_in_the_worker_and_in_a_thread() -> None:
    reference = in_process(3, 0)
    async with FingerprintWorker() as worker:
        in_worker = FingerMatcher(fingerprints=worker)
        in_thread = FingerMatcher(fingerprints=InProcessFingerprints())
        for person in (3, 4):
            image = impression(person, 1)
            by_worker = await in_worker.verify(image, reference, finger_position=2)
            by_thread = await in_thread.verify(image, reference, finger_position=2)
            assert by_worker == by_thread
            assert by_worker.matched is (person == 3)


async def test_bad_input_gets_the_same_errors_and_the_worker_goes_on() -> None:
    async with FingerprintWorker() as worker:
        with pytest.raises(ExtractionError, match="image"):
            await worker.extract_template(b"not an image at all", finger_position=2)
        with pytest.raises(ValueError, match="finger position 0"):
            await worker.extract_template(impression(1, 0), finger_position=0)
        with pytest.raises(ValueError, match="out of range"):
            await worker.extract_template(impression(1, 0), finger_position=2, resolution_dpi=-1)
        pid = worker.pid
        assert await worker.extract_template(impression(1, 0), finger_position=2) == (
            in_process(1, 0)
        )
        assert worker.pid == pid  # the same worker answered all of it


async def test_a_killed_worker_fails_its_request_cleanly_and_the_next_starts_a_new_one() -> None:
    async with FingerprintWorker() as worker:
        await worker.start()
        first = worker.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        # Not awaited in between: the request goes to the worker just killed.
        with pytest.raises(FingerprintWorkerError, match="stopped"):
            await worker.extract_template(impression(1, 0), finger_position=2)
        assert gone(first)
        template = await worker.extract_template(impression(1, 0), finger_position=2)
        assert template == in_process(1, 0)
        assert worker.pid not in (None, first)


async def test_a_worker_dying_mid_request_gives_its_exit_code(tmp_path: Path) -> None:
    # A "python" that reads the start of the request and exits without an answer.
    dying = tmp_path / "dying-python"
    dying.write_text("#!/bin/sh\nhead -c 1 >/dev/null\nexit 3\n")
    dying.chmod(0o700)
    async with FingerprintWorker(python=str(dying)) as worker:
        with pytest.raises(FingerprintWorkerError, match="exit code 3"):
            await worker.extract_template(impression(1, 0), finger_position=2)
        assert worker.pid is None


async def test_a_worker_that_cannot_start_is_a_worker_error(tmp_path: Path) -> None:
    async with FingerprintWorker(python=str(tmp_path / "no-such-python")) as worker:
        with pytest.raises(FingerprintWorkerError, match="cannot start"):
            await worker.extract_template(impression(1, 0), finger_position=2)


async def test_an_idle_worker_stops_and_the_next_finger_starts_another() -> None:
    async with FingerprintWorker(idle_stop_s=0) as worker:
        await worker.extract_template(impression(1, 0), finger_position=2)
        first = worker.pid
        assert first is not None
        await worker.wait_stopped()
        assert worker.pid is None
        assert gone(first)
        assert await worker.extract_template(impression(1, 0), finger_position=2) == (
            in_process(1, 0)
        )
        assert worker.pid not in (None, first)


async def test_closing_stops_the_worker_and_refuses_later_work() -> None:
    worker = FingerprintWorker()
    await worker.start()
    pid = worker.pid
    assert pid is not None
    await worker.aclose()
    assert gone(pid)
    assert worker.pid is None
    with pytest.raises(FingerprintWorkerError, match="closed"):
        await worker.extract_template(impression(1, 0), finger_position=2)


async def test_a_cancelled_request_leaves_no_worker_out_of_step() -> None:
    async with FingerprintWorker() as worker:
        await worker.start()
        first = worker.pid
        request = asyncio.create_task(worker.extract_template(impression(1, 0), finger_position=2))
        await asyncio.sleep(0)  # one turn of the loop: the request is on its way
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await worker.wait_stopped()
        assert first is not None
        assert gone(first)
        assert await worker.extract_template(impression(1, 0), finger_position=2) == (
            in_process(1, 0)
        )


def test_the_worker_dies_with_the_daemon() -> None:
    """A daemon killed outright (SIGKILL, no stop) leaves no worker behind."""
    parent = textwrap.dedent(
        """
        import asyncio, os, sys
        from appliance.fingerprint import FingerprintWorker

        async def main():
            worker = FingerprintWorker()
            await worker.start()
            print("worker", worker.pid, flush=True)
            sys.stdin.read()  # until the test kills this process

        asyncio.run(main())
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", parent],
        cwd=REPOSITORY,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as daemon:
        assert daemon.stdout is not None
        line = ""
        while not line.startswith("worker "):  # the daemon's log lines come first
            line = daemon.stdout.readline()
            assert line, "the daemon ended before starting its worker"
        worker_pid = int(line.split()[1])
        pidfd = os.pidfd_open(worker_pid)
        try:
            daemon.kill()
            daemon.wait()
            readable, _, _ = select.select([pidfd], [], [], 60)
            assert readable, "the worker outlived its daemon"
        finally:
            os.close(pidfd)
