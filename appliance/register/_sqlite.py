"""SQLite as the register uses it: its names for SQLite's failures, its schema and its
migrations. Connecting, pragmas and file modes are the station's one way
(`appliance._sqlite`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from appliance import _sqlite
from appliance._sqlite import ErrorMap, Failure, closed_and_merged

from ._errors import (
    RegisterCorrupt,
    RegisterError,
    RegisterFull,
    RegisterLocked,
    RegisterReadOnly,
)
from ._events import validate_payload
from ._projections import apply_event
from ._schema import DERIVED_TABLES_DDL

ERRORS: Final = ErrorMap(
    default=RegisterError,
    kinds={
        Failure.CORRUPT: (
            RegisterCorrupt,
            "the register database is damaged or not a register",
        ),
        Failure.TRUNCATED: (RegisterCorrupt, "the register database is truncated"),
        Failure.FULL: (RegisterFull, "the disk is full; the event was not written"),
        Failure.READ_ONLY: (RegisterReadOnly, "the register cannot be written"),
        Failure.LOCKED: (RegisterLocked, "another process holds the register"),
    },
)


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Translate sqlite3 failures into the register's taxonomy, naming the file."""
    with ERRORS.translated(path):
        yield


def translate(path: Path, exc: sqlite3.Error) -> RegisterError:
    error = ERRORS.translate(path, exc)
    assert isinstance(error, RegisterError)  # every kind maps to one of the register's
    return error


def connect(
    path: Path, *, read_only: bool = False, busy_timeout_s: float = 5.0
) -> sqlite3.Connection:
    """Open the database with the durability the register promises.

    WAL with synchronous=FULL: a commit returns only once its frames are on stable
    storage, so an event acknowledged before a power cut is there after it. The file
    and its -wal and -shm are 0600: the register holds applicants' personal data.
    """
    return _sqlite.connect(path, errors=ERRORS, busy_timeout_s=busy_timeout_s, read_only=read_only)


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID"
    )
    conn.execute(
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            mono_ns INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            type TEXT NOT NULL,
            app TEXT,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            sig TEXT NOT NULL
        ) STRICT"""
    )
    conn.execute("CREATE INDEX events_by_app ON events (app, seq) WHERE app IS NOT NULL")
    # The register is append-only. The triggers stop a bug or a careless hand; a
    # determined one can drop them, which is what the hash chain and `verify` are for.
    conn.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'register events are append-only'); END"
    )
    conn.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'register events are append-only'); END"
    )
    for statement in DERIVED_TABLES_DDL:
        conn.execute(statement)


def _rebuild_derived_state(conn: sqlite3.Connection) -> None:
    """Drop the derived tables and replay every event into the current ones.

    The derived state is a pure function of the events, so a change to its tables is a
    migration that costs a replay, never a hand-written data conversion.
    """
    derived = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' "
            "AND name NOT IN ('meta', 'events') AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for name in derived:
        conn.execute(f'DROP TABLE "{name}"')
    for statement in DERIVED_TABLES_DDL:
        conn.execute(statement)
    cur = conn.cursor()
    for seq, event_type, app, data in conn.execute(
        "SELECT seq, type, app, data FROM events ORDER BY seq"
    ):
        apply_event(cur, seq, app, validate_payload(event_type, json.loads(data), app))


# A change to DERIVED_TABLES_DDL appends another _rebuild_derived_state.
MIGRATIONS: Final[tuple[Callable[[sqlite3.Connection], None], ...]] = (
    _v1,
    _rebuild_derived_state,  # v2: blank cards followed one by one (cards table)
    _rebuild_derived_state,  # v3: SOP step phases, queue calls, no-shows and service
    _rebuild_derived_state,  # v4: the biometric retention purges
    _rebuild_derived_state,  # v5: survey responses, the complaint book, complaint recaps
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return _sqlite.user_version(conn)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION, one transaction per step.

    A new register is created at the latest version in one transaction: v1 creates the
    current derived tables, and replaying no events changes nothing.
    """
    _sqlite.migrate(conn, MIGRATIONS, errors=ERRORS, where=path, what="register", fresh=_v1)


__all__ = [
    "ERRORS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "closed_and_merged",
    "connect",
    "migrate",
    "schema_version",
    "sqlite_errors",
    "translate",
]
