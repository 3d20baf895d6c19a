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

The model lives here; the SQL both backends share, with every record and read but the
ingest, in `_store_sql`; the ingest algorithm in `_ingest`. Each backend (`_store_sqlite`,
`_store_postgres`) brings its connection, its locking, its schema, its bulk write and the
one place where its driver's exceptions become StoreError.

Beside the latest state, telemetry and device payloads, the store keeps what a timeline
needs: the state changes (births and deaths that counted), the device state changes, and
each station's latest doctor report.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from appliance.register import Event, format_ts
from appliance.register import event_from_row as register_event_from_row

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


FORGERY_FLAG_KINDS: Final = ("bad_signature", "altered", "wrong_station", "chain_break", "conflict")
"""The flags that say a station's register may be forged or forked (the rest say a
message was malformed or its station unknown)."""


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
    device_since: dict[str, str] = field(default_factory=dict)
    """When each device entered the `state` of its latest payload (RFC 3339 UTC)."""
    version: str | None = None
    """The software version of the station's last birth that said one."""
    last_forgery: Flag | None = None
    """The latest flag of a kind in FORGERY_FLAG_KINDS: a later flag of a harmless kind
    (a malformed telemetry message) must not hide it."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """A state message that counted and changed the station's (online, bd_seq)."""

    at: str
    """When the collector recorded it (RFC 3339 UTC)."""
    online: bool
    bd_seq: int | None
    version: str | None
    """The birth's software version; None for a death."""


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """A device's latest payload whose `state` differs from the one before it."""

    at: str
    name: str
    state: str | None
    """None when the payload carried no text `state`."""
    code: str | None
    reason: dict[str, str] | None
    """What the operator reads, {"id": ..., "en": ...}, when the station gave one."""


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """The latest `appliance doctor` report a station published (no personal data)."""

    payload: dict[str, Any]
    at: str


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

    def records(self) -> AbstractContextManager[None]:
        """The flag and record_* calls inside the block in one transaction."""
        ...

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

    def overview(self, stations: Collection[str] | None = None) -> list[StationOverview]:
        """Every station known, or only those of `stations` that are known, sorted by id."""
        ...

    def state_history(self, station: str, since: str) -> list[StateChange]:
        """The station's state changes recorded at or after `since`, oldest first.

        A state message is recorded here when it counted (a stale death never does) and
        changed the station's (online, bd_seq): a redelivered birth adds nothing.
        """
        ...

    def flaps(self, since: str) -> dict[str, int]:
        """Per station, how many online sessions ended at or after `since`: a death, or
        a birth of a new session with no death seen in between. Stations without a flap
        are absent."""
        ...

    def device_history(self, station: str, since: str) -> list[DeviceChange]:
        """The station's device state changes recorded at or after `since`, oldest first."""
        ...

    def events_since(self, station: str, ts: str) -> Iterator[Event]:
        """The station's stored events whose `ts` (the station's clock) is at or after
        `ts`, in seq order, read in pages through an index on (station, ts)."""
        ...

    def changed_since(self, at: str) -> list[str]:
        """Stations with something recorded after `at` (last_seen later, or a flag), sorted.

        `at` is compared with the collector's clock at each write, and a transaction may
        commit a moment after its clock was read: a poller should overlap its windows by
        a few seconds rather than pass exactly the time of its last poll.
        """
        ...

    def record_doctor(self, station: str, payload: Mapping[str, Any], *, at: str) -> None:
        """Keep the station's latest doctor report (latest by `at`)."""
        ...

    def latest_doctor(self, station: str) -> DoctorReport | None: ...

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


EVENT_COLUMNS: Final = (
    "station, seq, ts, mono_ns, boot_id, clock_synced, type, app, data_json, prev_hash, hash, sig"
)


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
