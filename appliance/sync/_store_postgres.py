"""The collector's store in PostgreSQL: for several collector processes, or machines, on
one database. Imported only for a postgresql:// URL: the station never needs psycopg.

The station lock of the shared ingest is the station's row: one INSERT ... ON CONFLICT DO
UPDATE, in sorted order of station, creates the missing rows, locks them all and returns
their heads in one round trip (sorted, so two collectors taking overlapping sets of
stations cannot deadlock). Under those locks the ingest knows exactly which events are
new, so they go straight into `events` by COPY, the fastest way in, with no staging table
and no ON CONFLICT to evaluate. A commit returns once PostgreSQL has flushed it
(synchronous_commit as the server has it, `on` by default).

`events` is partitioned by the month of each event's `ts` (`_store_partitions`): a year
of a nation's registers is a few hundred million rows, and a month's partition keeps its
indexes small, lets a read by time skip the months before it, and can be archived whole.
COPY into the parent routes each row to its partition.

A partitioned table cannot have a unique index on (station, seq): PostgreSQL enforces
uniqueness one partition at a time, so a unique index must contain the partition key,
and (station, seq, month) would not stop one seq arriving twice with two different `ts`
(a forked history: the very case that matters) in two months, nor twice in DEFAULT,
where the key is NULL and NULLs are distinct. What guarantees one row per (station,
seq) is the ingest itself, as before: under the station's row lock it reads which of a
batch's seqs are stored (`stored_hashes`) and COPYs only the others, and no other
transaction may write that station's events until it commits. The index on (station,
seq) is there for those reads, unique or not; the tests ingest overlapping batches from
two collectors at once, across a month boundary, and find every event once.

`data_json` is text, not jsonb: jsonb would reorder keys and drop white space, and the
exact bytes are what the signature covers. `ts` and the recorded times are collated "C":
they are fixed-form UTC text, so byte order is time order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, Final, Self

import psycopg
from psycopg import errors

from appliance.register import Event

from ._errors import StoreError
from ._ingest import StationHead, ingest_batches
from ._store import EVENT_COLUMNS, IngestOutcome, event_row, now_text, redact_url
from ._store_partitions import collector_today, event_month, make_partitions, next_month
from ._store_postgres_schema import MIGRATIONS, SCHEMA_VERSION
from ._store_sql import SQL_STORED_HASHES, SQL_STORED_LINKS, Cursor, SqlStore

_CONNECT_TIMEOUT_S: Final = 10
_ATTEMPTS: Final = 3
# Any collector's migration waits for the one running: pg_advisory_xact_lock's key.
_MIGRATION_LOCK: Final = 0x4B5450454C  # "KTPEL"
# Only a lost race between two transactions, never a problem with the data: try again.
_TRANSIENT: Final = (errors.DeadlockDetected, errors.SerializationFailure)


@contextmanager
def postgres_errors(where: str) -> Iterator[None]:
    """The one place where psycopg's failures become StoreError, naming the database."""
    try:
        yield
    except psycopg.Error as exc:
        raise StoreError(_describe(where, exc)) from exc


# SQLSTATE (or its class, two characters) -> what it means for the collector.
_MEANINGS: Final = {
    "53100": "the database server's disk is full; nothing was written",
    "53": "the database server is out of resources",
    "28": "the database refused the credentials",
    "42501": "the database user may not do this",
    "25006": "the database is read-only (a standby?)",
}


def _describe(where: str, exc: psycopg.Error) -> str:
    state = exc.sqlstate or ""
    detail = str(exc).strip() or type(exc).__name__
    meaning = _MEANINGS.get(state) or _MEANINGS.get(state[:2])
    if meaning is None and isinstance(exc, psycopg.OperationalError):
        meaning = "cannot reach or use the database"
    return f"{where}: {meaning} ({detail})" if meaning else f"{where}: {detail}"


_LOCK_STATIONS: Final = """
    INSERT INTO stations AS s (station, last_seen)
    SELECT u.station, %s FROM unnest(%s::text[]) AS u(station) ORDER BY u.station
    ON CONFLICT (station) DO UPDATE SET last_seen = CASE
        WHEN s.last_seen IS NULL OR s.last_seen < excluded.last_seen
        THEN excluded.last_seen ELSE s.last_seen END
    RETURNING station, head, head_hash, stored_max"""
_UPDATE_HEADS: Final = """
    UPDATE stations AS s SET head = u.head, head_hash = u.head_hash, stored_max = u.stored_max
    FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[])
        AS u(station, head, head_hash, stored_max)
    WHERE s.station = u.station"""
_COPY_EVENTS: Final = f"COPY events ({EVENT_COLUMNS}, month) FROM STDIN"
# events_since's reads, their month condition letting the planner skip older partitions.
_EVENTS_SINCE_FIRST: Final = (
    "SELECT min(seq) FROM events WHERE station = %s AND ts >= %s AND (month IS NULL OR month >= %s)"
)
_EVENTS_SINCE_PAGE: Final = (
    f"SELECT {EVENT_COLUMNS} FROM events "  # noqa: S608 - constant columns
    "WHERE station = %s AND ts >= %s AND (month IS NULL OR month >= %s) AND seq > %s "
    "ORDER BY seq LIMIT %s"
)


class PostgresStore(SqlStore):
    """One connection, reopened on the next call after it breaks (a server restart, a
    network cut): the call that saw it break raised StoreError and acknowledged nothing."""

    _ROW_LOCK = " FOR UPDATE"

    def __init__(self, url: str, connection: psycopg.Connection[Any]) -> None:
        super().__init__()
        self._url = url
        self._where = redact_url(url)
        self._conn: psycopg.Connection[Any] | None = connection
        self._months: set[date] = set()
        """Months known to have their partition."""

    @classmethod
    def open(cls, url: str) -> Self:
        store = cls(url, _connect(url, redact_url(url)))
        try:
            store._migrate()
            # This month's and the next: a running collector's ingests seldom make one.
            this_month = _month_of(now_text())
            store._partitions_for({this_month, next_month(this_month)})
        except BaseException:
            store.close()
            raise
        return store

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise StoreError(f"{self._where}: the store is closed")
        if self._conn.closed:
            self._conn = _connect(self._url, self._where)
        return self._conn

    def _migrate(self) -> None:
        with self._write() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "SELECT to_regclass('schema_version') IS NULL, to_regclass('events') IS NULL"
            )
            no_version, no_events = cur.fetchone() or (True, True)
            if no_version and not no_events:
                raise StoreError(f"{self._where}: a database, but not a collector's")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version integer PRIMARY KEY, applied_at text NOT NULL)"
            )
            cur.execute("SELECT max(version) FROM schema_version")
            current = (cur.fetchone() or (0,))[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._where}: collector schema v{current} is newer than this "
                    f"software understands (v{SCHEMA_VERSION}); upgrade the software"
                )
            for version in range(current, SCHEMA_VERSION):
                for step in MIGRATIONS[version]:
                    if callable(step):
                        step(cur)
                    else:
                        cur.execute(step)
                cur.execute("INSERT INTO schema_version VALUES (%s, %s)", (version + 1, now_text()))

    @contextmanager
    def _write(self) -> Iterator[psycopg.Cursor[Any]]:
        with postgres_errors(self._where):
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    @contextmanager
    def _read(self) -> Iterator[psycopg.Cursor[Any]]:
        # Autocommit: each read is a statement of its own, no transaction to end.
        with postgres_errors(self._where):
            conn = self._connection()
            with conn.cursor() as cur:
                yield cur

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def ingest(self, batches: Sequence[tuple[str, Sequence[Event]]]) -> list[IngestOutcome]:
        if not batches:
            return []
        with self._lock:
            # Each event's month, by the first seven characters of its ts: a batch has
            # few, so the rule runs once per prefix.
            today = collector_today()
            months: dict[str, date | None] = {}
            for _, events in batches:
                for event in events:
                    prefix = event.ts[:7]
                    if prefix not in months:
                        months[prefix] = event_month(prefix, today)
            needed = {month for month in months.values() if month is not None}
            for attempt in itertools.count(1):
                try:
                    self._partitions_for(needed)
                    with self._write() as cur:
                        return ingest_batches(_PostgresIngest(cur, months), batches)
                except StoreError as exc:
                    if attempt >= _ATTEMPTS or not isinstance(exc.__cause__, _TRANSIENT):
                        # A partition detached by hand fails the COPY: look again.
                        self._months.clear()
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _partitions_for(self, months: set[date]) -> None:
        """Make sure every month of `months` has its partition, in a transaction of its
        own before the ingest's (see `_store_partitions`)."""
        if months <= self._months:
            return
        with self._write() as cur:
            self._months = make_partitions(cur, months)

    def _events_since_first(self, cur: Cursor, station: str, ts: str) -> int | None:
        cur.execute(_EVENTS_SINCE_FIRST, (station, ts, _month_of(ts)))
        row = cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _events_since_page(
        self, cur: Cursor, station: str, ts: str, after: int, limit: int
    ) -> list[Any]:
        cur.execute(_EVENTS_SINCE_PAGE, (station, ts, _month_of(ts), after, limit))
        return cur.fetchall()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()


def _month_of(ts: str) -> date:
    """The month of a utc_text() time: no partition of an earlier month has a row with a
    `ts` at or after it, so reads by time need not look at them."""
    return date(int(ts[:4]), int(ts[5:7]), 1)


def _connect(url: str, where: str) -> psycopg.Connection[Any]:
    with postgres_errors(where):
        params = psycopg.conninfo.conninfo_to_dict(url)
        extra: dict[str, Any] = {"application_name": "ktpel-collector"}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = _CONNECT_TIMEOUT_S
        return psycopg.connect(url, autocommit=True, **extra)


_STORED_HASHES: Final = SQL_STORED_HASHES.replace("?", "%s")
_STORED_LINKS: Final = SQL_STORED_LINKS.replace("?", "%s")


class _PostgresIngest:
    """The shared ingest's database side, inside one transaction."""

    def __init__(self, cursor: psycopg.Cursor[Any], months: Mapping[str, date | None]) -> None:
        self._cur = cursor
        self._months = months
        """The partition month of each ts prefix in the call's batches."""

    def lock_stations(self, stations: Sequence[str], seen_at: str) -> dict[str, StationHead]:
        rows = self._cur.execute(_LOCK_STATIONS, (seen_at, list(stations))).fetchall()
        return {
            station: StationHead(head, head_hash, stored)
            for station, head, head_hash, stored in rows
        }

    def stored_hashes(self, station: str, low: int, high: int) -> dict[int, str]:
        return dict(self._cur.execute(_STORED_HASHES, (station, low, high)).fetchall())

    def stored_links(self, station: str, low: int, high: int) -> dict[int, tuple[str, str]]:
        rows = self._cur.execute(_STORED_LINKS, (station, low, high)).fetchall()
        return {seq: (prev_hash, digest) for seq, prev_hash, digest in rows}

    def insert_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        months = self._months
        with self._cur.copy(_COPY_EVENTS) as copy:
            write: Callable[[Sequence[Any]], None] = copy.write_row
            for event in events:
                write((*event_row(event), months[event.ts[:7]]))

    def update_heads(self, heads: Mapping[str, StationHead]) -> None:
        if not heads:
            return
        states = list(heads.values())
        self._cur.execute(
            _UPDATE_HEADS,
            (
                list(heads),
                [h.head for h in states],
                [h.head_hash for h in states],
                [h.stored_max for h in states],
            ),
        )
