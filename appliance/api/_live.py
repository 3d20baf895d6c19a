"""Live events: every register event, as it becomes durable, to whoever listens (the
officers' screens over server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Final

from appliance.register import Event, Register

_QUEUE: Final = 1024


class LiveEvents:
    def __init__(self, *, register: Register) -> None:
        self._subscribers: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        register.add_listener(self._on_events)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _on_events(self, events: Sequence[Event]) -> None:
        loop = self._loop
        if loop is None or not self._subscribers:
            return
        lines = [_sse(event) for event in events]
        loop.call_soon_threadsafe(self._fan_out, lines)

    def _fan_out(self, lines: list[str]) -> None:
        for queue in list(self._subscribers):
            if queue.qsize() + len(lines) > _QUEUE:
                # A screen that stopped reading is dropped, not waited for: its stream ends,
                # and it reconnects and reads the state afresh.
                self._subscribers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)
                continue
            for line in lines:
                queue.put_nowait(line)

    def close(self) -> None:
        """End every stream, and any opened from now on: the station is stopping, and an
        open stream would hold the server's shutdown until its grace period ran out."""
        self._closed = True
        for queue in self._subscribers:
            queue.put_nowait(None)
        self._subscribers.clear()

    async def stream(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()  # bounded by _fan_out
        if self._closed:
            queue.put_nowait(None)
        else:
            self._subscribers.add(queue)
        try:
            yield ": connected\n\n"
            while (line := await queue.get()) is not None:
                yield line
        finally:
            self._subscribers.discard(queue)


def _sse(event: Event) -> str:
    body = json.dumps(
        {
            "seq": event.seq,
            "type": event.type,
            "app": event.app,
            "ts": event.ts,
            "data": event.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f"id: {event.seq}\nevent: {event.type}\ndata: {body}\n\n"
