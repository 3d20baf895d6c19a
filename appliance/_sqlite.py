"""SQLite as the station's stores use it: the register, the biometric store's index and
the collector's store share one way to connect, one set of pragmas, one translation of
sqlite3's failures and one way to bring a schema up to date.

Each store keeps its own exception taxonomy: it describes it once as an `ErrorMap` (which
of its exceptions, and which words, for each kind of failure), and every sqlite3 error
of that store goes through it.

Files are private whatever the umask: a database is created 0600 before SQLite opens it
(SQLite gives its -wal and -shm files the mode of the database file), and a database
left group- or world-readable by an older version is made 0600, with its -wal and -shm.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Final

from appliance.logs import get_logger

if TYPE_CHECKING:
    from pathlib import Path

log = get_logger(__name__)

PRIVATE_FILE_MODE: Final = 0o600
_WAL_RETRY_S: Final = 0.05


class Failure(Enum):
    """What kind of failure an sqlite3 error is, as far as a store's caller can act on it."""

    CORRUPT = "corrupt"  # damaged, or not a database of this kind
    TRUNCATED = "truncated"  # shorter than its own header says
    FULL = "full"  # the disk, or the database's page limit
    READ_ONLY = "read_only"  # the file or its directory cannot be opened or written
    LOCKED = "locked"  # another connection held a lock for longer than the busy timeout
    OTHER = "other"


_PRIMARY: Final = {
    sqlite3.SQLITE_CORRUPT: Failure.CORRUPT,
    sqlite3.SQLITE_NOTADB: Failure.CORRUPT,
    sqlite3.SQLITE_FULL: Failure.FULL,
    sqlite3.SQLITE_READONLY: Failure.READ_ONLY,
    sqlite3.SQLITE_CANTOPEN: Failure.READ_ONLY,
    sqlite3.SQLITE_PERM: Failure.READ_ONLY,
    sqlite3.SQLITE_BUSY: Failure.LOCKED,
    sqlite3.SQLITE_LOCKED: Failure.LOCKED,
}


def failure_of(exc: BaseException | None) -> Failure:
    """The kind of an sqlite3 error, from its (extended) result code."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return Failure.OTHER
    if code == sqlite3.SQLITE_IOERR_SHORT_READ:
        return Failure.TRUNCATED
    # An extended code (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE...) carries its
    # primary code in the low byte, which is what the kinds distinguish.
    return _PRIMARY.get(code & 0xFF, Failure.OTHER)


@dataclass(frozen=True, slots=True)
class ErrorMap:
    """One store's names for SQLite's failures.

    `kinds` gives, per kind, the store's exception class and the words that say what
    happened; any other failure becomes `default` with SQLite's own message.
    """

    default: type[Exception]
    kinds: Mapping[Failure, tuple[type[Exception], str]] = field(default_factory=dict)

    def error(self, failure: Failure, message: str) -> Exception:
        """The store's exception for `failure`, with a message of the caller's."""
        cls = self.kinds.get(failure, (self.default, ""))[0]
        return cls(message)

    def translate(
        self, where: object, exc: BaseException, failure: Failure | None = None
    ) -> Exception:
        """The store's exception for `exc` at `where`, in the store's words for the kind
        of failure (`failure`, or the kind of an sqlite3 error)."""
        cls, words = self.kinds.get(failure or failure_of(exc), (self.default, ""))
        return cls(f"{where}: {words} ({exc})" if words else f"{where}: {exc}")

    @contextlib.contextmanager
    def translated(self, where: object) -> Iterator[None]:
        """Raise sqlite3's failures inside the block as this store's, naming `where`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self.translate(where, exc) from exc


def connect(
    path: Path,
    *,
    errors: ErrorMap,
    busy_timeout_s: float = 5.0,
    pragmas: Sequence[str] = (),
    read_only: bool = False,
) -> sqlite3.Connection:
    """Open a store's database: WAL with synchronous=FULL, so that a commit returns only
    once its frames are on stable storage, untrusted schema, and the store's `pragmas`.

    A writer creates the file 0600 and makes an older, wider one 0600. A reader never
    creates or changes a file (see `_open_read_only`). Failures are the store's own.
    """
    if read_only:
        return _open_read_only(path, errors=errors, busy_timeout_s=busy_timeout_s)
    with errors.translated(path):
        try:
            _make_private(path)
        except OSError as exc:
            raise errors.translate(path, exc, Failure.READ_ONLY) from exc
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        with errors.translated(path):
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = _to_wal(conn, busy_timeout_s)
            _configure(conn, pragmas)
    except BaseException:
        conn.close()
        raise
    if mode.lower() != "wal":
        conn.close()
        raise errors.error(Failure.READ_ONLY, f"{path}: cannot switch the database to WAL")
    return conn


def closed_and_merged(path: Path) -> bool:
    """No writer has the database open (a running writer keeps a -shm file) and no
    committed frame waits in a WAL (a copy may carry a -wal without its -shm)."""
    wal, shm = _companions(path)
    return not shm.exists() and (not wal.exists() or wal.stat().st_size == 0)


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT; on any failure, roll back and raise the failure.

    SQLite ends the transaction itself on some errors (a full disk at COMMIT): then
    there is nothing to roll back, and a failing ROLLBACK never hides the first error.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        rollback_quietly(conn)
        raise


def rollback_quietly(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


Migration = Callable[[sqlite3.Connection], None]


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection,
    steps: Sequence[Migration],
    *,
    errors: ErrorMap,
    where: object,
    what: str,
    fresh: Migration | None = None,
) -> None:
    """Bring the schema (PRAGMA user_version) to len(steps), one transaction per step.

    `fresh`, if given, creates a new database at the latest version in one step. A
    database newer than `steps` is refused, naming `what` it is: the software is older
    than its data.
    """
    latest = len(steps)
    with errors.translated(where):
        while True:
            with write_transaction(conn):
                # Read inside the write lock: two processes may open a new file at once.
                current = user_version(conn)
                if current > latest:
                    raise errors.default(
                        f"{where}: {what} schema v{current} is newer than this software "
                        f"understands (v{latest}); upgrade the software"
                    )
                if current == latest:
                    return
                if current == 0 and fresh is not None:
                    fresh(conn)
                    reached = latest
                else:
                    steps[current](conn)
                    reached = current + 1
                conn.execute(f"PRAGMA user_version = {reached}")


# --------------------------------------------------------------------------- internals


def _configure(conn: sqlite3.Connection, pragmas: Sequence[str]) -> None:
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA trusted_schema = OFF")
    for pragma in pragmas:
        conn.execute(f"PRAGMA {pragma}")
    # Reading the schema makes a file that is not a database fail here, at open.
    conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()


def _to_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> str:
    """Switch to WAL. On a new file the switch needs the database to itself and SQLite
    does not wait for that (busy_timeout does not apply): a second process opening the
    same new file at that moment tries again, within the busy timeout."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if failure_of(exc) is not Failure.LOCKED or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_S)


def _make_private(path: Path) -> None:
    """Create the database 0600 if it is missing; make it and its -wal and -shm 0600 if an
    older version or a hand left them readable by others."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    for companion in _companions(path):
        try:
            if stat.S_IMODE(companion.stat().st_mode) & 0o077:
                companion.chmod(PRIVATE_FILE_MODE)
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            # Another user's file (a reader under sudo): SQLite will say if it matters.
            log.warning("sqlite_file_mode_not_changed", path=str(companion), error=str(exc))


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")


def _open_read_only(path: Path, *, errors: ErrorMap, busy_timeout_s: float) -> sqlite3.Connection:
    if path.exists() and closed_and_merged(path):
        # The database file alone is exact. A read-only connection would create the -wal
        # and -shm files, owned by whoever reads (root, under sudo), and the writer,
        # running as its own user, could then no longer write its database.
        return _open_uri(path, "immutable=1", errors=errors, busy_timeout_s=busy_timeout_s)
    try:
        return _open_uri(path, "mode=ro", errors=errors, busy_timeout_s=busy_timeout_s)
    except Exception as exc:
        if failure_of(exc.__cause__) is not Failure.READ_ONLY:
            raise
        # A WAL database on a read-only medium (an SD card mounted for an audit) cannot
        # get its shared-memory file. Reading it as immutable is exact only when no
        # frames wait in the WAL; otherwise say so rather than show stale data.
        wal = _companions(path)[0]
        if wal.exists() and wal.stat().st_size > 0:
            raise errors.error(
                Failure.READ_ONLY,
                f"{path}: on a read-only medium with unmerged changes in {wal.name}; "
                "copy the database and its -wal file to a writable place to read it",
            ) from None
        return _open_uri(path, "immutable=1", errors=errors, busy_timeout_s=busy_timeout_s)


def _open_uri(
    path: Path, flags: str, *, errors: ErrorMap, busy_timeout_s: float
) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?{flags}"
    with errors.translated(path):
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        with errors.translated(path):
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            _configure(conn, ())
    except BaseException:
        conn.close()
        raise
    return conn


__all__ = [
    "PRIVATE_FILE_MODE",
    "ErrorMap",
    "Failure",
    "Migration",
    "closed_and_merged",
    "connect",
    "failure_of",
    "migrate",
    "rollback_quietly",
    "user_version",
    "write_transaction",
]
