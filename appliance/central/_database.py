"""The central office's own state (users, alerts, commands sent, station status): one
small seam over SQLite or PostgreSQL, beside the collector's store.

Each part of the central office keeps its tables under its own name (a "component")
and migrates them itself: `central_schema` holds one version per component, so the
dashboard, the alerts and the command log each grow their schema without touching the
others'. SQL is written once with `?` placeholders; `sql()` gives the backend's style.

The collector's SQLite store keeps its version in PRAGMA user_version, so in SQLite this
state lives in a file of its own (`dashboard.sqlite3` by default); in PostgreSQL it
shares the collector's database, where PostgreSQL's own locking lets every collector
and dashboard process use it at once.

A `Database` holds one connection, used by one thread at a time (a lock keeps a stray
second thread from interleaving statements); failures become StoreError, naming the
database, in the one place each backend has for it.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal, Protocol, Self

from appliance import _sqlite
from appliance.sync import StoreError
from appliance.sync._store import now_text, redact_url, sqlite_path
from appliance.sync._store_sqlite import ERRORS as SQLITE_ERRORS

_BUSY_TIMEOUT_S: Final = 30.0
_CONNECT_TIMEOUT_S: Final = 10
# Any process's migration waits for the one running: pg_advisory_xact_lock's key.
_MIGRATION_LOCK: Final = 0x4B5450454D  # "KTPEM"
_SCHEMA_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS central_schema "
    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
)

Dialect = Literal["sqlite", "postgresql"]


class Cursor(Protocol):
    """The part of a DB-API cursor the central office's SQL uses."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...


class Database(ABC):
    dialect: Dialect

    def __init__(self, where: str) -> None:
        self.where = where
        """The database for messages: a path, or a URL without its password."""
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> Database:
        """'sqlite:<path>' or 'sqlite:///abs/path' or a 'postgresql://' URL."""
        scheme, _, rest = url.partition(":")
        if scheme == "sqlite":
            return _SqliteDatabase.open(Path(sqlite_path(rest, url)))
        if scheme in {"postgresql", "postgres"}:
            return _PostgresDatabase.open(url)
        raise StoreError(
            f"unsupported store URL {redact_url(url)!r}: "
            "use sqlite:///absolute/path.db, sqlite:relative/path.db or postgresql://..."
        )

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """A read: autocommit statements (PostgreSQL) or one deferred transaction (SQLite)."""
        with self._lock, self._read() as cur:
            yield cur

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """A write transaction: committed durably on exit, rolled back on an exception."""
        with self._lock, self._write() as cur:
            yield cur

    def sql(self, text: str) -> str:
        """`text`, written with `?` placeholders, in the backend's placeholder style."""
        return text if self.dialect == "sqlite" else text.replace("?", "%s")

    def migrate(self, component: str, migrations: Sequence[Sequence[str]]) -> None:
        """Bring `component`'s tables to len(migrations), each migration a list of
        statements run in one transaction. A version newer than this software knows is
        refused: the software is older than its data."""
        latest = len(migrations)
        with self.write() as cur:
            if self.dialect == "postgresql":
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(_SCHEMA_TABLE)
            cur.execute(
                self.sql("SELECT version FROM central_schema WHERE component = ?"), (component,)
            )
            row = cur.fetchone()
            current = 0 if row is None else int(row[0])
            if current > latest:
                raise StoreError(
                    f"{self.where}: {component} schema v{current} is newer than this software "
                    f"understands (v{latest}); upgrade the software"
                )
            for statements in migrations[current:]:
                for statement in statements:
                    cur.execute(statement)
            if current < latest:
                cur.execute(
                    self.sql(
                        "INSERT INTO central_schema (component, version, applied_at) "
                        "VALUES (?, ?, ?) ON CONFLICT (component) DO UPDATE "
                        "SET version = excluded.version, applied_at = excluded.applied_at"
                    ),
                    (component, latest, now_text()),
                )

    @abstractmethod
    def _read(self) -> Any: ...

    @abstractmethod
    def _write(self) -> Any: ...

    @abstractmethod
    def close(self) -> None: ...


class _SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__(str(path))
        self._conn = connection
        self._path = path

    @classmethod
    def open(cls, path: Path) -> Self:  # type: ignore[override]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create its directory ({exc})") from exc
        # WAL, synchronous=FULL, the file 0600: the station's one way to open SQLite.
        conn = _sqlite.connect(path, errors=SQLITE_ERRORS, busy_timeout_s=_BUSY_TIMEOUT_S)
        return cls(conn, path)

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        with SQLITE_ERRORS.translated(self._path):
            self._conn.execute("BEGIN")
            try:
                yield self._conn.cursor()
            finally:
                _sqlite.rollback_quietly(self._conn)

    @contextmanager
    def _write(self) -> Iterator[Cursor]:
        with SQLITE_ERRORS.translated(self._path), _sqlite.write_transaction(self._conn):
            yield self._conn.cursor()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PostgresDatabase(Database):
    """One connection, reopened on the next call after it breaks (a server restart)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__(redact_url(url))
        self._url = url
        self._conn: Any = None

    @classmethod
    def open(cls, url: str) -> Self:
        database = cls(url)
        with database._lock:
            database._connection()
        return database

    def _connection(self) -> Any:
        # psycopg is imported only for a PostgreSQL URL: the station never needs it.
        from appliance.sync._store_postgres import postgres_errors  # noqa: PLC0415

        if self._conn is None or self._conn.closed:
            import psycopg  # noqa: PLC0415

            with postgres_errors(self.where):
                params = psycopg.conninfo.conninfo_to_dict(self._url)
                extra: dict[str, Any] = {"application_name": "ktpel-central"}
                if "connect_timeout" not in params:
                    extra["connect_timeout"] = _CONNECT_TIMEOUT_S
                self._conn = psycopg.connect(self._url, autocommit=True, **extra)
        return self._conn

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        from appliance.sync._store_postgres import postgres_errors  # noqa: PLC0415

        with postgres_errors(self.where):
            conn = self._connection()
            with conn.cursor() as cur:
                yield cur

    @contextmanager
    def _write(self) -> Iterator[Cursor]:
        from appliance.sync._store_postgres import postgres_errors  # noqa: PLC0415

        with postgres_errors(self.where):
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
