"""The collector's flags for the operations room: what a station sent that the collector
could not take, each fault flagged once a minute, not once a message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from appliance.logs import get_logger

from ._bounds import printable
from ._collector_queues import LatestRecords
from ._collector_stats import CollectorCounters
from ._store import Flag, IngestOutcome

log = get_logger(__name__)

UNKNOWN_STATION: Final = "unknown_station"
CHAIN_BREAK: Final = "chain_break"
CONFLICT: Final = "conflict"

_REPEAT_S: Final = 60.0
_MEMORY: Final = 10_000


class Flagger:
    def __init__(
        self, *, records: LatestRecords, counters: CollectorCounters, now: Callable[[], str]
    ) -> None:
        """Flags go to `records` (stored with the next batch of records) and are counted
        in `counters`; `now` stamps them with the collector's clock."""
        self._records = records
        self._counters = counters
        self._now = now
        self._flagged_at: dict[tuple[str, str, int | None, str], float] = {}

    def flag(self, station: str, kind: str, seq: int | None, detail: str) -> None:
        # A station repeating the same fault (a forged event it keeps being asked for)
        # is flagged once a minute, not once a message.
        now = time.monotonic()
        detail = printable(detail[:300])  # it may quote the network's text
        key = (station, kind, seq, detail)
        if now - self._flagged_at.get(key, -1e9) < _REPEAT_S:
            return
        if len(self._flagged_at) >= _MEMORY:  # a flood: forget what is past its minute
            recent = {k: t for k, t in self._flagged_at.items() if now - t < _REPEAT_S}
            self._flagged_at = recent
        self._flagged_at[key] = now
        log.warning("station_flagged", station=station, kind=kind, seq=seq, detail=detail)
        self._counters.flags[kind] += 1
        flag = Flag(station=station, kind=kind, seq=seq, detail=detail, at=self._now())
        self._records.flag(flag, now)

    def outcome(self, outcome: IngestOutcome) -> None:
        """What the store found when it took a station's events: its chain broken, or
        its history forked."""
        if outcome.chain_break is not None:
            broken = outcome.chain_break
            self.flag(
                outcome.station,
                CHAIN_BREAK,
                broken.seq,
                f"links to {broken.prev_hash[:16]}…, the stored seq {broken.seq - 1} "
                f"is {broken.expected_prev_hash[:16]}…",
            )
        for conflict in outcome.conflicts:
            self.flag(
                outcome.station,
                CONFLICT,
                conflict.seq,
                f"stored as {conflict.stored_hash[:16]}…, received as "
                f"{conflict.received_hash[:16]}…: the station's history forked",
            )
