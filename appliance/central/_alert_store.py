"""The alerts' lifecycle, kept in the central office's database (component "alerts").

An alert is opened when a rule's condition holds for a station, acknowledged by a
person (who, when, an optional note), and closed when the condition clears, whether or
not anyone acknowledged it. A cause that returns after its alert closed opens a new one:
the history of a station is its alerts, one row each.

At most one alert per (station, rule) is not closed: a unique partial index says so,
and opening is `INSERT ... ON CONFLICT DO NOTHING` against it, so several processes
evaluating the same statuses at once open it once, and only the one whose row went in
hears that it opened it (likewise for closing: a conditional UPDATE). An alert's state is
read from its times (closed_at, acknowledged_at), never kept beside them.

Every alert carries the district of its station (the fleet's kode wilayah, "" for a
station the fleet file does not name), so a user's scope, "" (the nation), a province's
2 digits or a regency's 4, is a prefix of it: a station outside the fleet file is seen
only at national scope.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Final

from appliance._text import Text
from appliance.errors import ApplianceError

from ._alerts import Severity
from ._database import Database

COMPONENT: Final = "alerts"
NOTE_MAX: Final = 500
"""Characters of an acknowledgement's note."""
_HISTORY_DEFAULT: Final = 50

_COLUMNS: Final = (
    "id, station, district, rule, severity, text_id, text_en, opened_at, "
    "acknowledged_by, acknowledged_at, note, closed_at"
)


def _migrations(identity: str) -> list[list[str]]:
    return [
        [
            (
                "CREATE TABLE alerts ("
                f" id {identity},"
                " station TEXT NOT NULL,"
                " district TEXT NOT NULL,"
                " rule TEXT NOT NULL,"
                " severity TEXT NOT NULL CHECK (severity IN ('kritis', 'peringatan')),"
                " text_id TEXT NOT NULL,"
                " text_en TEXT NOT NULL,"
                " opened_at TEXT NOT NULL,"
                " acknowledged_by TEXT,"
                " acknowledged_at TEXT,"
                " note TEXT,"
                " closed_at TEXT,"
                " CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL)))"
            ),
            # The one alert per (station, rule) that is not closed: what ON CONFLICT meets.
            "CREATE UNIQUE INDEX alerts_open ON alerts (station, rule) WHERE closed_at IS NULL",
            "CREATE INDEX alerts_by_station ON alerts (station, id)",
            "CREATE INDEX alerts_by_closing ON alerts (closed_at)",
        ]
    ]


_MIGRATIONS: Final = {
    "sqlite": _migrations("INTEGER PRIMARY KEY AUTOINCREMENT"),
    "postgresql": _migrations("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
}


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    id: int
    station: str
    district: str
    """The station's kode wilayah kecamatan when the alert opened ("" when unregistered)."""
    rule: str
    severity: Severity
    text: Text
    """What holds, as the rule described it when the alert opened."""
    opened_at: str
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    note: str | None = None
    closed_at: str | None = None

    @property
    def state(self) -> AlertState:
        if self.closed_at is not None:
            return AlertState.CLOSED
        if self.acknowledged_at is not None:
            return AlertState.ACKNOWLEDGED
        return AlertState.OPEN


@dataclass(frozen=True, slots=True)
class AlertCounts:
    """Alerts not closed, per severity; `unacknowledged` is the part nobody has taken."""

    open: dict[Severity, int] = field(default_factory=dict)
    unacknowledged: dict[Severity, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.open.values())


class AlertError(ApplianceError):
    """An operation on an alert refused: a stable `code` for machines, an HTTP `status`
    for the dashboard, a bilingual `text` for people, and the form's `field` it is about
    (None when it is about the alert itself)."""

    status: ClassVar[int] = 409

    def __init__(self, code: str, text: Text, *, field: str | None = None) -> None:
        super().__init__(text.en)
        self.code = code
        self.text = text
        self.field = field


class AlertNotFound(AlertError):
    status = 404

    def __init__(self, alert_id: int) -> None:
        super().__init__(
            "alert_unknown",
            Text(
                f"Tidak ada peringatan nomor {alert_id}.", f"There is no alert number {alert_id}."
            ),
        )


class AlertOutOfScope(AlertError):
    status = 403

    def __init__(self, alert_id: int) -> None:
        super().__init__(
            "alert_out_of_scope",
            Text(
                f"Peringatan nomor {alert_id} berada di luar wilayah Anda.",
                f"Alert number {alert_id} is outside your area.",
            ),
        )


class AlertClosed(AlertError):
    def __init__(self, alert: Alert) -> None:
        super().__init__(
            "alert_closed",
            Text(
                f"Peringatan nomor {alert.id} sudah ditutup ({alert.closed_at}): "
                "penyebabnya sudah tidak ada.",
                f"Alert number {alert.id} is closed already ({alert.closed_at}): "
                "its cause has cleared.",
            ),
        )


class AlertAlreadyAcknowledged(AlertError):
    def __init__(self, alert: Alert) -> None:
        super().__init__(
            "alert_acknowledged",
            Text(
                f"Peringatan nomor {alert.id} sudah ditangani oleh {alert.acknowledged_by} "
                f"({alert.acknowledged_at}).",
                f"Alert number {alert.id} was acknowledged already by {alert.acknowledged_by} "
                f"({alert.acknowledged_at}).",
            ),
        )


class BadNote(AlertError):
    status = 422

    def __init__(self) -> None:
        super().__init__(
            "note_too_long",
            Text(
                f"Catatan paling banyak {NOTE_MAX} karakter.",
                f"A note has at most {NOTE_MAX} characters.",
            ),
            field="note",
        )


class BadScope(AlertError):
    status = 422

    def __init__(self, scope: str) -> None:
        super().__init__(
            "scope_invalid",
            Text(
                f"Wilayah {scope!r} tidak dikenal: kosong (nasional), 2 angka (provinsi) "
                "atau 4 angka (kabupaten/kota).",
                f"Unknown area {scope!r}: empty (the nation), 2 digits (a province) "
                "or 4 digits (a regency).",
            ),
            field="scope",
        )


def check_scope(scope: str) -> str:
    """`scope` as a prefix of kode wilayah: "", 2 or 4 digits (dots allowed: "35.08")."""
    digits = scope.replace(".", "")
    if len(digits) not in {0, 2, 4} or (digits and not (digits.isascii() and digits.isdigit())):
        raise BadScope(scope)
    return digits


def moment_text(at: datetime) -> str:
    """`at` as the central office keeps times: UTC, microseconds, "Z" (text order is time
    order, as in the collector's store)."""
    if at.tzinfo is None:
        raise ValueError("a moment needs its time zone")
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"


class AlertStore:
    """The alerts table on a `Database`; every method is one transaction."""

    def __init__(self, *, database: Database) -> None:
        self._db = database
        database.migrate(COMPONENT, _MIGRATIONS[database.dialect])

    # -- the lifecycle ------------------------------------------------------------------

    def open(
        self,
        *,
        station: str,
        district: str,
        rule: str,
        severity: Severity,
        text: Text,
        at: datetime,
    ) -> Alert | None:
        """Open the alert of (`station`, `rule`); None when one is open already (this or
        another process opened it first)."""
        with self._db.write() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO alerts (station, district, rule, severity, text_id, text_en, "
                    "opened_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (station, rule) WHERE closed_at IS NULL DO NOTHING "
                    "RETURNING {columns}"
                ),
                (station, district, rule, severity.value, text.id, text.en, moment_text(at)),
            )
            row = cur.fetchone()
        return None if row is None else _alert(row)

    def close(self, *, station: str, rule: str, at: datetime) -> Alert | None:
        """Close the alert of (`station`, `rule`), acknowledged or not; None when none is
        open (never was, or another process closed it first)."""
        with self._db.write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE alerts SET closed_at = ? "
                    "WHERE station = ? AND rule = ? AND closed_at IS NULL "
                    "RETURNING {columns}"
                ),
                (moment_text(at), station, rule),
            )
            row = cur.fetchone()
        return None if row is None else _alert(row)

    def acknowledge(
        self,
        alert_id: int,
        *,
        by: str,
        at: datetime,
        scope: str = "",
        note: str | None = None,
    ) -> Alert:
        """`by` takes on alert `alert_id`. Refused (AlertError, nothing changed) when the
        alert is unknown, outside `scope`, closed or acknowledged already, or the note is
        too long."""
        prefix = check_scope(scope)
        note = (note or "").strip() or None
        if note is not None and len(note) > NOTE_MAX:
            raise BadNote
        if not by:
            raise ValueError("an acknowledgement names who made it")
        with self._db.write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ?, note = ? "
                    "WHERE id = ? AND closed_at IS NULL AND acknowledged_at IS NULL "
                    "AND district LIKE ? RETURNING {columns}"
                ),
                (by, moment_text(at), note, alert_id, f"{prefix}%"),
            )
            row = cur.fetchone()
            if row is not None:
                return _alert(row)
            cur.execute(self._sql("SELECT {columns} FROM alerts WHERE id = ?"), (alert_id,))
            found = cur.fetchone()
        if found is None:
            raise AlertNotFound(alert_id)
        alert = _alert(found)
        # Outside the scope says nothing more about the alert, not even that it closed.
        if not alert.district.startswith(prefix):
            raise AlertOutOfScope(alert_id)
        if alert.closed_at is not None:
            raise AlertClosed(alert)
        raise AlertAlreadyAcknowledged(alert)

    # -- reads --------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert | None:
        return self._one("SELECT {columns} FROM alerts WHERE id = ?", (alert_id,))

    def open_alerts(
        self, scope: str = "", *, stations: Collection[str] | None = None
    ) -> list[Alert]:
        """Alerts not closed (open or acknowledged) in `scope`, and among `stations` when
        given: the most severe first, then the oldest."""
        rows = self._all(
            "SELECT {columns} FROM alerts WHERE closed_at IS NULL AND district LIKE ? "
            "ORDER BY CASE severity WHEN 'kritis' THEN 0 ELSE 1 END, opened_at, id",
            (f"{check_scope(scope)}%",),
        )
        if stations is not None:
            wanted = set(stations)
            rows = [alert for alert in rows if alert.station in wanted]
        return rows

    def history(self, station: str, *, limit: int = _HISTORY_DEFAULT) -> list[Alert]:
        """`station`'s alerts, the latest opened first."""
        return self._all(
            "SELECT {columns} FROM alerts WHERE station = ? ORDER BY id DESC LIMIT ?",
            (station, limit),
        )

    def latest(self, station: str, rule: str) -> Alert | None:
        """The last alert of (`station`, `rule`), whatever its state."""
        return self._one(
            "SELECT {columns} FROM alerts WHERE station = ? AND rule = ? ORDER BY id DESC LIMIT 1",
            (station, rule),
        )

    def closed_since(self, at: datetime) -> list[Alert]:
        """Alerts closed at or after `at`."""
        return self._all(
            "SELECT {columns} FROM alerts WHERE closed_at >= ? ORDER BY closed_at, id",
            (moment_text(at),),
        )

    def counts(self, scope: str = "") -> AlertCounts:
        """Alerts not closed in `scope`, per severity."""
        with self._db.read() as cur:
            cur.execute(
                self._sql(
                    "SELECT severity, acknowledged_at IS NULL, COUNT(*) FROM alerts "
                    "WHERE closed_at IS NULL AND district LIKE ? GROUP BY 1, 2"
                ),
                (f"{check_scope(scope)}%",),
            )
            rows = cur.fetchall()
        counts = AlertCounts(
            open=dict.fromkeys(Severity, 0), unacknowledged=dict.fromkeys(Severity, 0)
        )
        for severity, unacknowledged, count in rows:
            counts.open[Severity(severity)] += int(count)
            if unacknowledged:
                counts.unacknowledged[Severity(severity)] += int(count)
        return counts

    def move_district(self, alert_id: int, district: str) -> None:
        """The fleet file moved an alert's station to another district: its scope follows."""
        with self._db.write() as cur:
            cur.execute(
                self._sql("UPDATE alerts SET district = ? WHERE id = ?"), (district, alert_id)
            )

    def _sql(self, text: str) -> str:
        """`text` with its `{columns}` (an alert's, in `_alert`'s order) and the backend's
        placeholders."""
        return self._db.sql(text.replace("{columns}", _COLUMNS))

    def _one(self, query: str, params: Sequence[Any]) -> Alert | None:
        with self._db.read() as cur:
            cur.execute(self._sql(query), params)
            row = cur.fetchone()
        return None if row is None else _alert(row)

    def _all(self, query: str, params: Sequence[Any]) -> list[Alert]:
        with self._db.read() as cur:
            cur.execute(self._sql(query), params)
            rows = cur.fetchall()
        return [_alert(row) for row in rows]


def _alert(row: Sequence[Any]) -> Alert:
    (id_, station, district, rule, severity, text_id, text_en, opened_at) = row[:8]
    acknowledged_by, acknowledged_at, note, closed_at = row[8:]
    return Alert(
        id=int(id_),
        station=station,
        district=district,
        rule=rule,
        severity=Severity(severity),
        text=Text(text_id, text_en),
        opened_at=opened_at,
        acknowledged_by=acknowledged_by,
        acknowledged_at=acknowledged_at,
        note=note,
        closed_at=closed_at,
    )
