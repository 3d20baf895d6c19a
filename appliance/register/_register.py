"""The register: the station's append-only, hash-chained, signed event log."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Self

from pydantic import BaseModel

from appliance._version import __version__
from appliance.clock import Clock, SystemClock, boot_id
from appliance.domain import EventType
from appliance.logs import get_logger

from ._canonical import event_body
from ._errors import RegisterCorrupt, RegisterError, RegisterMismatch
from ._events import (
    GENESIS_HASH,
    Event,
    ValidatedPayload,
    canonical_data,
    validate_payload,
)
from ._oversight_reads import OversightReads
from ._projections import apply_event
from ._queries import RegisterReads
from ._reads import PurgeReport, application_endings, purge_reports
from ._schema import IN_PROCESS_CARDS, STOCK_QUERY
from ._signing import StationKey
from ._sqlite import connect, migrate, sqlite_errors

log = get_logger(__name__)

_INSERT: Final = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_HEAD: Final = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
_CHUNK: Final = 2048
_COLUMNS: Final = "seq, ts, mono_ns, boot_id, clock_synced, type, app, data, prev_hash, hash, sig"


def format_ts(wall_ns: int) -> str:
    """RFC 3339 UTC with microseconds, computed without floating point."""
    seconds, nanos = divmod(wall_ns, 1_000_000_000)
    return f"{_utc_second(seconds)}.{nanos // 1000:06d}Z"


@lru_cache(maxsize=4)
def _utc_second(seconds: int) -> str:
    # Appends arrive many to a second: format each second once.
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%dT%H:%M:%S}"


def event_from_row(station: str, row: tuple[Any, ...]) -> Event:
    seq, ts, mono_ns, boot, synced, kind, app, data, prev_hash, digest, sig = row
    return Event(
        station=station,
        seq=seq,
        ts=ts,
        mono_ns=mono_ns,
        boot_id=boot,
        clock_synced=bool(synced),
        type=kind,
        app=app,
        data_json=data,
        prev_hash=prev_hash,
        hash=digest,
        sig=sig,
    )


def read_events(
    path: Path, *, after: int = 0, types: Collection[str] | None = None
) -> Iterator[Event]:
    """Events of the register at `path`, read-only and without the station key; only
    those of `types` when given (a report reads a third of a busy register's events).

    For exports, audits and reports: it never creates, migrates or writes the file.
    """
    if not path.exists():
        raise RegisterError(f"{path}: no register here")
    conn = connect(path, read_only=True)
    try:
        with sqlite_errors(path):
            row = conn.execute("SELECT value FROM meta WHERE key = 'station_id'").fetchone()
            station = row[0] if row else ""
            chosen = sorted(types) if types is not None else []
            only = f"AND type IN ({', '.join('?' for _ in chosen)})" if types is not None else ""
            cur = conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE seq > ? {only} ORDER BY seq",  # noqa: S608 - placeholders
                (after, *chosen),
            )
            while rows := cur.fetchmany(1024):
                for item in rows:
                    yield event_from_row(station, item)
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class BlankStock:
    """The office's blank cards. `in_process` have left the hopper (fed, in the printer,
    or printed and waiting for activation) and are neither issued nor spoiled yet."""

    received: int
    issued: int
    spoiled: int
    in_process: int = 0

    @property
    def stock(self) -> int:
        """Every blank not used up: received - issued - spoiled."""
        return self.received - self.issued - self.spoiled

    @property
    def available(self) -> int:
        """Blanks that can still be fed for a new card."""
        return self.stock - self.in_process


@dataclass(frozen=True, slots=True)
class OpenCard:
    fed_seq: int
    application_id: str
    printer: str
    card_serial: str | None
    state: str  # fed, personalised or printed


class Register(RegisterReads, OversightReads):
    """Append events, read them back, and read the state derived from them.

    Appends are serialised by a lock and by SQLite's write lock; an append returns only
    after its transaction is durable, so whatever a caller was told is written survives
    a crash or a power cut. The head is read inside each transaction rather than cached,
    so a failed commit can never leave a stale sequence number behind.
    """

    def __init__(
        self,
        *,
        connection: sqlite3.Connection,
        path: Path,
        station_id: str,
        key: StationKey,
        clock: Clock,
    ) -> None:
        self._conn = connection
        self._path = path
        self._station = station_id
        self._key = key
        self._clock = clock
        self._boot_id = boot_id()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Sequence[Event]], None]] = []

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        station_id: str,
        key: StationKey,
        clock: Clock | None = None,
    ) -> Self:
        """Open the register at `path`, creating it (and its first event) if needed."""
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(path)
        try:
            _refuse_foreign_database(conn, path)
            migrate(conn, path)
            register = cls(
                connection=conn,
                path=path,
                station_id=station_id,
                key=key,
                clock=clock or SystemClock(),
            )
            register._claim_or_check_identity()
        except BaseException:
            conn.close()
            raise
        return register

    @property
    def path(self) -> Path:
        return self._path

    @property
    def station_id(self) -> str:
        return self._station

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add_listener(self, listener: Callable[[Sequence[Event]], None]) -> None:
        """Call `listener` with the events of every transaction once it is durable.

        A listener runs in the appending thread, after the commit: it must be quick and
        must not raise (what it raises is logged, not propagated: the events are written).
        """
        self._listeners.append(listener)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def append(
        self,
        event_type: EventType | str,
        data: BaseModel | dict[str, Any],
        *,
        application_id: str | None = None,
    ) -> Event:
        """Validate, seal and durably write one event; returns it once it is on disk."""
        with self._transaction(savepoints=False) as txn:
            return txn.append(event_type, data, application_id=application_id)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Append several events atomically and with one disk sync.

        If the block raises, none of its events is written. An event refused inside the
        block (InvalidEvent caught by the caller) leaves no trace, and the rest commits.
        """
        with self._transaction(savepoints=True) as txn:
            yield txn

    @contextmanager
    def _transaction(self, *, savepoints: bool) -> Iterator[Transaction]:
        with self._lock, sqlite_errors(self._path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                txn = Transaction(self, self._conn.cursor(), savepoints=savepoints)
                yield txn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        if txn.written:
            self._notify(txn.written)

    def _notify(self, events: Sequence[Event]) -> None:
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:  # the events are durable whatever a listener does
                log.exception("register_listener_failed")

    def head(self) -> tuple[int, str]:
        """The last sequence number and its hash (0 and the genesis hash when empty)."""
        with self._lock, sqlite_errors(self._path):
            row = self._conn.execute(_HEAD).fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def events(self, *, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        """Events with seq > `after`, in seq order."""
        sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?"  # noqa: S608
        with self._lock, sqlite_errors(self._path):
            rows = self._conn.execute(sql, (after, -1 if limit is None else limit)).fetchall()
        for row in rows:
            yield event_from_row(self._station, row)

    def events_of(
        self, types: Sequence[EventType], *, after: int = 0, up_to: int | None = None
    ) -> Iterator[Event]:
        """The events of `types` with seq > `after` (and <= `up_to`), in seq order, read a
        chunk at a time so that appends wait for no more than one chunk's read."""
        marks = ", ".join("?" for _ in types)
        sql = (
            f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND seq <= ? "  # noqa: S608 - placeholders
            f"AND type IN ({marks}) ORDER BY seq LIMIT {_CHUNK}"
        )
        last = up_to if up_to is not None else 2**63 - 1
        while True:
            with self._lock, sqlite_errors(self._path):
                rows = self._conn.execute(sql, (after, last, *types)).fetchall()
            for row in rows:
                yield event_from_row(self._station, row)
            if len(rows) < _CHUNK:
                return
            after = rows[-1][0]

    def event(self, seq: int) -> Event | None:
        """The event with sequence number `seq`, if the register has it."""
        sql = f"SELECT {_COLUMNS} FROM events WHERE seq = ?"  # noqa: S608
        with self._lock, sqlite_errors(self._path):
            row = self._conn.execute(sql, (seq,)).fetchone()
        return None if row is None else event_from_row(self._station, row)

    def _rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with self._lock, sqlite_errors(self._path):
            return self._conn.execute(sql, params).fetchall()

    def application_endings(self, application_ids: Iterable[str]) -> dict[str, str]:
        """When each of these applications ended (its `ts`); open ones are absent."""
        with self._lock, sqlite_errors(self._path):
            return application_endings(self._conn, application_ids)

    def purge_reports(self, *, after: int) -> list[PurgeReport]:
        """The biometrics.purged events with seq > `after`, in order."""
        with self._lock, sqlite_errors(self._path):
            return purge_reports(self._conn, after=after)

    def blank_stock(self) -> BlankStock:
        with self._lock, sqlite_errors(self._path):
            row = self._conn.execute(STOCK_QUERY).fetchone()
        return BlankStock(*row)

    def open_cards(self) -> list[OpenCard]:
        """Cards fed and neither issued nor spoiled, oldest first."""
        with self._lock, sqlite_errors(self._path):
            rows = self._conn.execute(
                "SELECT fed_seq, application_id, printer, card_serial, state FROM cards "  # noqa: S608 - enum literals
                f"WHERE state IN {IN_PROCESS_CARDS} ORDER BY fed_seq"
            ).fetchall()
        return [OpenCard(*row) for row in rows]

    def _seal(self, seq: int, prev_hash: str, payload: ValidatedPayload, app: str | None) -> Event:
        clock = self._clock
        fields: dict[str, Any] = {
            "station": self._station,
            "seq": seq,
            "ts": format_ts(clock.wall_ns()),
            "mono_ns": clock.monotonic_ns(),
            "boot_id": self._boot_id,
            "clock_synced": clock.synchronised(),
            "type": payload.type.value,
            "app": app,
            "data_json": canonical_data(payload),
            "prev_hash": prev_hash,
        }
        digest = hashlib.sha256(event_body(**fields)).digest()
        # Signing the 32-byte digest binds every field, since the digest covers them.
        return Event(**fields, hash=digest.hex(), sig=self._key.sign(digest).hex())

    def _claim_or_check_identity(self) -> None:
        with sqlite_errors(self._path):
            rows = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        public = self._key.public_key
        if not rows:
            with self.transaction() as txn:
                self._conn.execute(
                    "INSERT INTO meta VALUES ('station_id', ?), ('public_key', ?)",
                    (self._station, public.hex),
                )
                txn.append(
                    EventType.REGISTER_CREATED,
                    {
                        "station_id": self._station,
                        "public_key": public.hex,
                        "software_version": __version__,
                    },
                )
            return
        if rows.get("station_id") != self._station:
            raise RegisterMismatch(
                f"{self._path}: this register belongs to station {rows.get('station_id')!r}, "
                f"not {self._station!r}"
            )
        if rows.get("public_key") != public.hex:
            stored = rows.get("public_key", "")
            raise RegisterMismatch(
                f"{self._path}: this register was sealed by key {stored[:16]}..., "
                f"but the station key is {public.hex[:16]}... (wrong key file?)"
            )


class Transaction:
    """Appends within one open register transaction (see Register.transaction)."""

    def __init__(self, register: Register, cursor: sqlite3.Cursor, *, savepoints: bool) -> None:
        self._register = register
        self._cur = cursor
        self._savepoints = savepoints
        row = cursor.execute(_HEAD).fetchone()
        self.head_seq: int = row[0] if row else 0
        self.head_hash: str = row[1] if row else GENESIS_HASH
        self.written: list[Event] = []

    def append(
        self,
        event_type: EventType | str,
        data: BaseModel | dict[str, Any],
        *,
        application_id: str | None = None,
    ) -> Event:
        payload = validate_payload(event_type, data, application_id)
        event = self._register._seal(self.head_seq + 1, self.head_hash, payload, application_id)  # noqa: SLF001 - the register's own helper
        if self._savepoints:
            self._write_in_savepoint(event, application_id, payload)
        else:  # a lone append: its own transaction rolls back the same way
            self._insert(event)
            apply_event(self._cur, event.seq, application_id, payload)
        self.head_seq, self.head_hash = event.seq, event.hash
        self.written.append(event)
        return event

    def _write_in_savepoint(
        self, event: Event, application_id: str | None, payload: ValidatedPayload
    ) -> None:
        # A caller that catches a refused event inside a batch keeps a consistent
        # transaction, with neither the row nor its derived changes.
        self._cur.execute("SAVEPOINT event")
        try:
            self._insert(event)
            apply_event(self._cur, event.seq, application_id, payload)
        except BaseException:
            # SQLite itself rolls the whole transaction back on some errors (a full
            # disk): then there is no savepoint left to return to.
            if self._cur.connection.in_transaction:
                self._cur.execute("ROLLBACK TO event")
                self._cur.execute("RELEASE event")
            raise
        self._cur.execute("RELEASE event")

    def _insert(self, event: Event) -> None:
        self._cur.execute(
            _INSERT,
            (
                event.seq,
                event.ts,
                event.mono_ns,
                event.boot_id,
                int(event.clock_synced),
                event.type,
                event.app,
                event.data_json,
                event.prev_hash,
                event.hash,
                event.sig,
            ),
        )


def _refuse_foreign_database(conn: sqlite3.Connection, path: Path) -> None:
    """A fresh file is fine; an SQLite file of some other program is not a register."""
    with sqlite_errors(path):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    if version == 0 and tables:
        raise RegisterCorrupt(f"{path}: this SQLite database is not a register")


__all__ = [
    "BlankStock",
    "OpenCard",
    "Register",
    "Transaction",
    "event_from_row",
    "read_events",
]
