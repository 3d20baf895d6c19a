"""The collector store's SQL that both backends run as it is, and every record and read
but the ingest (`_ingest`), over a backend's connection.

The SQL is written with "?" placeholders (the PostgreSQL backend turns them into "%s").
Times are utc_text(), so "later" is text order, and a message processed late (another
collector, a retry) never moves a time backwards.

Records that read before they write (a state or device change appended to its history)
first upsert the station's row: in PostgreSQL that takes the station's row lock, the same
lock an ingest takes, so two collectors recording the same station's messages take turns
and each sees what the other committed; in SQLite every write holds the database's one
write lock anyway.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar, Final, Protocol

from appliance.register import Event

from ._bounds import is_count
from ._store import (
    EVENT_COLUMNS,
    DeviceChange,
    DoctorReport,
    Flag,
    IngestOutcome,
    StateChange,
    StationOverview,
    event_from_row,
    payload_json,
    utc_text,
)

SQL_SEEN: Final = (
    "INSERT INTO stations (station, last_seen) VALUES (?, ?) "
    "ON CONFLICT (station) DO UPDATE SET last_seen = CASE WHEN stations.last_seen IS NULL "
    "OR stations.last_seen < excluded.last_seen THEN excluded.last_seen ELSE stations.last_seen END"
)
SQL_KNOW_STATION: Final = "INSERT INTO stations (station) VALUES (?) ON CONFLICT DO NOTHING"
# The birth/death rule in the upsert's WHERE: a stale death changes nothing at all. A
# death says no version: the birth's stays.
SQL_STATE: Final = (
    "INSERT INTO stations (station, last_seen, online, bd_seq, state_json, state_at, version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (station) DO UPDATE SET "
    "last_seen = CASE WHEN stations.last_seen IS NULL OR stations.last_seen < excluded.last_seen "
    "THEN excluded.last_seen ELSE stations.last_seen END, online = excluded.online, "
    "bd_seq = COALESCE(excluded.bd_seq, stations.bd_seq), "
    "state_json = excluded.state_json, state_at = excluded.state_at, "
    "version = CASE WHEN excluded.online THEN excluded.version ELSE stations.version END "
    "WHERE excluded.online OR stations.bd_seq IS NULL OR excluded.bd_seq IS NULL "
    "OR excluded.bd_seq >= stations.bd_seq"
)
SQL_STATE_NOW: Final = "SELECT online, bd_seq FROM stations WHERE station = ?"  # + row lock
SQL_STATE_CHANGE: Final = (
    "INSERT INTO state_history (station, at, online, bd_seq, version, flap) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SQL_STATE_HISTORY: Final = (
    "SELECT at, online, bd_seq, version FROM state_history "
    "WHERE station = ? AND at >= ? ORDER BY at, id"
)
SQL_FLAPS: Final = (
    "SELECT station, count(*) FROM state_history WHERE flap AND at >= ? GROUP BY station"
)
SQL_TELEMETRY: Final = (
    "INSERT INTO stations (station, last_seen, telemetry, telemetry_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (station) DO UPDATE SET "
    "last_seen = CASE WHEN stations.last_seen IS NULL OR stations.last_seen < excluded.last_seen "
    "THEN excluded.last_seen ELSE stations.last_seen END, "
    "telemetry = CASE WHEN stations.telemetry_at IS NULL "
    "OR stations.telemetry_at <= excluded.telemetry_at "
    "THEN excluded.telemetry ELSE stations.telemetry END, "
    "telemetry_at = CASE WHEN stations.telemetry_at IS NULL "
    "OR stations.telemetry_at <= excluded.telemetry_at "
    "THEN excluded.telemetry_at ELSE stations.telemetry_at END"
)
SQL_DEVICE_NOW: Final = "SELECT payload, at, since FROM devices WHERE station = ? AND name = ?"
SQL_DEVICE: Final = (
    "INSERT INTO devices (station, name, payload, at, since) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (station, name) DO UPDATE SET payload = excluded.payload, at = excluded.at, "
    "since = excluded.since WHERE devices.at <= excluded.at"
)
SQL_DEVICE_CHANGE: Final = (
    "INSERT INTO device_history (station, name, at, state, code, reason) VALUES (?, ?, ?, ?, ?, ?)"
)
SQL_DEVICE_HISTORY: Final = (
    "SELECT at, name, state, code, reason FROM device_history "
    "WHERE station = ? AND at >= ? ORDER BY at, id"
)
SQL_DOCTOR: Final = (
    "INSERT INTO doctor_reports (station, payload, at) VALUES (?, ?, ?) "
    "ON CONFLICT (station) DO UPDATE SET payload = excluded.payload, at = excluded.at "
    "WHERE doctor_reports.at <= excluded.at"
)
SQL_LATEST_DOCTOR: Final = "SELECT payload, at FROM doctor_reports WHERE station = ?"
SQL_CHANGED: Final = (
    "SELECT station FROM stations WHERE last_seen > ? UNION SELECT station FROM flags WHERE at > ?"
)
SQL_FLAG: Final = "INSERT INTO flags (station, kind, seq, detail, at) VALUES (?, ?, ?, ?, ?)"
SQL_FLAGS: Final = "SELECT station, kind, seq, detail, at FROM flags"
SQL_HEADS: Final = "SELECT station, head FROM stations"
SQL_HEAD: Final = "SELECT head FROM stations WHERE station = ?"
SQL_EVENTS_PAGE: Final = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE station = ? AND seq > ? ORDER BY seq LIMIT ?"  # noqa: S608
)
# The first seq of events_since, read from the index on (station, ts, seq) alone; the
# pages then follow the key from there, so a station's older history is never read.
SQL_EVENTS_SINCE_FIRST: Final = "SELECT min(seq) FROM events WHERE station = ? AND ts >= ?"
SQL_EVENTS_SINCE_PAGE: Final = (
    f"SELECT {EVENT_COLUMNS} FROM events "  # noqa: S608
    "WHERE station = ? AND ts >= ? AND seq > ? ORDER BY seq LIMIT ?"
)
SQL_STORED_HASHES: Final = "SELECT seq, hash FROM events WHERE station = ? AND seq BETWEEN ? AND ?"
SQL_STORED_LINKS: Final = (
    "SELECT seq, prev_hash, hash FROM events WHERE station = ? AND seq BETWEEN ? AND ?"
)
SQL_OVERVIEW: Final = (
    "SELECT s.station, s.head, s.stored_max, s.last_seen, s.online, s.bd_seq, "
    "s.telemetry, s.telemetry_at, s.version, COALESCE(f.n, 0), lf.kind, lf.seq, lf.detail, lf.at, "
    "gf.kind, gf.seq, gf.detail, gf.at "
    "FROM stations s "
    "LEFT JOIN (SELECT station, count(*) AS n, max(id) AS last FROM flags GROUP BY station) f "
    "ON f.station = s.station "
    "LEFT JOIN flags lf ON lf.id = f.last "
    "LEFT JOIN (SELECT station, max(id) AS last FROM flags "
    # FORGERY_FLAG_KINDS, spelled out (tests/test_collector_store_timeline.py pins it).
    "WHERE kind IN ('bad_signature', 'altered', 'wrong_station', 'chain_break', 'conflict') "
    "GROUP BY station) g "
    "ON g.station = s.station "
    "LEFT JOIN flags gf ON gf.id = g.last"
)
SQL_DEVICES: Final = "SELECT station, name, payload, since FROM devices"

EVENTS_PAGE: Final = 1000
# Stations named in one statement of a filtered overview: well under SQLite's limit on
# bound parameters.
_IN_CHUNK: Final = 500


class Cursor(Protocol):
    """The part of a DB-API cursor the shared SQL uses."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class SqlStore(ABC):
    """A CollectorStore over a SQL database; the backends supply connections and ingest.

    One store object is driven by one worker thread; the lock keeps a stray second
    thread from interleaving statements on the connection.
    """

    _ROW_LOCK: ClassVar[str] = ""
    """What makes a SELECT lock the rows it reads, where the database locks rows."""
    _SQL_FLAPS: ClassVar[str] = SQL_FLAPS
    """flaps()'s query, which a backend may pin to the partial index on flaps."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._batch: Cursor | None = None

    @abstractmethod
    def _write(self) -> AbstractContextManager[Cursor]:
        """A write transaction: committed durably on exit, rolled back on an exception."""

    @contextmanager
    def records(self) -> Iterator[None]:
        """The flags and records of the block in one transaction: one commit for a
        collector's batch, not one per station's telemetry (7,277 a minute)."""
        with self._lock, self._write() as cur:
            self._batch = cur
            try:
                yield
            finally:
                self._batch = None

    def _record(self) -> AbstractContextManager[Cursor]:
        """The transaction of `records()` when one is open, else one of its own."""
        return nullcontext(self._batch) if self._batch is not None else self._write()

    @abstractmethod
    def _read(self) -> AbstractContextManager[Cursor]:
        """A read-only snapshot."""

    @abstractmethod
    def _sql(self, text: str) -> str:
        """The shared SQL in the backend's placeholder style."""

    @abstractmethod
    def ingest(self, batches: Sequence[tuple[str, Sequence[Event]]]) -> list[IngestOutcome]: ...

    @abstractmethod
    def close(self) -> None: ...

    def _events_since_first(self, cur: Cursor, station: str, ts: str) -> int | None:
        """The lowest seq of events_since; a backend may help its planner (partitions)."""
        cur.execute(self._sql(SQL_EVENTS_SINCE_FIRST), (station, ts))
        row = cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _events_since_page(
        self, cur: Cursor, station: str, ts: str, after: int, limit: int
    ) -> list[Any]:
        """One page of events_since; a backend may help its planner (partitions)."""
        cur.execute(self._sql(SQL_EVENTS_SINCE_PAGE), (station, ts, after, limit))
        return cur.fetchall()

    def heads(self) -> dict[str, int]:
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_HEADS))
            return {station: int(head) for station, head in cur.fetchall()}

    def head(self, station: str) -> int:
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_HEAD), (station,))
            row = cur.fetchone()
        return 0 if row is None else int(row[0])

    def events(self, station: str, *, after: int = 0) -> Iterator[Event]:
        # Pages by seq, each in its own short read: no transaction or cursor stays open
        # while the caller works through a long register.
        sql = self._sql(SQL_EVENTS_PAGE)
        while True:
            with self._lock, self._read() as cur:
                cur.execute(sql, (station, after, EVENTS_PAGE))
                rows = cur.fetchall()
            for row in rows:
                yield event_from_row(row)
            if len(rows) < EVENTS_PAGE:
                return
            after = rows[-1][1]

    def events_since(self, station: str, ts: str) -> Iterator[Event]:
        _need_text(station, "station")
        # The register's ts is the same UTC text form as utc_text(): compared as text.
        since = utc_text(ts)
        with self._lock, self._read() as cur:
            first = self._events_since_first(cur, station, since)
        if first is None:
            return
        # Events of a later seq but an earlier ts (a clock put back) are skipped by the
        # pages' own condition; they are few, and read only between `first` and the end.
        after = first - 1
        while True:
            with self._lock, self._read() as cur:
                rows = self._events_since_page(cur, station, since, after, EVENTS_PAGE)
            for row in rows:
                yield event_from_row(row)
            if len(rows) < EVENTS_PAGE:
                return
            after = rows[-1][1]

    def flag(self, flag: Flag) -> None:
        if flag.seq is not None and not is_count(flag.seq):
            raise ValueError(f"flag of {flag.station}: seq {flag.seq} is out of range")
        at = utc_text(flag.at)
        with self._lock, self._record() as cur:
            cur.execute(self._sql(SQL_KNOW_STATION), (flag.station,))
            cur.execute(self._sql(SQL_FLAG), (flag.station, flag.kind, flag.seq, flag.detail, at))

    def flags(self, station: str | None = None) -> list[Flag]:
        with self._lock, self._read() as cur:
            if station is None:
                cur.execute(self._sql(f"{SQL_FLAGS} ORDER BY id"))
            else:
                cur.execute(self._sql(f"{SQL_FLAGS} WHERE station = ? ORDER BY id"), (station,))
            rows = cur.fetchall()
        return [Flag(*row) for row in rows]

    def record_state(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        online = payload.get("online")
        if not isinstance(online, bool):
            raise TypeError(f"state of {station}: 'online' must be true or false")
        bd_seq = payload.get("bd_seq")
        if bd_seq is not None and (isinstance(bd_seq, bool) or not isinstance(bd_seq, int)):
            raise TypeError(f"state of {station}: 'bd_seq' must be an integer")
        if bd_seq is not None and not is_count(bd_seq):
            raise ValueError(f"state of {station}: 'bd_seq' {bd_seq} is out of range")
        version = _text_or_none(payload.get("version")) if online else None
        when = utc_text(at)
        row = (station, when, online, bd_seq, payload_json(payload), when, version)
        with self._lock, self._record() as cur:
            # The station's lock, and last_seen untouched: a stale death changes nothing.
            cur.execute(self._sql(SQL_KNOW_STATION), (station,))
            cur.execute(self._sql(SQL_STATE_NOW + self._ROW_LOCK), (station,))
            was_online, was_bd_seq = cur.fetchone()
            cur.execute(self._sql(SQL_STATE), row)
            if cur.rowcount < 1:
                return  # a stale death: it did not count
            now_bd_seq = was_bd_seq if bd_seq is None else bd_seq  # as SQL_STATE keeps it
            if was_online is not None and bool(was_online) == online and was_bd_seq == now_bd_seq:
                return  # the same state again (a redelivery, a retained message)
            # An online session ended: by its death, or by a birth of another session.
            flap = bool(was_online)
            cur.execute(
                self._sql(SQL_STATE_CHANGE), (station, when, online, now_bd_seq, version, flap)
            )

    def state_history(self, station: str, since: str) -> list[StateChange]:
        _need_text(station, "station")
        start = utc_text(since)
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_STATE_HISTORY), (station, start))
            rows = cur.fetchall()
        return [
            StateChange(at=at, online=bool(online), bd_seq=bd_seq, version=version)
            for at, online, bd_seq, version in rows
        ]

    def flaps(self, since: str) -> dict[str, int]:
        start = utc_text(since)
        with self._lock, self._read() as cur:
            cur.execute(self._sql(self._SQL_FLAPS), (start,))
            return {station: int(count) for station, count in cur.fetchall()}

    def record_telemetry(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        when = utc_text(at)
        with self._lock, self._record() as cur:
            cur.execute(self._sql(SQL_TELEMETRY), (station, when, payload_json(payload), when))

    def record_device(
        self, station: str, name: str, payload: Mapping[str, Any], *, at: str
    ) -> None:
        _need_text(name, "device name")
        when = utc_text(at)
        document = payload_json(payload)
        state, code, reason = _device_status(payload)
        with self._lock, self._record() as cur:
            cur.execute(self._sql(SQL_SEEN), (station, when))  # the station's lock
            cur.execute(self._sql(SQL_DEVICE_NOW), (station, name))
            current = cur.fetchone()
            if current is not None and current[1] > when:
                return  # older than the payload kept: arrived late
            changed = current is None or _device_status(json.loads(current[0]))[0] != state
            since = when if changed else current[2]
            cur.execute(self._sql(SQL_DEVICE), (station, name, document, when, since))
            if changed:
                reason_json = None if reason is None else json.dumps(reason, ensure_ascii=False)
                cur.execute(
                    self._sql(SQL_DEVICE_CHANGE), (station, name, when, state, code, reason_json)
                )

    def device_history(self, station: str, since: str) -> list[DeviceChange]:
        _need_text(station, "station")
        start = utc_text(since)
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_DEVICE_HISTORY), (station, start))
            rows = cur.fetchall()
        return [
            DeviceChange(
                at=at,
                name=name,
                state=state,
                code=code,
                reason=None if reason is None else json.loads(reason),
            )
            for at, name, state, code, reason in rows
        ]

    def record_doctor(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        _need_text(station, "station")
        when = utc_text(at)
        document = payload_json(payload)
        with self._lock, self._record() as cur:
            cur.execute(self._sql(SQL_SEEN), (station, when))
            cur.execute(self._sql(SQL_DOCTOR), (station, document, when))

    def latest_doctor(self, station: str) -> DoctorReport | None:
        _need_text(station, "station")
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_LATEST_DOCTOR), (station,))
            row = cur.fetchone()
        return None if row is None else DoctorReport(payload=json.loads(row[0]), at=row[1])

    def changed_since(self, at: str) -> list[str]:
        after = utc_text(at)
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_CHANGED), (after, after))
            rows = cur.fetchall()
        return sorted(station for (station,) in rows)

    def overview(self, stations: Collection[str] | None = None) -> list[StationOverview]:
        if stations is None:
            with self._lock, self._read() as cur:
                cur.execute(self._sql(SQL_OVERVIEW))
                station_rows = cur.fetchall()
                cur.execute(self._sql(SQL_DEVICES))
                device_rows = cur.fetchall()
        else:
            if isinstance(stations, str):
                raise TypeError("overview: stations must be a collection of ids, not one id")
            wanted = sorted(set(stations))
            for station in wanted:
                _need_text(station, "station")
            station_rows, device_rows = [], []
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                with self._lock, self._read() as cur:
                    cur.execute(self._sql(f"{SQL_OVERVIEW} WHERE s.station IN ({marks})"), chunk)
                    station_rows += cur.fetchall()
                    cur.execute(self._sql(f"{SQL_DEVICES} WHERE station IN ({marks})"), chunk)
                    device_rows += cur.fetchall()
        return _overview(station_rows, device_rows)


def _overview(station_rows: list[Any], device_rows: list[Any]) -> list[StationOverview]:
    devices: dict[str, dict[str, dict[str, Any]]] = {}
    since: dict[str, dict[str, str]] = {}
    for station, name, payload, entered in device_rows:
        devices.setdefault(station, {})[name] = json.loads(payload)
        since.setdefault(station, {})[name] = entered
    result = []
    for row in station_rows:
        (station, head, stored_max, last_seen, online, bd_seq, telemetry, telemetry_at) = row[:8]
        version, count, kind, seq, detail, at = row[8:14]
        forged_kind, forged_seq, forged_detail, forged_at = row[14:]
        result.append(
            StationOverview(
                station=station,
                head=int(head),
                stored_max=int(stored_max),
                last_seen=last_seen,
                online=None if online is None else bool(online),
                bd_seq=bd_seq,
                telemetry=None if telemetry is None else json.loads(telemetry),
                telemetry_at=telemetry_at,
                devices=devices.get(station, {}),
                flags=int(count),
                last_flag=None if kind is None else Flag(station, kind, seq, detail, at),
                device_since=since.get(station, {}),
                version=version,
                last_forgery=None
                if forged_kind is None
                else Flag(station, forged_kind, forged_seq, forged_detail, forged_at),
            )
        )
    # Sorted here, not in SQL: the database's collation must not decide the order.
    result.sort(key=lambda item: item.station)
    return result


def _need_text(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, not {type(value).__name__}")


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _device_status(
    payload: Mapping[str, Any],
) -> tuple[str | None, str | None, dict[str, str] | None]:
    """(state, code, reason) of a device payload, each None where it is not in the form
    the station sends (device payloads are not signed: the store reads what it can)."""
    reason = payload.get("reason")
    if isinstance(reason, str):
        reason_text: dict[str, str] | None = {"id": reason, "en": reason}
    elif isinstance(reason, Mapping):
        reason_text = {
            key: value
            for key, value in reason.items()
            if isinstance(key, str) and isinstance(value, str)
        } or None
    else:
        reason_text = None
    return _text_or_none(payload.get("state")), _text_or_none(payload.get("code")), reason_text
