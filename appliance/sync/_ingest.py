"""The collector store's ingest, shared by its backends: which events of a batch are new,
duplicated or in conflict, and how far the station's head moves.

It runs inside a backend's write transaction, under the lock on each station of the
batch (see `_store`), through the few operations of `IngestTx`. The head is maximal
after every ingest: the stored event at head+1, if any, does not link. So an ingest can
only move the head if it brings the event at head+1, and the walk that moves it reads
the database only where the new events run out below stored_max.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from appliance.register import Event

from ._store import ChainBreak, Conflict, IngestOutcome, now_text


@dataclass(slots=True)
class StationHead:
    """A station's row as an ingest sees it under the station's lock."""

    head: int
    head_hash: str
    stored_max: int


@dataclass(slots=True)
class _Walk:
    """One station's state through one ingest call (it may carry several of its batches)."""

    state: StationHead
    locked_max: int
    """stored_max when locked: rows at or below it may be in the database."""
    fresh: dict[int, Event] = field(default_factory=dict)
    """Events this call inserts, not yet in the database."""
    links: dict[int, tuple[str, str] | None] = field(default_factory=dict)
    """(prev_hash, hash) of stored rows read during the walk; None: not stored."""
    window: int = 1
    changed: bool = False


class IngestTx(Protocol):
    """What the shared ingest needs inside a backend's write transaction."""

    def lock_stations(self, stations: Sequence[str], seen_at: str) -> dict[str, StationHead]:
        """Create missing station rows, lock them all (in sorted order: no deadlock
        between collectors), set their last_seen, and return their heads."""
        ...

    def stored_hashes(self, station: str, low: int, high: int) -> dict[int, str]: ...

    def stored_links(self, station: str, low: int, high: int) -> dict[int, tuple[str, str]]:
        """seq -> (prev_hash, hash) of the stored rows in [low, high]."""
        ...

    def insert_events(self, events: Sequence[Event]) -> None:
        """Insert rows known to be new (the station locks guarantee it)."""
        ...

    def update_heads(self, heads: Mapping[str, StationHead]) -> None: ...


_WINDOW_MAX: Final = 4096


def ingest_batches(
    tx: IngestTx, batches: Sequence[tuple[str, Sequence[Event]]]
) -> list[IngestOutcome]:
    """The ingest algorithm, inside the backend's write transaction."""
    for station, events in batches:
        for event in events:
            if event.station != station:
                raise ValueError(f"event {event.station}#{event.seq} in a batch of {station}")
            if event.seq < 1:
                raise ValueError(f"event {station}#{event.seq}: sequence numbers start at 1")
    stations = sorted({station for station, _ in batches})
    heads = tx.lock_stations(stations, now_text())
    walks = {
        station: _Walk(state=heads[station], locked_max=heads[station].stored_max)
        for station in stations
    }
    outcomes = [_ingest_one(tx, station, events, walks[station]) for station, events in batches]
    tx.insert_events([event for walk in walks.values() for event in walk.fresh.values()])
    tx.update_heads({station: walk.state for station, walk in walks.items() if walk.changed})
    return outcomes


def _ingest_one(tx: IngestTx, station: str, events: Sequence[Event], walk: _Walk) -> IngestOutcome:
    state = walk.state
    previous = state.head
    stored = duplicates = 0
    conflicts: list[Conflict] = []
    known: dict[int, str] = {}
    if events:
        low = min(event.seq for event in events)
        high = min(max(event.seq for event in events), walk.locked_max)
        if low <= high:
            known = tx.stored_hashes(station, low, high)
    for event in events:
        earlier = walk.fresh.get(event.seq)
        stored_hash = earlier.hash if earlier is not None else known.get(event.seq)
        if stored_hash is None:
            walk.fresh[event.seq] = event
            state.stored_max = max(state.stored_max, event.seq)
            walk.changed = True
            stored += 1
        elif stored_hash == event.hash:
            duplicates += 1
        else:
            conflicts.append(Conflict(event.seq, stored_hash, event.hash))
    link = _link_at(tx, station, walk, state.head + 1)
    while link is not None and link[0] == state.head_hash:
        state.head += 1
        state.head_hash = link[1]
        walk.changed = True
        link = _link_at(tx, station, walk, state.head + 1)
    chain_break = None if link is None else ChainBreak(state.head + 1, state.head_hash, link[0])
    return IngestOutcome(
        station=station,
        head=state.head,
        previous_head=previous,
        stored=stored,
        duplicates=duplicates,
        conflicts=tuple(conflicts),
        chain_break=chain_break,
        gap_from=state.head + 1 if state.stored_max > state.head else None,
    )


def _link_at(tx: IngestTx, station: str, walk: _Walk, seq: int) -> tuple[str, str] | None:
    event = walk.fresh.get(seq)
    if event is not None:
        return event.prev_hash, event.hash
    if seq > walk.locked_max:
        return None
    if seq not in walk.links:
        # Mostly a single look-up (is a non-linking event stuck at head+1?); a gap just
        # filled in front of many stored events reads them in growing windows.
        high = min(seq + walk.window - 1, walk.locked_max)
        found = tx.stored_links(station, seq, high)
        walk.links.update((number, found.get(number)) for number in range(seq, high + 1))
        walk.window = min(walk.window * 8, _WINDOW_MAX)
    return walk.links[seq]
