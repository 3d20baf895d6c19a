"""The loops the watchdog vouches for, and the watchdog's feeding: pings only while every
watched loop goes round."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from appliance.liveness import Liveness, Watchdog
from appliance.notify import SystemdNotifier


class _Clock:
    """Monotonic seconds moved by hand; `on_read` sees every reading."""

    def __init__(self) -> None:
        self.now = 100.0
        self.on_read: Callable[[], None] = lambda: None

    def __call__(self) -> float:
        self.on_read()
        return self.now


def test_a_loop_is_stale_once_it_has_not_beaten_within_its_allowance() -> None:
    clock = _Clock()
    liveness = Liveness(clock=clock)
    liveness.register("pipeline", allowance_s=15)
    liveness.register("uplink", allowance_s=60)
    clock.now += 15
    assert liveness.stale() == []
    clock.now += 1
    assert liveness.stale() == ["pipeline"]
    liveness.beat("pipeline")
    liveness.beat("nobody")  # an unwatched name is ignored
    clock.now += 14
    assert liveness.stale() == []
    clock.now += 31
    assert liveness.stale() == ["pipeline", "uplink"]


async def test_an_idle_wait_beats_every_period() -> None:
    clock = _Clock()
    liveness = Liveness(period_s=0.001, clock=clock)
    liveness.register("loop", allowance_s=1)
    beats = 0
    rounds = asyncio.Event()

    def count() -> None:
        nonlocal beats
        beats += 1
        if beats >= 5:
            rounds.set()

    clock.on_read = count
    work = asyncio.Event()
    waiting = asyncio.create_task(liveness.wait(work, "loop"))
    async with asyncio.timeout(10):
        await rounds.wait()  # gone round several times with nothing to do
        assert not waiting.done()
        work.set()
        await waiting


def test_the_watchdog_interval_is_half_of_watchdogsec() -> None:
    def interval(**env: str) -> float | None:
        notifier = SystemdNotifier(environ=env)
        notifier.close()
        return notifier.watchdog_interval_s

    assert interval(WATCHDOG_USEC="30000000") == 15.0
    assert interval() is None
    assert interval(WATCHDOG_USEC="0") is None
    assert interval(WATCHDOG_USEC="x") is None
    assert interval(WATCHDOG_USEC="30000000", WATCHDOG_PID="1") is None  # not ours


def test_pings_stop_while_a_loop_is_stuck_and_resume_when_it_goes_round(
    tmp_path: Path,
) -> None:
    clock = _Clock()
    liveness = Liveness(clock=clock)
    liveness.register("pipeline", allowance_s=15)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    listener.bind(str(tmp_path / "notify"))
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": str(tmp_path / "notify")})
    watchdog = Watchdog(liveness=liveness, notifier=notifier)

    def pinged() -> bool:
        try:
            return listener.recv(64) == b"WATCHDOG=1"
        except BlockingIOError:
            return False

    try:
        with capture_logs() as logs:
            assert (watchdog.feed(), pinged()) == (True, True)
            clock.now += 16  # the pipeline's loop has not gone round: stuck
            assert (watchdog.feed(), pinged()) == (False, False)
            assert (watchdog.feed(), pinged()) == (False, False)
            liveness.beat("pipeline")
            assert (watchdog.feed(), pinged()) == (True, True)
        # Said once when the pings stop, not at every withheld one.
        assert [(log["event"], log["stale"]) for log in logs] == [
            ("watchdog_withheld", ["pipeline"])
        ]
    finally:
        notifier.close()
        listener.close()


pytestmark = pytest.mark.timeout(60)
