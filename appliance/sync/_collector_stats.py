"""What the collector counts, for the central office's /metrics (Prometheus).

`Collector.stats` returns a `CollectorStats`: counters since the collector started (they
only grow, as Prometheus counters do) and gauges read at that moment. Nothing in it names
a person; stations appear only as counts.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ._collector_queues import LatestRecords, RegisterQueue

STORE_SECONDS_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The upper bounds of the store latency histogram's buckets, in seconds."""


@dataclass(slots=True)
class LatencyHistogram:
    """Store calls' durations in Prometheus' form: cumulative buckets, a sum, a count."""

    bounds: tuple[float, ...] = STORE_SECONDS_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(STORE_SECONDS_BUCKETS) + 1))
    sum_s: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum_s += seconds
        self.count += 1

    def buckets(self) -> list[tuple[float, int]]:
        """(upper bound, calls that took at most that long), the last bound infinite:
        what prometheus_client's HistogramMetricFamily takes as `buckets`."""
        cumulative: list[tuple[float, int]] = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return cumulative

    def copy(self) -> LatencyHistogram:
        return LatencyHistogram(self.bounds, list(self.counts), self.sum_s, self.count)


@dataclass(slots=True)
class CollectorCounters:
    """The counters, kept by the collector as it works."""

    received: Counter[str] = field(default_factory=Counter)
    events_stored: int = 0
    events_duplicate: int = 0
    events_rejected: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    acks_published: int = 0
    resends_requested: int = 0
    store_calls: LatencyHistogram = field(default_factory=LatencyHistogram)
    unread_peak: int = 0


@dataclass(frozen=True, slots=True)
class CollectorStats:
    """One reading of a collector. Counters count since it started; gauges are now."""

    received: dict[str, int]
    """Messages received, by topic kind: register, state, telemetry, device, doctor, and
    `other` for a topic outside the contract."""
    events_stored: int
    """Register events this collector stored (new rows)."""
    events_duplicate: int
    """Register events received again and absorbed (already stored, same hash)."""
    events_rejected: int
    """Register events refused by the check: bad signature, altered, wrong station, or in
    a malformed message (a message refused whole counts one)."""
    flags: dict[str, int]
    """Flags recorded, by kind (bad_signature, altered, wrong_station, malformed,
    unknown_station, chain_break, conflict); a repetition within a minute is not one."""
    dropped: int
    """Register messages dropped on arrival because their station already had its share
    waiting (the station sends them again), and flags beyond the bound of waiting ones."""
    coalesced: int
    """Telemetry, device, state and doctor messages replaced by a newer one of the same
    station (and device) before they were stored."""
    acks_published: int
    resends_requested: int
    store_latency: LatencyHistogram
    """Every store call (a group's ingest, a batch of records): seconds."""
    queue_messages: int
    """Gauge: register messages received and not yet stored (waiting, or being checked)."""
    queue_bytes: int
    """Gauge: their size."""
    records_waiting: int
    """Gauge: telemetry, device, state, doctor and flags waiting to be stored."""
    lag_s: float
    """Gauge: how long the oldest message still waiting has waited (0 when none)."""
    connected: bool
    """Gauge: the MQTT session is up."""
    unread: int
    """Gauge: messages the broker has delivered that the collector has not yet taken
    from its MQTT client. The client's Receive Maximum bounds it, unless the broker
    ignores that (mosquitto before 2.0.13 does, after each PUBACK: docs/deploy-central.md)."""
    unread_peak: int
    """The most `unread` has been since the collector started."""


def snapshot(
    counters: CollectorCounters,
    *,
    register: RegisterQueue,
    records: LatestRecords,
    pieces: Sequence[tuple[int, int, float]],
    connected: bool,
    unread: int,
) -> CollectorStats:
    """A reading: the counters, and the gauges of what waits now (`pieces`: messages,
    bytes and arrival of each piece out to the check or being stored; `unread`: in the
    MQTT client)."""
    waiting = [
        since
        for since in (register.oldest(), records.oldest(), *(since for _, _, since in pieces))
        if since is not None
    ]
    return CollectorStats(
        received=dict(counters.received),
        events_stored=counters.events_stored,
        events_duplicate=counters.events_duplicate,
        events_rejected=counters.events_rejected,
        flags=dict(counters.flags),
        dropped=counters.dropped + records.flags_dropped,
        coalesced=records.coalesced,
        acks_published=counters.acks_published,
        resends_requested=counters.resends_requested,
        store_latency=counters.store_calls.copy(),
        queue_messages=register.messages + sum(messages for messages, _, _ in pieces),
        queue_bytes=register.bytes + sum(size for _, size, _ in pieces),
        records_waiting=len(records),
        lag_s=round(max(0.0, time.monotonic() - min(waiting)), 3) if waiting else 0.0,
        connected=connected,
        unread=unread,
        unread_peak=max(counters.unread_peak, unread),
    )
