"""Live events: each register event, as it becomes durable, to whoever listens (the
officers' screens, the waiting-room board) over server-sent events, each audience seeing
its own projection of it (`_projection`), made before the fan-out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from appliance.register import Event, Register

from ._projection import PROJECTIONS, Audience

_QUEUE: Final = 1024


class LiveEvents:
    def __init__(self, *, register: Register) -> None:
        self._subscribers: dict[Audience, set[asyncio.Queue[str | None]]] = {
            audience: set() for audience in Audience
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        register.add_listener(self._on_events)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _on_events(self, events: Sequence[Event]) -> None:
        # In the appending thread: project only for audiences someone listens as.
        loop = self._loop
        if loop is None:
            return
        lines: dict[Audience, list[str]] = {}
        for audience, queues in self._subscribers.items():
            if not queues:
                continue
            project = PROJECTIONS[audience]
            seen = [_sse(body) for event in events if (body := project(event)) is not None]
            if seen:
                lines[audience] = seen
        if lines:
            loop.call_soon_threadsafe(self._fan_out, lines)

    def _fan_out(self, lines: dict[Audience, list[str]]) -> None:
        for audience, batch in lines.items():
            subscribers = self._subscribers[audience]
            for queue in list(subscribers):
                if queue.qsize() + len(batch) > _QUEUE:
                    # A screen that stopped reading is dropped, not waited for: its stream
                    # ends, and it reconnects and reads the state afresh.
                    subscribers.discard(queue)
                    while not queue.empty():
                        queue.get_nowait()
                    queue.put_nowait(None)
                    continue
                for line in batch:
                    queue.put_nowait(line)

    def close(self) -> None:
        """End every stream, and any opened from now on: the station is stopping, and an
        open stream would hold the server's shutdown until its grace period ran out."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for queue in subscribers:
                queue.put_nowait(None)
            subscribers.clear()

    async def stream(self, audience: Audience) -> AsyncIterator[str]:
        """Server-sent events for `audience`, from the moment of the call."""
        queue: asyncio.Queue[str | None] = asyncio.Queue()  # bounded by _fan_out
        subscribers = self._subscribers[audience]
        if self._closed:
            queue.put_nowait(None)
        else:
            subscribers.add(queue)
        try:
            yield ": connected\n\n"
            while (line := await queue.get()) is not None:
                yield line
        finally:
            subscribers.discard(queue)


def _sse(body: dict[str, Any]) -> str:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"id: {body['seq']}\nevent: {body['type']}\ndata: {data}\n\n"
