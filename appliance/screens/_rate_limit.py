"""A limit on how often one client may do something: at most `limit` times in any
`window_s` seconds (a sliding window), kept in memory.

The kiosk takes tickets without a sign-in, so a child at the touch screen (or a script on
the office's LAN) could empty the printer's roll and fill the queue with numbers nobody
holds. Time is the host's monotonic clock in real seconds, also when the station's own
clock is scaled for a demo: the limit is about people's pace, not the simulated day's.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

DEFAULT_CLIENTS: Final = 1024
"""Clients remembered at most; beyond it the one seen least recently is forgotten (an
office has a handful of kiosks: this only bounds the memory)."""


class RateLimit:
    def __init__(
        self,
        *,
        limit: int,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        clients: int = DEFAULT_CLIENTS,
    ) -> None:
        if limit < 1 or window_s <= 0 or clients < 1:
            raise ValueError("limit and clients must be at least 1, window_s positive")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._clients = clients
        self._taken: OrderedDict[str, deque[float]] = OrderedDict()

    def take(self, client: str) -> bool:
        """Count one for `client` if it is under the limit; False (nothing counted) if
        it is not."""
        now = self._clock()
        taken = self._recent(client, now)
        if len(taken) >= self.limit:
            return False
        taken.append(now)
        return True

    def give_back(self, client: str) -> None:
        """Undo the last `take` of `client`: what it was for did not happen."""
        taken = self._taken.get(client)
        if taken:
            taken.pop()

    def retry_after_s(self, client: str) -> float:
        """Seconds until `client` may take one again (0 if it may now)."""
        now = self._clock()
        taken = self._recent(client, now)
        if len(taken) < self.limit:
            return 0.0
        return max(0.0, taken[0] + self.window_s - now)

    def _recent(self, client: str, now: float) -> deque[float]:
        """`client`'s takes within the window, oldest first (older ones dropped)."""
        taken = self._taken.get(client)
        if taken is None:
            taken = self._taken[client] = deque()
            while len(self._taken) > self._clients:
                self._taken.popitem(last=False)
        else:
            self._taken.move_to_end(client)
        while taken and taken[0] <= now - self.window_s:
            taken.popleft()
        return taken
