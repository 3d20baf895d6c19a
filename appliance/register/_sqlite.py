"""SQLite as the register uses it: pragmas, schema migrations, and the one place where
sqlite3's exceptions become the register's own."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from ._errors import (
    RegisterCorrupt,
    RegisterError,
    RegisterFull,
    RegisterLocked,
    RegisterReadOnly,
)
from ._events import validate_payload
from ._projections import DERIVED_TABLES_DDL, apply_event

_CORRUPT: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_FULL: Final = frozenset({"SQLITE_FULL"})
_READONLY: Final = frozenset({"SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"})
_LOCKED: Final = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Translate sqlite3 failures into the register's taxonomy, naming the file."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(path, exc) from exc


def translate(path: Path, exc: sqlite3.Error) -> RegisterError:
    # Extended codes (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE...) share their base
    # code's prefix, which is what the taxonomy distinguishes.
    name = getattr(exc, "sqlite_errorname", "") or ""
    base = "_".join(name.split("_")[:2])
    if base in _CORRUPT:
        return RegisterCorrupt(
            f"{path}: the register database is damaged or not a register ({exc})"
        )
    if base in _FULL:
        return RegisterFull(f"{path}: the disk is full; the event was not written ({exc})")
    if base in _READONLY:
        return RegisterReadOnly(f"{path}: the register cannot be written ({exc})")
    if base in _LOCKED:
        return RegisterLocked(f"{path}: another process holds the register ({exc})")
    if name == "SQLITE_IOERR_SHORT_READ":
        return RegisterCorrupt(f"{path}: the register database is truncated ({exc})")
    return RegisterError(f"{path}: {exc}")


def connect(
    path: Path, *, read_only: bool = False, busy_timeout_s: float = 5.0
) -> sqlite3.Connection:
    """Open the database with the durability the register promises.

    WAL with synchronous=FULL: a commit returns only once its frames are on stable
    storage, so an event acknowledged before a power cut is there after it.
    """
    if not read_only:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        return _prepare(conn, path, busy_timeout_s, wal=True)
    if path.exists() and closed_and_merged(path):
        # The database file alone is exact. A read-only connection would create the -wal
        # and -shm files, owned by whoever reads (root, under sudo), and the daemon,
        # running as its own user, could then no longer write its register.
        return _open_read_only(path, busy_timeout_s, "immutable=1")
    try:
        return _open_read_only(path, busy_timeout_s, "mode=ro")
    except RegisterReadOnly:
        # A WAL database on a read-only medium (an SD card mounted for an audit) cannot
        # get its shared-memory file. Reading it as immutable is exact only when no
        # frames wait in the WAL; otherwise say so rather than show a stale register.
        wal = path.with_name(f"{path.name}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise RegisterReadOnly(
                f"{path}: on a read-only medium with unmerged changes in {wal.name}; "
                "copy the register and its -wal file to a writable place to read it"
            ) from None
        return _open_read_only(path, busy_timeout_s, "immutable=1")


def closed_and_merged(path: Path) -> bool:
    """No writer has the database open (a running daemon keeps a -shm file) and no
    committed frame waits in a WAL (a copy may carry a -wal without its -shm)."""
    wal = path.with_name(f"{path.name}-wal")
    shm = path.with_name(f"{path.name}-shm")
    return not shm.exists() and (not wal.exists() or wal.stat().st_size == 0)


def _open_read_only(path: Path, busy_timeout_s: float, flags: str) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?{flags}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    return _prepare(conn, path, busy_timeout_s, wal=False)


def _prepare(
    conn: sqlite3.Connection, path: Path, busy_timeout_s: float, *, wal: bool
) -> sqlite3.Connection:
    try:
        with sqlite_errors(path):
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] if wal else "wal"
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except BaseException:
        conn.close()
        raise
    if mode != "wal":
        conn.close()
        raise RegisterReadOnly(f"{path}: cannot switch the register to WAL mode")
    return conn


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
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION, one transaction per step."""
    with sqlite_errors(path):
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise RegisterError(
                f"{path}: register schema v{current} is newer than this software "
                f"understands (v{SCHEMA_VERSION}); upgrade the software"
            )
        if current == 0:
            # A new register: v1 creates the current derived tables, and replaying no
            # events changes nothing, so it is at the latest version in one transaction.
            _migrate_step(conn, _v1, SCHEMA_VERSION)
            return
        for version in range(current, SCHEMA_VERSION):
            _migrate_step(conn, MIGRATIONS[version], version + 1)


def _migrate_step(
    conn: sqlite3.Connection, step: Callable[[sqlite3.Connection], None], version: int
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        step(conn)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        # SQLite ends the transaction itself on some errors (a full disk at COMMIT).
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
