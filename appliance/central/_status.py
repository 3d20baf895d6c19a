"""Each station's status, one row per station in `station_status`: what the overview,
the alerts and the summaries read, so none of them reads telemetry JSON or events.
`StatusKeeper` (`_status_keeper`) keeps the rows; `StatusTable` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, NamedTuple

from ._database import Database
from ._facts import FactsState

COMPONENT: Final = "status"


@dataclass(frozen=True, slots=True)
class StationStatus:
    station: str
    district: str
    """The fleet file's 6-digit code; "" for a station with a key but not in the file."""
    regency: str
    province: str
    name: str
    online: bool | None
    """From the last birth or death that counted; None: never heard of."""
    online_since: str | None
    """When the station last changed between online and offline (RFC 3339 UTC)."""
    bd_seq: int | None
    flaps_24h: int
    """Online sessions ended in the last 24 hours."""
    last_seen: str | None
    head: int
    """Events stored and acknowledged, gapless from 1."""
    backlog: int | None
    """Events the station has not had acknowledged, by its own telemetry."""
    backlog_oldest_ts: str | None
    devices_fault: tuple[str, ...]
    """Devices whose state is not READY or BUSY, by name."""
    device_error_since: str | None
    """The earliest time a device now in ERROR entered ERROR."""
    blanks_available: int | None
    blanks_daily_use: float | None
    """Blank cards used per working day, over the recent working days."""
    blanks_days_left: float | None
    """Working days the stock lasts at that use; None when none is used."""
    served_today: int | None
    returned_today: int | None
    certificates_today: int | None
    """Surat Keterangan issued today."""
    breaches_today: int | None
    overdue_promises: int | None
    ikm: str | None
    ikm_grade: str | None
    ikm_period: str | None
    complaints_overdue: int | None
    version: str | None
    clock_synced: bool | None
    disk_low: bool | None
    disk_refusing: bool | None
    flags: int
    last_flag_kind: str | None
    updated_at: str
    forgery_kind: str | None = None
    """The kind of the latest flag that puts the register in doubt (FORGERY_FLAG_KINDS)."""
    forgery_at: str | None = None
    """When that flag was recorded."""

    @property
    def registered(self) -> bool:
        return self.district != ""


_COLUMNS: Final = tuple(f.name for f in fields(StationStatus))
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)} FROM station_status"  # noqa: S608 - constant
_SELECT_KEPT: Final = f"SELECT {', '.join(_COLUMNS)}, facts FROM station_status"  # noqa: S608
UPSERT: Final = (
    f"INSERT INTO station_status ({', '.join(_COLUMNS)}, facts) "  # noqa: S608 - constant
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}, ?) ON CONFLICT (station) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_COLUMNS[1:], "facts"))
)

MIGRATIONS: Final = [
    [
        (
            "CREATE TABLE station_status ("
            "station TEXT PRIMARY KEY, district TEXT NOT NULL, regency TEXT NOT NULL, "
            "province TEXT NOT NULL, name TEXT NOT NULL, online BOOLEAN, online_since TEXT, "
            "bd_seq BIGINT, flaps_24h INTEGER NOT NULL, last_seen TEXT, head BIGINT NOT NULL, "
            "backlog BIGINT, backlog_oldest_ts TEXT, devices_fault TEXT NOT NULL, "
            "device_error_since TEXT, blanks_available BIGINT, blanks_daily_use DOUBLE PRECISION, "
            "blanks_days_left DOUBLE PRECISION, served_today INTEGER, returned_today INTEGER, "
            "certificates_today INTEGER, breaches_today INTEGER, overdue_promises INTEGER, "
            "ikm TEXT, ikm_grade TEXT, ikm_period TEXT, complaints_overdue INTEGER, version TEXT, "
            "clock_synced BOOLEAN, disk_low BOOLEAN, disk_refusing BOOLEAN, "
            "flags INTEGER NOT NULL, last_flag_kind TEXT, updated_at TEXT NOT NULL, facts TEXT)"
        ),
        "CREATE INDEX station_status_province ON station_status (province, station)",
        "CREATE INDEX station_status_regency ON station_status (regency, station)",
    ],
    [
        "ALTER TABLE station_status ADD COLUMN forgery_kind TEXT",
        "ALTER TABLE station_status ADD COLUMN forgery_at TEXT",
    ],
]


def migrate(database: Database) -> None:
    database.migrate(COMPONENT, MIGRATIONS)


@dataclass(frozen=True, slots=True)
class StatusSummary:
    """How many stations of a scope are in each condition, for the overview's header."""

    stations: int
    online: int
    offline: int
    never_seen: int
    behind: int
    """With a backlog (events not yet acknowledged)."""
    device_fault: int
    blanks_low: int
    """Whose blanks last fewer than `blanks_low_days` working days (or are out)."""
    breaches_today: int
    overdue_promises: int
    complaints_overdue: int
    clock_unsynced: int
    disk_low: int
    flagged: int
    unregistered: int


_SUMMARY: Final = (
    "SELECT count(*), "
    "sum(CASE WHEN online THEN 1 ELSE 0 END), "
    "sum(CASE WHEN NOT online THEN 1 ELSE 0 END), "
    "sum(CASE WHEN online IS NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN backlog > 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN devices_fault <> '[]' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN blanks_days_left < ? OR blanks_available <= 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN breaches_today > 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN overdue_promises > 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN complaints_overdue > 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN NOT clock_synced THEN 1 ELSE 0 END), "
    "sum(CASE WHEN disk_low OR disk_refusing THEN 1 ELSE 0 END), "
    "sum(CASE WHEN flags > 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN district = '' THEN 1 ELSE 0 END) "
    "FROM station_status"
)


def _where(scope: str, province: str | None, regency: str | None) -> tuple[str, list[str]]:
    """The WHERE of a scope ("" the nation, 2 digits a province, 4 a regency), narrowed
    by a province or regency filter; a filter outside the scope matches nothing."""
    clauses, params = [], []
    for code in (scope, province or "", regency or ""):
        if len(code) == 2:
            clauses.append("province = ?")
            params.append(code)
        elif len(code) == 4:
            clauses.append("regency = ?")
            params.append(code)
        elif code:
            raise ValueError(f"{code!r} is not a province (2 digits) or a regency (4 digits)")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _ORDER(row: Sequence[Any]) -> tuple[bool, str, str]:  # noqa: N802 - a sort key
    # By region code, then id; unregistered ("" district) last. In Python, not SQL: the
    # database's collation must not decide the order.
    return row[1] == "", row[1], row[0]


class StatusGlance(NamedTuple):
    """The few fields of a station's row the overview ranks, counts and filters every
    station of a scope by (building 7,277 whole rows took most of its time)."""

    station: str
    district: str
    name: str
    online: bool | None
    flags: int
    device_fault: bool
    blanks_available: int | None
    blanks_days_left: float | None
    backlog: int | None
    clock_synced: bool | None
    disk_low: bool | None
    complaints_overdue: int | None


_GLANCE: Final = (
    "SELECT station, district, name, online, flags, devices_fault, blanks_available, "
    "blanks_days_left, backlog, clock_synced, disk_low, complaints_overdue FROM station_status"
)


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)


class StatusTable:
    """The reads of `station_status`: the overview's rows, one station, the counts."""

    def __init__(self, database: Database) -> None:
        self._database = database
        migrate(database)

    def rows(
        self, scope: str = "", *, province: str | None = None, regency: str | None = None
    ) -> list[StationStatus]:
        """The stations of `scope`, by region code then id; unregistered stations (at
        national scope only) last."""
        where, params = _where(scope, province, regency)
        database = self._database
        with database.read() as cur:
            cur.execute(database.sql(_SELECT + where), params)
            rows = cur.fetchall()
        rows.sort(key=_ORDER)
        return [_status(row) for row in rows]

    def glance(self, scope: str = "") -> list[StatusGlance]:
        """Every station of `scope` at a glance, in no particular order."""
        where, params = _where(scope, None, None)
        database = self._database
        with database.read() as cur:
            cur.execute(database.sql(_GLANCE + where), params)
            rows = cur.fetchall()
        return [
            StatusGlance(
                station,
                district,
                name,
                _flag(online),
                flags,
                faults != "[]",
                blanks,
                days,
                backlog,
                _flag(synced),
                _flag(disk),
                complaints,
            )
            for (
                station,
                district,
                name,
                online,
                flags,
                faults,
                blanks,
                days,
                backlog,
                synced,
                disk,
                complaints,
            ) in rows
        ]

    def get(self, station: str) -> StationStatus | None:
        database = self._database
        with database.read() as cur:
            cur.execute(database.sql(f"{_SELECT} WHERE station = ?"), (station,))
            row = cur.fetchone()
        return None if row is None else _status(row)

    def summary(self, scope: str = "", *, blanks_low_days: float = 3.0) -> StatusSummary:
        where, params = _where(scope, None, None)
        database = self._database
        with database.read() as cur:
            cur.execute(database.sql(_SUMMARY + where), [blanks_low_days, *params])
            row = cur.fetchone()
        return StatusSummary(*(int(value or 0) for value in row))


_BOOLEANS: Final = tuple(
    _COLUMNS.index(c) for c in ("online", "clock_synced", "disk_low", "disk_refusing")
)
_FAULT: Final = _COLUMNS.index("devices_fault")


def _status(row: Sequence[Any]) -> StationStatus:
    values = list(row[: len(_COLUMNS)])
    for index in _BOOLEANS:  # SQLite gives 0 and 1
        if values[index] is not None:
            values[index] = bool(values[index])
    fault = values[_FAULT]
    values[_FAULT] = () if fault == "[]" else tuple(json.loads(fault))
    return StationStatus(*values)


def kept_rows(
    database: Database, stations: Sequence[str] | None = None
) -> dict[str, tuple[StationStatus, str | None]]:
    """The rows of `stations` (every row: None) with the fold each was computed with,
    for the keeper: (status, the fold's JSON)."""
    found: dict[str, tuple[StationStatus, str | None]] = {}
    chunks = (
        [None]
        if stations is None
        else [stations[i : i + 500] for i in range(0, len(stations), 500)]
    )
    for chunk in chunks:
        sql = _SELECT_KEPT
        if chunk is not None:
            sql += f" WHERE station IN ({_marks(chunk)})"
        with database.read() as cur:
            cur.execute(database.sql(sql), list(chunk or ()))
            for row in cur.fetchall():
                found[row[0]] = (_status(row), row[-1])
    return found


def delete_rows(database: Database, stations: Sequence[str]) -> None:
    for chunk in _chunks(stations):
        sql = f"DELETE FROM station_status WHERE station IN ({_marks(chunk)})"  # noqa: S608
        with database.write() as cur:
            cur.execute(database.sql(sql), list(chunk))


def _chunks(stations: Sequence[str]) -> list[Sequence[str]]:
    # Well under SQLite's and PostgreSQL's limits on parameters per statement.
    return [stations[i : i + 500] for i in range(0, len(stations), 500)]


def _marks(chunk: Sequence[str]) -> str:
    return ", ".join("?" for _ in chunk)


def status_row(status: StationStatus, state: FactsState | None) -> tuple[Any, ...]:
    """The row `UPSERT` writes: the status, and the fold it was computed with."""
    values = [getattr(status, name) for name in _COLUMNS]
    values[_COLUMNS.index("devices_fault")] = json.dumps(list(status.devices_fault))
    return (*values, None if state is None else state.to_json())


__all__ = [
    "COMPONENT",
    "MIGRATIONS",
    "UPSERT",
    "StationStatus",
    "StatusSummary",
    "StatusTable",
    "delete_rows",
    "kept_rows",
    "migrate",
    "status_row",
]
