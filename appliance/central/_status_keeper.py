"""`StatusKeeper`: keeps `station_status` (`_status`) from the collector store.

Every `interval_s` it asks the collector store which stations changed (`changed_since`,
windows overlapping by a few seconds: several collectors write with their own clocks)
and recomputes their rows; at most every
`full_every_s` it recomputes every row, for what changes with time alone (today's
counts at midnight, complaints passing their deadline, a station silent for days, the
quarter's IKM). A row's event figures are a fold (`_facts`) kept in the row itself, so
a station's new events are read once, by whichever central process gets to them, and a
pass reads at most `max_events` events in all and folds a station at most every
`station_interval_s`: what is left is taken up by the next pass.

Several central processes may keep the rows of one database at once: each computes a
row from the same store, and writes it whole with an upsert; the fold's state and the
seq it has read through are written together, so a row written by a slower process
never counts an event twice, and the next pass carries on from it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from appliance.clock import Clock, wall_datetime
from appliance.domain import WorkingCalendar
from appliance.logs import get_logger
from appliance.register import Event
from appliance.sync import CollectorStore, StationOverview, StoreError
from appliance.sync._store import utc_text

from ._database import Database
from ._facts import FactsState, days_left, facts, fold, window_start
from ._fleet import Fleet, FleetSection
from ._status import UPSERT, StationStatus, delete_rows, kept_rows, migrate, status_row

log = get_logger(__name__)

_READY_STATES: Final = frozenset({"READY", "BUSY"})
_ERROR: Final = "ERROR"
_OVERLAP: Final = timedelta(seconds=10)
_FLAP_WINDOW: Final = timedelta(hours=24)
_STATE_WINDOW: Final = timedelta(days=7)
_EPOCH: Final = "1970-01-01T00:00:00.000000Z"


@dataclass(frozen=True, slots=True)
class _Kept:
    """A row as the keeper wrote it last: the status, and its fold (as kept, and read)."""

    status: StationStatus
    facts_json: str | None
    facts: FactsState | None


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did (for logs and tests)."""

    full: bool
    rows: int
    """Rows written (those that changed)."""
    events: int
    """Events folded."""
    pending: int
    """Stations whose new events wait for a later pass (budget, rate limit)."""


class StatusKeeper:
    """Keeps `station_status` from the collector store. Give it a store of its own (a
    store object is used by one thread at a time, and the collector has its own)."""

    def __init__(
        self,
        *,
        store: CollectorStore,
        database: Database,
        fleet: Fleet,
        clock: Clock,
        hours: FleetSection | None = None,
        interval_s: float = 5.0,
        full_every_s: float = 60.0,
        station_interval_s: float = 10.0,
        max_events: int = 50_000,
        max_events_per_station: int = 10_000,
    ) -> None:
        self._store = store
        self._database = database
        self._fleet = fleet
        self._clock = clock
        self._hours = hours or FleetSection()
        self._interval_s = interval_s
        self._full_every = timedelta(seconds=full_every_s)
        self._station_interval_ns = int(station_interval_s * 1e9)
        self._max_events = max_events
        self._max_events_per_station = max_events_per_station
        self._last_full: datetime | None = None
        self._watermark: str | None = None
        self._pending: set[str] = set()
        self._computed: dict[str, tuple[str | None, int, int]] = {}
        """What each station's row was last computed from (`_seen`)."""
        self._folded_at: dict[str, int] = {}
        self._calendars: dict[str, WorkingCalendar] = {}
        self.passes = 0
        """Passes `run` has made (failed ones too)."""
        self._passed = asyncio.Event()
        migrate(database)

    async def run(self) -> None:
        """A pass every `interval_s` until cancelled, each on a thread of its own (the
        store and the database block); a failing store is logged and tried again."""
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(1, thread_name_prefix="status-keeper")
        try:
            while True:
                try:
                    report = await loop.run_in_executor(thread, self.refresh)
                    if report.rows:
                        log.debug("status_pass", **asdict(report))
                except StoreError as exc:
                    log.warning("status_pass_failed", error=str(exc))
                self.passes += 1
                passed, self._passed = self._passed, asyncio.Event()
                passed.set()
                await asyncio.sleep(self._interval_s)
        finally:
            # A pass under way finishes on its thread; the loop does not wait for it.
            thread.shutdown(wait=False, cancel_futures=True)

    async def wait_passes(self, count: int) -> None:
        """Until `run` has made `count` passes in all (bound it with asyncio.timeout)."""
        while self.passes < count:
            await self._passed.wait()

    def refresh(self, now: datetime | None = None) -> PassReport:
        """One pass at `now` (default: the clock's): the changed stations' rows, or every
        row when a full pass is due."""
        now = now or wall_datetime(self._clock)
        full = self._last_full is None or now - self._last_full >= self._full_every
        store = self._store
        if full:
            overviews = store.overview()
        else:
            changed = set(self._pending)
            if self._watermark is not None:
                since = datetime.fromisoformat(self._watermark) - _OVERLAP
                changed.update(store.changed_since(utc_text(since.isoformat())))
            overviews = store.overview(sorted(changed)) if changed else []
            # The windows overlap: a station seen again only in the overlap is as it was.
            overviews = [
                o
                for o in overviews
                if o.station in self._pending or self._computed.get(o.station) != _seen(o)
            ]
            if not overviews:
                return PassReport(full=False, rows=0, events=0, pending=0)
        stations = [o.station for o in overviews]
        if full:  # registered stations never heard of have a row too
            known = set(stations)
            stations += [s.id for s in self._fleet.stations if s.id not in known]
        kept = self._kept(None if full else stations)
        if full:  # rows of stations neither heard of nor registered any more
            gone = sorted(set(kept) - set(stations))
            if gone:
                delete_rows(self._database, gone)
        flaps = store.flaps(utc_text((now - _FLAP_WINDOW).isoformat()))
        budget = self._max_events
        pending: set[str] = set()
        rows = []
        at = utc_text(now.isoformat())
        by_station = {o.station: o for o in overviews}
        for station in stations:
            overview = by_station.get(station)
            previous = kept.get(station)
            state, used, caught_up = self._fold(station, overview, previous, now, budget)
            budget -= used
            if not caught_up:
                pending.add(station)
            status = self._status(station, overview, previous, state, flaps, now, at)
            row = status_row(status, state)
            # A row is written when it changes: `updated_at` says when it last did, and
            # the dashboard's live view wakes only then.
            if (
                previous is None
                or row[-1] != previous.facts_json
                or (replace(status, updated_at=previous.status.updated_at) != previous.status)
            ):
                rows.append(row)
        self._write(rows)
        if full:
            self._last_full = now
        seen = [o.last_seen for o in overviews if o.last_seen]
        if seen:
            self._watermark = max([*seen, *([self._watermark] if self._watermark else [])])
        self._pending = pending
        self._computed.update((o.station, _seen(o)) for o in overviews)
        return PassReport(
            full=full, rows=len(rows), events=self._max_events - budget, pending=len(pending)
        )

    # -- reading and folding ------------------------------------------------------------

    def _kept(self, stations: Sequence[str] | None) -> dict[str, _Kept]:
        return {
            station: _Kept(
                status=status,
                facts_json=facts_json,
                facts=None if facts_json is None else FactsState.from_json(facts_json),
            )
            for station, (status, facts_json) in kept_rows(self._database, stations).items()
        }

    def _fold(
        self,
        station: str,
        overview: StationOverview | None,
        previous: _Kept | None,
        now: datetime,
        budget: int,
    ) -> tuple[FactsState | None, int, bool]:
        """The station's fold brought up to its head as far as the budget and the rate
        limit allow: (state, events read, caught up)."""
        zone = self._fleet.zone_of(station)
        state = previous.facts if previous is not None else None
        if state is not None and state.zone != zone.key:
            state = None  # the fleet file moved it to another zone: count its days again
        head = overview.head if overview is not None else 0
        if state is not None and state.through_seq >= head:
            return state, 0, True
        if head == 0:
            return state, 0, True
        mono = self._clock.monotonic_ns()
        folded_at = self._folded_at.get(station)
        if budget <= 0 or (
            state is not None
            and folded_at is not None
            and mono - folded_at < self._station_interval_ns
        ):
            return state, 0, False
        self._folded_at[station] = mono
        events: Iterator[Event]
        if state is None:
            start = window_start(now, zone)
            state = FactsState.start(zone, start.date())
            events = self._store.events_since(station, utc_text(start.isoformat()))
        else:
            events = self._store.events(station, after=state.through_seq)
        limit = min(budget, self._max_events_per_station)
        taken = list(itertools.islice(itertools.takewhile(lambda e: e.seq <= head, events), limit))
        state = fold(state, taken)
        caught_up = len(taken) < limit
        if caught_up and state.through_seq < head:
            # Nothing more up to the head within the window: the state is through it.
            state = replace(state, through_seq=head)
        return state, len(taken), caught_up

    # -- a row ----------------------------------------------------------------------------

    def _status(  # noqa: PLR0917 - one row's inputs, private
        self,
        station: str,
        overview: StationOverview | None,
        previous: _Kept | None,
        state: FactsState | None,
        flaps: Mapping[str, int],
        now: datetime,
        at: str,
    ) -> StationStatus:
        registered = self._fleet.get(station)
        telemetry = _part(overview.telemetry if overview else None)
        uplink = _part(telemetry.get("uplink"))
        disk = _part(telemetry.get("disk"))
        blanks = _part(telemetry.get("blanks"))
        available = _int(blanks.get("available"))
        devices = self._devices(overview, telemetry)
        fault = tuple(sorted(name for name, st in devices.items() if st not in _READY_STATES))
        error_since = None
        if overview is not None:
            since = [overview.device_since.get(n) for n, st in devices.items() if st == _ERROR]
            known = [s for s in since if s]
            error_since = min(known) if known else None
        figures = None
        if state is not None:
            zone = ZoneInfo(state.zone)
            figures = facts(state, now, self._calendar(zone))
        use = figures.blanks_daily_use if figures else None
        online = overview.online if overview else None
        forgery = overview.last_forgery if overview else None
        return StationStatus(
            station=station,
            district=registered.district if registered else "",
            regency=registered.regency if registered else "",
            province=registered.province if registered else "",
            name=registered.name if registered else "",
            online=online,
            online_since=self._online_since(station, overview, previous, now),
            bd_seq=overview.bd_seq if overview else None,
            flaps_24h=flaps.get(station, 0),
            last_seen=overview.last_seen if overview else None,
            head=overview.head if overview else 0,
            backlog=_int(uplink.get("backlog")),
            backlog_oldest_ts=_text(uplink.get("oldest_unacked_ts")),
            devices_fault=fault,
            device_error_since=error_since,
            blanks_available=available,
            blanks_daily_use=None if use is None else round(use, 2),
            blanks_days_left=days_left(available, use),
            served_today=figures.served_today if figures else None,
            returned_today=figures.returned_today if figures else None,
            certificates_today=figures.certificates_today if figures else None,
            breaches_today=figures.breaches_today if figures else None,
            overdue_promises=figures.overdue_promises if figures else None,
            ikm=figures.ikm if figures else None,
            ikm_grade=figures.ikm_grade if figures else None,
            ikm_period=figures.ikm_period if figures else None,
            complaints_overdue=figures.complaints_overdue if figures else None,
            version=overview.version if overview else None,
            clock_synced=_bool(telemetry.get("clock_synced")),
            disk_low=_bool(disk.get("low")),
            disk_refusing=_bool(disk.get("refusing")),
            flags=overview.flags if overview else 0,
            last_flag_kind=overview.last_flag.kind if overview and overview.last_flag else None,
            forgery_kind=forgery.kind if forgery else None,
            forgery_at=forgery.at if forgery else None,
            updated_at=at,
        )

    @staticmethod
    def _devices(overview: StationOverview | None, telemetry: dict[str, Any]) -> dict[str, Any]:
        """Each device's state: from its own retained topic (sent on every change), else
        from the telemetry's summary. The station's word, only bounded: read for what it
        should be."""
        if overview is not None and overview.devices:
            return {name: _part(p).get("state") for name, p in overview.devices.items()}
        return {name: _part(p).get("state") for name, p in _part(telemetry.get("devices")).items()}

    def _online_since(
        self, station: str, overview: StationOverview | None, previous: _Kept | None, now: datetime
    ) -> str | None:
        """Online: when its current session was born (a new bd_seq is a new session, even
        with no death heard between). Offline: when it first died after its last session.
        Kept from the row while that lasts, found in the state history when it changed."""
        if overview is None or overview.online is None:
            return None
        online, bd_seq = overview.online, overview.bd_seq
        if (
            previous is not None
            and previous.status.online == online
            and previous.status.bd_seq == bd_seq
            and previous.status.online_since
        ):
            return previous.status.online_since
        since = _EPOCH if previous is None else utc_text((now - _STATE_WINDOW).isoformat())
        history = self._store.state_history(station, since)
        if online:
            births = [change.at for change in history if change.online]
            return births[-1] if births else None
        began = None
        for change in reversed(history):
            if change.online:
                break
            began = change.at
        return began

    def _calendar(self, zone: ZoneInfo) -> WorkingCalendar:
        calendar = self._calendars.get(zone.key)
        if calendar is None:
            calendar = self._calendars[zone.key] = self._hours.calendar(zone)
        return calendar

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        database = self._database
        sql = database.sql(UPSERT)
        for chunk in _chunks(rows, 1000):
            with database.write() as cur:
                cur.executemany(sql, list(chunk))


def _seen(overview: StationOverview) -> tuple[str | None, int, int]:
    """What moves when anything is recorded of a station: its last_seen, its head (an
    ingest by a collector whose clock is behind) and its flags."""
    return overview.last_seen, overview.head, overview.flags


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _part(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


__all__ = ["PassReport", "StatusKeeper"]
