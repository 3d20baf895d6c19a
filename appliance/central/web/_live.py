"""The dashboard's live feed: server-sent events naming what changed, never the data.

The status keeper and the alert keeper may run in other processes, so a change is seen
in the database: one poller per dashboard process reads two small markers every
`interval_s` (the status rows' count and latest update; the alerts' count, latest id,
acknowledgement and closing) and, when one moved, tells every open page its topic
(`status`, `alerts`). The page then fetches its part, through the same routes and scope
checks as any request: the feed itself carries nothing a user could not see.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Final

from appliance.logs import get_logger

from .._database import Database

log = get_logger(__name__)

STATUS: Final = "status"
ALERTS: Final = "alerts"
_STATUS_MARKER: Final = "SELECT COUNT(*), MAX(updated_at) FROM station_status"
_ALERTS_MARKER: Final = "SELECT COUNT(*), MAX(id), MAX(acknowledged_at), MAX(closed_at) FROM alerts"

Markers = Callable[[], dict[str, object]]


def database_markers(database: Database) -> Markers:
    """The markers of the status and alerts tables in `database`."""

    def markers() -> dict[str, object]:
        with database.read() as cur:
            cur.execute(_STATUS_MARKER)
            status = tuple(cur.fetchone())
            cur.execute(_ALERTS_MARKER)
            alerts = tuple(cur.fetchone())
        return {STATUS: status, ALERTS: alerts}

    return markers


class _Listener:
    """One open page: the topics it has not been told yet (a set: a slow page's
    repeated changes are coalesced, never queued without end)."""

    def __init__(self) -> None:
        self.pending: dict[str, None] = {}
        self.closed = False
        self.wake = asyncio.Event()


class LiveFeed:
    def __init__(self, *, markers: Markers, interval_s: float = 2.0) -> None:
        self._markers = markers
        self._interval_s = interval_s
        self._listeners: set[_Listener] = set()
        self._last: dict[str, object] | None = None
        self._stopped = False

    async def run(self) -> None:
        """Poll until cancelled; a failed read is logged and tried again next time."""
        try:
            while True:
                try:
                    now = await asyncio.to_thread(self._markers)
                except Exception:
                    log.warning("dashboard.live_poll_failed", exc_info=True)
                else:
                    if self._last is not None:
                        for topic, marker in now.items():
                            if self._last.get(topic) != marker:
                                self._tell(topic)
                    self._last = now
                await asyncio.sleep(self._interval_s)
        finally:
            self.stop()

    def stop(self) -> None:
        """End every open stream, and any opened from now on after its first event
        (the server is stopping)."""
        self._stopped = True
        for listener in self._listeners:
            listener.closed = True
            listener.wake.set()

    async def stream(self) -> AsyncIterator[str]:
        """`event: connected` first (the page fetches everything), then a topic per
        change."""
        listener = _Listener()
        if self._stopped:
            listener.closed = True
            listener.wake.set()
        self._listeners.add(listener)
        try:
            yield "retry: 2000\nevent: connected\ndata: 0\n\n"
            while True:
                await listener.wake.wait()
                listener.wake.clear()
                if listener.closed:
                    return
                topics, listener.pending = list(listener.pending), {}
                for topic in topics:
                    yield f"event: {topic}\ndata: 0\n\n"
        finally:
            self._listeners.discard(listener)

    def _tell(self, topic: str) -> None:
        for listener in self._listeners:
            listener.pending[topic] = None
            listener.wake.set()
