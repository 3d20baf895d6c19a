"""What waits inside the collector, bounded per station so that one station cannot starve
the others.

- Register messages wait in one queue per station, and are taken round-robin: a station
  that sends a thousand messages gets one in the next group, like every other station
  with something waiting. Each station may have `per_station` messages waiting; past
  that its messages are dropped (and counted), which loses nothing, since the station
  sends again whatever is not acknowledged. All of them together are bounded in bytes;
  past that the collector stops taking messages from the broker, which keeps them.
- Telemetry, device status, state and doctor reports are only ever needed as the latest
  of each: one slot per (station, kind, device), replaced by a newer message before it
  is stored (`coalesced`). A slot keeps its place in the line when it is replaced, so a
  station that floods moves no closer to the front. Device names are bounded per
  station, flags waiting in all.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ._store import Flag

_MAX_FLAGS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Waiting:
    """A register message received and not yet checked."""

    station: str
    payload: bytes
    since: float
    """When it arrived (monotonic seconds)."""


class RegisterQueue:
    def __init__(self, *, per_station: int, max_bytes: int) -> None:
        self._per_station = per_station
        self._max_bytes = max_bytes
        # The ring: stations with something waiting, in the order they are served.
        self._stations: dict[str, deque[Waiting]] = {}
        self._bytes = 0
        self._count = 0
        self._changed = asyncio.Event()

    @property
    def messages(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def full(self) -> bool:
        return self._bytes >= self._max_bytes

    def oldest(self) -> float | None:
        """When the oldest waiting message arrived (monotonic), None when none waits."""
        return min((line[0].since for line in self._stations.values()), default=None)

    def offer(self, message: Waiting) -> bool:
        """Queue `message`; False when its station already has its share waiting."""
        line = self._stations.get(message.station)
        if line is None:
            line = self._stations[message.station] = deque()
        elif len(line) >= self._per_station:
            return False
        line.append(message)
        self._bytes += len(message.payload)
        self._count += 1
        self._signal()
        return True

    async def room(self) -> None:
        """Until the queue is below its bound in bytes."""
        while self.full:
            await self._wait()

    async def take(self, max_bytes: int) -> list[Waiting]:
        """At least one message, and as many more as are waiting up to `max_bytes`, one
        station's message after another's."""
        while not self._stations:
            await self._wait()
        taken: list[Waiting] = []
        size = 0
        while self._stations and size < max_bytes:
            station = next(iter(self._stations))
            line = self._stations.pop(station)
            message = line.popleft()
            if line:
                self._stations[station] = line  # to the back of the ring
            taken.append(message)
            size += len(message.payload)
        self._bytes -= size
        self._count -= len(taken)
        self._signal()
        return taken

    def _signal(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _wait(self) -> None:
        await self._changed.wait()


@dataclass(frozen=True, slots=True)
class Record:
    """The latest message of one kind from one station, waiting to be stored."""

    station: str
    kind: str
    """state, telemetry, device or doctor."""
    name: str | None
    """The device's name."""
    document: dict[str, Any]
    at: str
    since: float


class LatestRecords:
    def __init__(self, *, devices_per_station: int) -> None:
        self._devices_per_station = devices_per_station
        self._latest: dict[tuple[str, str, str | None], Record] = {}
        self._devices: dict[str, set[str]] = {}
        self._flags: deque[tuple[Flag, float]] = deque()
        self._ready = asyncio.Event()
        self.coalesced = 0
        """Records replaced by a newer one before they were stored."""
        self.flags_dropped = 0
        """Flags not stored because too many were waiting."""

    def __len__(self) -> int:
        return len(self._latest) + len(self._flags)

    def oldest(self) -> float | None:
        records = (record.since for record in self._latest.values())
        flags = (since for _, since in self._flags)
        return min((*records, *flags), default=None)

    def device_allowed(self, station: str, name: str) -> bool:
        """A device name already seen, or one more within the station's bound."""
        names = self._devices.setdefault(station, set())
        if name in names:
            return True
        if len(names) >= self._devices_per_station:
            return False
        names.add(name)
        return True

    def put(self, record: Record) -> None:
        key = (record.station, record.kind, record.name)
        if key in self._latest:
            self.coalesced += 1
        self._latest[key] = record  # a replaced slot keeps its place
        self._ready.set()

    def flag(self, flag: Flag, since: float) -> None:
        if len(self._flags) >= _MAX_FLAGS:
            self.flags_dropped += 1
            return
        self._flags.append((flag, since))
        self._ready.set()

    def restore(self, flags: list[Flag], records: list[Record], since: float) -> None:
        """Put back what a store call that failed had taken, unless a newer record has
        taken its slot meanwhile."""
        self._flags.extendleft((flag, since) for flag in reversed(flags))
        for record in records:
            self._latest.setdefault((record.station, record.kind, record.name), record)
        if self:
            self._ready.set()

    async def take(self, limit: int) -> tuple[list[Flag], list[Record]]:
        """What waits, flags first, up to `limit` of each, the oldest first."""
        while not self._latest and not self._flags:
            self._ready.clear()
            await self._ready.wait()
        flags = [self._flags.popleft()[0] for _ in range(min(limit, len(self._flags)))]
        records = list(_first(self._latest, limit))
        for record in records:
            del self._latest[(record.station, record.kind, record.name)]
        return flags, records


def _first(latest: dict[Any, Record], limit: int) -> Iterator[Record]:
    for count, record in enumerate(latest.values()):
        if count >= limit:
            return
        yield record
