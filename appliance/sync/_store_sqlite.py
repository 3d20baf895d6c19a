"""The collector's store in one SQLite file: for a collector on a single machine, and tests.

Several collector processes may share the file. Every write is a BEGIN IMMEDIATE
transaction, which takes SQLite's one write lock before reading anything: that lock is
the station lock the shared ingest needs (it covers every station at once, which costs
nothing more, since SQLite writes one transaction at a time anyway). WAL with
synchronous=FULL, as the station's own register: a commit returns only once it is on
stable storage, so nothing the collector acknowledges can be lost to a power cut.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Self

from appliance import _sqlite
from appliance._sqlite import ErrorMap, Failure
from appliance.register import GENESIS_HASH, Event

from ._errors import StoreError
from ._ingest import StationHead, ingest_batches
from ._store import EVENT_COLUMNS, IngestOutcome, event_row, now_text
from ._store_sql import SQL_SEEN, SQL_STORED_HASHES, SQL_STORED_LINKS, SqlStore

_BUSY_TIMEOUT_S: Final = 30.0
ERRORS: Final = ErrorMap(
    default=StoreError,
    kinds={
        Failure.FULL: (StoreError, "the disk is full; nothing was written"),
        Failure.READ_ONLY: (StoreError, "the collector database cannot be opened or written"),
        Failure.CORRUPT: (StoreError, "damaged, or not a collector database"),
        Failure.TRUNCATED: (StoreError, "damaged, or not a collector database"),
        Failure.LOCKED: (StoreError, "another process held the database too long"),
    },
)


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """The one place where sqlite3's failures become StoreError, naming the file."""
    with ERRORS.translated(path):
        yield


def _v1(cur: sqlite3.Cursor) -> None:
    cur.execute(
        f"""CREATE TABLE stations (
            station TEXT PRIMARY KEY,
            head INTEGER NOT NULL DEFAULT 0,
            head_hash TEXT NOT NULL DEFAULT '{GENESIS_HASH}',
            stored_max INTEGER NOT NULL DEFAULT 0,
            last_seen TEXT,
            online INTEGER,
            bd_seq INTEGER,
            state_json TEXT,
            state_at TEXT,
            telemetry TEXT,
            telemetry_at TEXT
        ) STRICT, WITHOUT ROWID"""
    )
    # A rowid table with the (station, seq) key beside it, not WITHOUT ROWID: rows are
    # several hundred bytes and arrive interleaved across stations, so appending rows at
    # the end and keeping only the key in order writes far fewer pages.
    cur.execute(
        """CREATE TABLE events (
            station TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ts TEXT NOT NULL,
            mono_ns INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            type TEXT NOT NULL,
            app TEXT,
            data_json TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            sig TEXT NOT NULL,
            PRIMARY KEY (station, seq)
        ) STRICT"""
    )
    # As in the station's register: the triggers stop a bug or a careless hand.
    for action in ("UPDATE", "DELETE"):
        cur.execute(
            f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
            "BEGIN SELECT RAISE(ABORT, 'collected events are append-only'); END"
        )
    cur.execute(
        """CREATE TABLE devices (
            station TEXT NOT NULL,
            name TEXT NOT NULL,
            payload TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (station, name)
        ) STRICT, WITHOUT ROWID"""
    )
    cur.execute(
        """CREATE TABLE flags (
            id INTEGER PRIMARY KEY,
            station TEXT NOT NULL,
            kind TEXT NOT NULL,
            seq INTEGER,
            detail TEXT NOT NULL,
            at TEXT NOT NULL
        ) STRICT"""
    )
    cur.execute("CREATE INDEX flags_by_station ON flags (station, id)")


def _v2(cur: sqlite3.Cursor) -> None:
    """The timeline: state and device changes, doctor reports, the birth's version, and
    the indexes the dashboard reads by (events by time, flags by time)."""
    cur.execute("ALTER TABLE stations ADD COLUMN version TEXT")
    # The last birth kept says it, if the station is online by it.
    cur.execute(
        "UPDATE stations SET version = json_extract(state_json, '$.version') "
        "WHERE online = 1 AND json_type(state_json, '$.version') = 'text'"
    )
    # Since when a device is in its state: its latest payload is the best known.
    cur.execute("ALTER TABLE devices ADD COLUMN since TEXT NOT NULL DEFAULT ''")
    cur.execute("UPDATE devices SET since = at")
    cur.execute(
        """CREATE TABLE state_history (
            id INTEGER PRIMARY KEY,
            station TEXT NOT NULL,
            at TEXT NOT NULL,
            online INTEGER NOT NULL,
            bd_seq INTEGER,
            version TEXT,
            flap INTEGER NOT NULL
        ) STRICT"""
    )
    cur.execute("CREATE INDEX state_history_by_station ON state_history (station, at)")
    cur.execute("CREATE INDEX state_history_flaps ON state_history (at) WHERE flap")
    cur.execute(
        """CREATE TABLE device_history (
            id INTEGER PRIMARY KEY,
            station TEXT NOT NULL,
            name TEXT NOT NULL,
            at TEXT NOT NULL,
            state TEXT,
            code TEXT,
            reason TEXT
        ) STRICT"""
    )
    cur.execute("CREATE INDEX device_history_by_station ON device_history (station, at)")
    cur.execute(
        """CREATE TABLE doctor_reports (
            station TEXT PRIMARY KEY,
            payload TEXT NOT NULL,
            at TEXT NOT NULL
        ) STRICT, WITHOUT ROWID"""
    )
    cur.execute("CREATE INDEX flags_by_time ON flags (at)")
    cur.execute("CREATE INDEX events_by_ts ON events (station, ts, seq)")


MIGRATIONS: Final[tuple[Callable[[sqlite3.Cursor], None], ...]] = (_v1, _v2)
SCHEMA_VERSION: Final = len(MIGRATIONS)


class SqliteStore(SqlStore):
    # Without statistics SQLite would rather walk the station index in GROUP BY order,
    # reading every state change ever recorded; the partial index reads only flaps.
    _SQL_FLAPS = (
        "SELECT station, count(*) FROM state_history INDEXED BY state_history_flaps "
        "WHERE flap AND at >= ? GROUP BY station"
    )

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__()
        self._conn = connection
        self._path = path

    @classmethod
    def open(cls, path: str) -> Self:
        file = Path(path)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{file}: cannot create its directory ({exc})") from exc
        # WAL, synchronous=FULL, the file 0600: the station's one way to open SQLite.
        conn = _sqlite.connect(file, errors=ERRORS, busy_timeout_s=_BUSY_TIMEOUT_S)
        try:
            store = cls(conn, file)
            store._migrate()
        except BaseException:
            conn.close()
            raise
        return store

    def _migrate(self) -> None:
        with self._write() as cur:
            cur.execute("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'")
            names = {name for (name,) in cur.fetchall()}
            if names and "schema_version" not in names:
                raise StoreError(f"{self._path}: a database, but not a collector's")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT"
            )
            current = cur.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._path}: collector schema v{current} is newer than this software "
                    f"understands (v{SCHEMA_VERSION}); upgrade the software"
                )
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](cur)
                cur.execute("INSERT INTO schema_version VALUES (?, ?)", (version + 1, now_text()))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with sqlite_errors(self._path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn.cursor()
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with sqlite_errors(self._path):
            self._conn.execute("BEGIN")
            try:
                yield self._conn.cursor()
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def _sql(self, text: str) -> str:
        return text

    def ingest(self, batches: Sequence[tuple[str, Sequence[Event]]]) -> list[IngestOutcome]:
        if not batches:
            return []
        with self._lock, self._write() as cur:
            return ingest_batches(_SqliteIngest(cur), batches)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _SqliteIngest:
    """The shared ingest's database side, inside a BEGIN IMMEDIATE transaction."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cur = cursor

    def lock_stations(self, stations: Sequence[str], seen_at: str) -> dict[str, StationHead]:
        # BEGIN IMMEDIATE already holds the write lock for the whole database.
        cur = self._cur
        cur.executemany(SQL_SEEN, [(station, seen_at) for station in stations])
        heads = {}
        for station in stations:
            head, head_hash, stored_max = cur.execute(
                "SELECT head, head_hash, stored_max FROM stations WHERE station = ?", (station,)
            ).fetchone()
            heads[station] = StationHead(head, head_hash, stored_max)
        return heads

    def stored_hashes(self, station: str, low: int, high: int) -> dict[int, str]:
        return dict(self._cur.execute(SQL_STORED_HASHES, (station, low, high)).fetchall())

    def stored_links(self, station: str, low: int, high: int) -> dict[int, tuple[str, str]]:
        rows = self._cur.execute(SQL_STORED_LINKS, (station, low, high)).fetchall()
        return {seq: (prev_hash, digest) for seq, prev_hash, digest in rows}

    def insert_events(self, events: Sequence[Event]) -> None:
        self._cur.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            map(event_row, events),
        )

    def update_heads(self, heads: Mapping[str, StationHead]) -> None:
        self._cur.executemany(
            "UPDATE stations SET head = ?, head_hash = ?, stored_max = ? WHERE station = ?",
            [(h.head, h.head_hash, h.stored_max, station) for station, h in heads.items()],
        )
