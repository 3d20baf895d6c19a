"""The loops the systemd watchdog vouches for.

A loop that is waiting for work is alive; a loop stuck in a call that never returns is
not, and neither is an event loop blocked by a careless synchronous call. So each loop
`beat`s every time it goes round, and its waits are bounded (`wait`, `sleep`) so that it
goes round at least every `period_s` even when there is nothing to do. The watchdog is
fed only while every loop has beaten within its allowance: a stuck loop stops the pings,
and systemd restarts the station.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from appliance.logs import get_logger
from appliance.notify import SystemdNotifier

log = get_logger(__name__)

DEFAULT_PERIOD_S: Final = 5.0


class Liveness:
    def __init__(
        self,
        *,
        period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period_s = period_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._allowance: dict[str, float] = {}

    def register(self, name: str, *, allowance_s: float) -> None:
        """Watch loop `name`: stale once it has not beaten for `allowance_s` (longer than
        the longest bounded call it makes between beats)."""
        self._allowance[name] = allowance_s
        self._last[name] = self._clock()

    def beat(self, name: str) -> None:
        if name in self._last:
            self._last[name] = self._clock()

    def stale(self) -> list[str]:
        """The loops that have not beaten within their allowance."""
        now = self._clock()
        return sorted(
            name for name, last in self._last.items() if now - last > self._allowance[name]
        )

    async def wait(self, event: asyncio.Event, name: str) -> None:
        """Wait for `event`, beating at least every `period_s` meanwhile."""
        while True:
            self.beat(name)
            try:
                async with asyncio.timeout(self.period_s):
                    await event.wait()
            except TimeoutError:
                continue
            self.beat(name)
            return

    async def sleep(self, seconds: float, name: str) -> None:
        """Sleep, beating at least every `period_s` meanwhile."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            self.beat(name)
            await asyncio.sleep(min(left, self.period_s))
        self.beat(name)


class Watchdog:
    """systemd's watchdog, fed only while every watched loop goes round: a stuck loop,
    or an event loop blocked by a synchronous call, stops the pings, and systemd
    restarts the station."""

    def __init__(self, *, liveness: Liveness, notifier: SystemdNotifier) -> None:
        self._liveness = liveness
        self._notifier = notifier
        self._withheld: list[str] = []

    def feed(self) -> bool:
        """Ping if every loop is alive; True if it pinged."""
        stale = self._liveness.stale()
        if stale and stale != self._withheld:
            log.error("watchdog_withheld", stale=stale)
        self._withheld = stale
        if stale:
            return False
        self._notifier.watchdog()
        return True

    async def run(self, interval_s: float) -> None:
        while True:
            self.feed()
            await asyncio.sleep(interval_s)
