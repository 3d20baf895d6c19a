"""Live events: each register event, as it becomes durable, to whoever listens (the
officers' screens, the waiting-room board) over server-sent events, each audience seeing
its own projection of it (`_projection`), made before the fan-out.

Screens listen by topic instead (`topics`): a topic names what changed ("queue",
"applications", "devices"), and the screen fetches the part of its page that shows it.
Topics come from the register's events and from `signal`, for what the register does not
hold (a device's state)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Final

from appliance.register import Event, Register

from ._projection import PROJECTIONS, Audience

_QUEUE: Final = 1024

_Item = tuple[str, int, str | None]
"""(a register event's type or a signal's topic, its sequence number, the event's SSE
text; None for a signal)."""


class LiveEvents:
    def __init__(self, *, register: Register) -> None:
        self._subscribers: dict[Audience, set[asyncio.Queue[_Item | None]]] = {
            audience: set() for audience in Audience
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._next_signal = 0
        register.add_listener(self._on_events)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _on_events(self, events: Sequence[Event]) -> None:
        # In the appending thread: project only for audiences someone listens as.
        loop = self._loop
        if loop is None:
            return
        items: dict[Audience, list[_Item]] = {}
        for audience, queues in self._subscribers.items():
            if not queues:
                continue
            project = PROJECTIONS[audience]
            seen: list[_Item] = [
                (event.type, event.seq, _sse(body))
                for event in events
                if (body := project(event)) is not None
            ]
            if seen:
                items[audience] = seen
        if items:
            loop.call_soon_threadsafe(self._fan_out, items)

    def signal(self, topic: str, audiences: Iterable[Audience]) -> None:
        """Tell the screens of `audiences` that `topic` changed; callable from any thread."""
        loop = self._loop
        if loop is None:
            return
        self._next_signal += 1
        items: dict[Audience, list[_Item]] = {
            audience: [(topic, self._next_signal, None)] for audience in audiences
        }
        loop.call_soon_threadsafe(self._fan_out, items)

    def _fan_out(self, items: dict[Audience, list[_Item]]) -> None:
        for audience, batch in items.items():
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
                for item in batch:
                    queue.put_nowait(item)

    def close(self) -> None:
        """End every stream, and any opened from now on: the station is stopping, and an
        open stream would hold the server's shutdown until its grace period ran out."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for queue in subscribers:
                queue.put_nowait(None)
            subscribers.clear()

    async def _items(self, audience: Audience, greeting: str) -> AsyncIterator[_Item | str]:
        """`greeting` first, then the audience's items. Subscribed before the greeting
        goes out: a screen that reads the state on its greeting misses nothing after."""
        queue: asyncio.Queue[_Item | None] = asyncio.Queue()  # bounded by _fan_out
        subscribers = self._subscribers[audience]
        if self._closed:
            queue.put_nowait(None)
        else:
            subscribers.add(queue)
        try:
            yield greeting
            while (item := await queue.get()) is not None:
                yield item
        finally:
            subscribers.discard(queue)

    async def stream(self, audience: Audience) -> AsyncIterator[str]:
        """Server-sent events for `audience`, from the moment of the call: one per
        register event, its projection as the data. Signals are not in it."""
        async for item in self._items(audience, ": connected\n\n"):
            if isinstance(item, str):
                yield item
            elif item[2] is not None:
                yield item[2]

    async def topics(
        self, audience: Audience, topic_of: Callable[[str], str | None]
    ) -> AsyncIterator[str]:
        """Server-sent events for a screen of `audience`: `event: <topic>` for each
        register event that `topic_of` maps to one, and for each signal; the data is only
        a counter (the screen fetches what changed). Starts with `event: connected`, so a
        screen that reconnects after a restart refreshes everything."""
        async for item in self._items(audience, "event: connected\ndata: 0\n\n"):
            if isinstance(item, str):
                yield item
                continue
            kind, seq, line = item
            topic = kind if line is None else topic_of(kind)  # a signal names its topic
            if topic is not None:
                yield f"event: {topic}\ndata: {seq}\n\n"


def _sse(body: dict[str, Any]) -> str:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"id: {body['seq']}\nevent: {body['type']}\ndata: {data}\n\n"
