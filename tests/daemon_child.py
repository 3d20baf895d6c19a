"""TEST ONLY: `appliance` with one fault a test can inject at run time, for the test that
shows the systemd watchdog noticing a stuck loop (tests/test_daemon.py).

    python -m tests.daemon_child run --config station.toml ...   (`appliance`'s arguments)

SIGUSR1 wedges the watched loop named "pipeline" (the encode-and-print worker): its
bounded wait (`Liveness.wait`, or `Liveness.sleep`) is abandoned for an await that never
ends and never beats, which is the failure the watchdog exists for: a loop stuck in an
unbounded await while the rest of the daemon (its API, the watchdog task itself) goes
on. Everything else is `appliance.cli.main` as the real daemon runs it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from types import FrameType
from typing import Any

from appliance import cli
from appliance.liveness import Liveness

WEDGED_LOOP = "pipeline"

_wait = Liveness.wait
_sleep = Liveness.sleep
_wedge = asyncio.Event()  # bound to the daemon's loop at its first wait
_wedged = False
_loop: asyncio.AbstractEventLoop | None = None


def _on_sigusr1(_signum: int, _frame: FrameType | None) -> None:
    global _wedged  # noqa: PLW0603 - the one bit of state a signal handler can set
    _wedged = True
    if _loop is not None:
        _loop.call_soon_threadsafe(_wedge.set)  # wake a loop idle in its bounded wait


async def _unless_wedged(name: str, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` (the real bounded wait); once wedged, give it up and never return."""
    global _loop  # noqa: PLW0603 - where the signal handler finds the daemon's loop
    if name != WEDGED_LOOP:
        await work
        return
    _loop = asyncio.get_running_loop()
    if _wedged:
        _wedge.set()
    waiting = asyncio.ensure_future(work)
    wedged = asyncio.ensure_future(_wedge.wait())
    try:
        await asyncio.wait({waiting, wedged}, return_when=asyncio.FIRST_COMPLETED)
        if not wedged.done():
            waiting.result()
            return
        waiting.cancel()
        await asyncio.Event().wait()  # stuck: no deadline, no beat (cancellable on SIGTERM)
    finally:
        waiting.cancel()
        wedged.cancel()


async def _wait_unless_wedged(self: Liveness, event: asyncio.Event, name: str) -> None:
    await _unless_wedged(name, _wait(self, event, name))


async def _sleep_unless_wedged(self: Liveness, seconds: float, name: str) -> None:
    await _unless_wedged(name, _sleep(self, seconds, name))


def main() -> None:
    signal.signal(signal.SIGUSR1, _on_sigusr1)
    Liveness.wait = _wait_unless_wedged  # type: ignore[method-assign]
    Liveness.sleep = _sleep_unless_wedged  # type: ignore[method-assign]
    cli.main(sys.argv[1:])


if __name__ == "__main__":
    main()
