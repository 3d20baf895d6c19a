"""The central collector's store: every station's register events, once each, and what the
operations room needs to know about the stations.

The collector acknowledges to a station only what is durable here and chained without a
gap from the station's first event: the station's "head". Events arrive in batches,
duplicated, out of order, and possibly through several collector processes sharing one
database, so the store decides everything about a (station, seq) under a lock on the
station: a row lock on the station's row in PostgreSQL (taken by the upsert that also
creates it, as SELECT ... FOR UPDATE would), the whole database in SQLite (BEGIN
IMMEDIATE). The lock is what makes "stored_max" in the station's row exact, and with it
the common case cheap: a batch above stored_max needs no look-up at all.

The head is maximal after every ingest: the stored event at head+1, if any, does not
link. So an ingest can only move the head if it brings the event at head+1, and the walk
that moves it reads the database only where the new events run out below stored_max.

The model and the SQL the backends can share live here, the ingest algorithm in
`_ingest`; each backend (`_store_sqlite`, `_store_postgres`) brings its connection, its
locking, its bulk write and the one place where its driver's exceptions become StoreError.
"""

from __future__ import annotations

import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from appliance.register import Event, format_ts
from appliance.register import event_from_row as register_event_from_row

from ._bounds import is_count
from ._errors import StoreError


@dataclass(frozen=True, slots=True)
class Conflict:
    """A (station, seq) already stored with a different hash: the station forked its history.
    The stored event is kept."""

    seq: int
    stored_hash: str
    received_hash: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The stored event at head+1 does not link to the head."""

    seq: int
    expected_prev_hash: str
    prev_hash: str


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    station: str
    head: int
    """The head after this batch: what may be acknowledged to the station."""
    previous_head: int
    stored: int
    """New rows written."""
    duplicates: int
    """Events already stored with the same hash (absorbed)."""
    conflicts: tuple[Conflict, ...]
    chain_break: ChainBreak | None
    gap_from: int | None
    """head+1 when some stored event lies beyond the head; None otherwise."""

    @property
    def advanced(self) -> bool:
        return self.head > self.previous_head


@dataclass(frozen=True, slots=True)
class Flag:
    """Something the operations room must look at."""

    station: str
    kind: str
    seq: int | None
    detail: str
    at: str
    """RFC 3339 UTC."""


@dataclass(frozen=True, slots=True)
class StationOverview:
    station: str
    head: int
    """Acknowledged: gapless and chained from seq 1."""
    stored_max: int
    """The highest seq stored."""
    last_seen: str | None
    """The last time any message from the station was recorded (RFC 3339 UTC)."""
    online: bool | None
    """From the last state message that counted (None: never seen)."""
    bd_seq: int | None
    telemetry: dict[str, Any] | None
    """The latest telemetry payload."""
    telemetry_at: str | None
    devices: dict[str, dict[str, Any]]
    """The latest device/{name} payload, per device."""
    flags: int
    """How many flags were recorded."""
    last_flag: Flag | None


class CollectorStore(Protocol):
    """What the collector needs from its database. The methods are blocking: a store
    object is used by one worker thread at a time. Database failures raise StoreError.

    Times (`at`) are RFC 3339 with an offset and are kept as UTC text of one fixed form,
    "YYYY-MM-DDTHH:MM:SS.ffffffZ", so that a later time is a greater text; a time without
    an offset is refused with ValueError.
    """

    def ingest(self, batches: Sequence[tuple[str, Sequence[Event]]]) -> list[IngestOutcome]:
        """Store the batches in one durable transaction (group commit) and move the heads.

        Returns one outcome per batch, in order. Every event's `station` must be its
        batch's station. Hashes and signatures are the caller's to check beforehand.
        """
        ...

    def heads(self) -> dict[str, int]: ...

    def head(self, station: str) -> int: ...

    def events(self, station: str, *, after: int = 0) -> Iterator[Event]:
        """The station's stored events with seq > `after`, in seq order, as received."""
        ...

    def flag(self, flag: Flag) -> None: ...

    def flags(self, station: str | None = None) -> list[Flag]:
        """Flags in the order they were recorded."""
        ...

    def record_state(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        """A state (birth or death) message: {"online": bool, "bd_seq": int, ...}.

        Sparkplug's rule: a death message whose bd_seq is lower than the stored one is a
        stale will from an earlier session and is ignored altogether; a birth message
        always sets online=True with its bd_seq.
        """
        ...

    def record_telemetry(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        """Keep the latest telemetry (latest by `at`)."""
        ...

    def record_device(
        self, station: str, name: str, payload: Mapping[str, Any], *, at: str
    ) -> None:
        """Keep the latest payload of the station's device `name` (latest by `at`)."""
        ...

    def overview(self) -> list[StationOverview]:
        """Every station known, sorted by station id."""
        ...

    def close(self) -> None: ...


def open_store(url: str) -> CollectorStore:
    """Open (creating or migrating the schema if needed) the store at `url`.

    'sqlite:///abs/path.db' or 'sqlite:relative/path.db' for SQLite;
    'postgresql://...' (any libpq conninfo URI) for PostgreSQL, whose driver is imported
    only then: the station never needs it. Raises StoreError when the database cannot be
    opened, reached or written.
    """
    scheme, _, rest = url.partition(":")
    if scheme == "sqlite":
        from ._store_sqlite import SqliteStore  # noqa: PLC0415 - one backend per process

        return SqliteStore.open(sqlite_path(rest, url))
    if scheme in {"postgresql", "postgres"}:
        from ._store_postgres import PostgresStore  # noqa: PLC0415 - psycopg only here

        return PostgresStore.open(url)
    raise StoreError(
        f"unsupported store URL {redact_url(url)!r}: "
        "use sqlite:///absolute/path.db, sqlite:relative/path.db or postgresql://..."
    )


def sqlite_path(rest: str, url: str) -> str:
    if rest.startswith("//"):
        # sqlite:///abs/path: an empty authority, then an absolute path.
        path = rest[2:]
        if not path.startswith("/"):
            raise StoreError(f"{url!r}: a sqlite URL names a file, not a host")
    else:
        path = rest
    if not path or path.startswith(":memory:"):
        raise StoreError(f"{url!r}: the store needs a database file")
    return path


def redact_url(url: str) -> str:
    """The URL without its password (in the authority or the query), for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    tail = _QUERY_PASSWORD.sub(r"\1***", tail)
    return f"{scheme}{sep}{credentials}{at}{host}{slash}{tail}"


_QUERY_PASSWORD: Final = re.compile(r"([?&]password=)[^&]*")


def utc_text(at: str) -> str:
    """`at` (RFC 3339 with any offset) as the store keeps times: UTC, microseconds, "Z".

    One fixed form makes "later" a comparison of text, in SQL as in Python.
    """
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise ValueError(f"not an RFC 3339 time: {at!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"an RFC 3339 time needs its offset: {at!r}")
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"


def now_text() -> str:
    return format_ts(time.time_ns())


def payload_json(payload: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None


# The SQL both backends run as it is, written with "?" placeholders (the PostgreSQL
# backend turns them into "%s"). Times are utc_text(), so "later" is text order, and a
# message processed late (another collector, a retry) never moves a time backwards.

EVENT_COLUMNS: Final = (
    "station, seq, ts, mono_ns, boot_id, clock_synced, type, app, data_json, prev_hash, hash, sig"
)

SQL_SEEN: Final = (
    "INSERT INTO stations (station, last_seen) VALUES (?, ?) "
    "ON CONFLICT (station) DO UPDATE SET last_seen = CASE WHEN stations.last_seen IS NULL "
    "OR stations.last_seen < excluded.last_seen THEN excluded.last_seen ELSE stations.last_seen END"
)
SQL_KNOW_STATION: Final = "INSERT INTO stations (station) VALUES (?) ON CONFLICT DO NOTHING"
# The birth/death rule in the upsert's WHERE: a stale death changes nothing at all.
SQL_STATE: Final = (
    "INSERT INTO stations (station, last_seen, online, bd_seq, state_json, state_at) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (station) DO UPDATE SET "
    "last_seen = CASE WHEN stations.last_seen IS NULL OR stations.last_seen < excluded.last_seen "
    "THEN excluded.last_seen ELSE stations.last_seen END, online = excluded.online, "
    "bd_seq = COALESCE(excluded.bd_seq, stations.bd_seq), "
    "state_json = excluded.state_json, state_at = excluded.state_at "
    "WHERE excluded.online OR stations.bd_seq IS NULL OR excluded.bd_seq IS NULL "
    "OR excluded.bd_seq >= stations.bd_seq"
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
SQL_DEVICE: Final = (
    "INSERT INTO devices (station, name, payload, at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (station, name) DO UPDATE SET payload = excluded.payload, at = excluded.at "
    "WHERE devices.at <= excluded.at"
)
SQL_FLAG: Final = "INSERT INTO flags (station, kind, seq, detail, at) VALUES (?, ?, ?, ?, ?)"
SQL_FLAGS: Final = "SELECT station, kind, seq, detail, at FROM flags"
SQL_HEADS: Final = "SELECT station, head FROM stations"
SQL_HEAD: Final = "SELECT head FROM stations WHERE station = ?"
SQL_EVENTS_PAGE: Final = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE station = ? AND seq > ? ORDER BY seq LIMIT ?"  # noqa: S608
)
SQL_STORED_HASHES: Final = "SELECT seq, hash FROM events WHERE station = ? AND seq BETWEEN ? AND ?"
SQL_STORED_LINKS: Final = (
    "SELECT seq, prev_hash, hash FROM events WHERE station = ? AND seq BETWEEN ? AND ?"
)
SQL_OVERVIEW: Final = (
    "SELECT s.station, s.head, s.stored_max, s.last_seen, s.online, s.bd_seq, "
    "s.telemetry, s.telemetry_at, COALESCE(f.n, 0), lf.kind, lf.seq, lf.detail, lf.at "
    "FROM stations s "
    "LEFT JOIN (SELECT station, count(*) AS n, max(id) AS last FROM flags GROUP BY station) f "
    "ON f.station = s.station "
    "LEFT JOIN flags lf ON lf.id = f.last"
)
SQL_DEVICES: Final = "SELECT station, name, payload FROM devices"

EVENTS_PAGE: Final = 1000


class Cursor(Protocol):
    """The part of a DB-API cursor the shared SQL uses."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class SqlStore(ABC):
    """A CollectorStore over a SQL database; the backends supply connections and ingest.

    One store object is driven by one worker thread; the lock keeps a stray second
    thread from interleaving statements on the connection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abstractmethod
    def _write(self) -> AbstractContextManager[Cursor]:
        """A write transaction: committed durably on exit, rolled back on an exception."""

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

    def flag(self, flag: Flag) -> None:
        if flag.seq is not None and not is_count(flag.seq):
            raise ValueError(f"flag of {flag.station}: seq {flag.seq} is out of range")
        at = utc_text(flag.at)
        with self._lock, self._write() as cur:
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
        when = utc_text(at)
        row = (station, when, online, bd_seq, payload_json(payload), when)
        with self._lock, self._write() as cur:
            cur.execute(self._sql(SQL_STATE), row)

    def record_telemetry(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        when = utc_text(at)
        with self._lock, self._write() as cur:
            cur.execute(self._sql(SQL_TELEMETRY), (station, when, payload_json(payload), when))

    def record_device(
        self, station: str, name: str, payload: Mapping[str, Any], *, at: str
    ) -> None:
        when = utc_text(at)
        with self._lock, self._write() as cur:
            cur.execute(self._sql(SQL_SEEN), (station, when))
            cur.execute(self._sql(SQL_DEVICE), (station, name, payload_json(payload), when))

    def overview(self) -> list[StationOverview]:
        with self._lock, self._read() as cur:
            cur.execute(self._sql(SQL_OVERVIEW))
            stations = cur.fetchall()
            cur.execute(self._sql(SQL_DEVICES))
            device_rows = cur.fetchall()
        devices: dict[str, dict[str, dict[str, Any]]] = {}
        for station, name, payload in device_rows:
            devices.setdefault(station, {})[name] = json.loads(payload)
        result = []
        for row in stations:
            (station, head, stored_max, last_seen, online, bd_seq, telemetry, telemetry_at) = row[
                :8
            ]
            count, kind, seq, detail, at = row[8:]
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
                )
            )
        # Sorted here, not in SQL: the database's collation must not decide the order.
        result.sort(key=lambda item: item.station)
        return result


def event_from_row(row: Sequence[Any]) -> Event:
    """An event from a row of `EVENT_COLUMNS`: the station's column, then the register's."""
    return register_event_from_row(row[0], tuple(row[1:]))


def event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.station,
        event.seq,
        event.ts,
        event.mono_ns,
        event.boot_id,
        event.clock_synced,
        event.type,
        event.app,
        event.data_json,
        event.prev_hash,
        event.hash,
        event.sig,
    )
