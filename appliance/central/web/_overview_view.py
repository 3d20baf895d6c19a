"""The overview as a person reads it: the stations of a scope, filtered, problems first,
one page at a time, with counts per condition and each row's cells worded.

A pure function of the status rows (`StatusTable.rows`, the one table the overview reads)
and the open alerts of the scope, at a given moment: nothing here reads a database, so
its cost is a sort of a few thousand rows (benchmarks/central_dashboard.py measures it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Final
from zoneinfo import ZoneInfo

from appliance._text import Text
from appliance.domain import province_name, regency_name

from .._alert_store import Alert
from .._scope import dotted
from .._status import StationStatus, StatusGlance

BLANKS_LOW_DAYS: Final = 3.0
"""Working days of blanks below which a station's stock is shown as low (the alert
rule's default)."""


class Rank(IntEnum):
    """Problems first: the order of the overview's rows."""

    CRITICAL = 0
    WARNING = 1
    OFFLINE = 2
    ATTENTION = 3
    UNKNOWN = 4
    FINE = 5


@dataclass(frozen=True, slots=True)
class Cell:
    text: Text
    level: str = ""
    """"", "ok", "warn" or "bad": how the cell is marked."""
    detail: Text | None = None


@dataclass(frozen=True, slots=True)
class StationLine:
    station: str
    name: Text
    region: Text
    rank: Rank
    alerts: int
    alert_level: str
    cells: dict[str, Cell]


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    label: Text
    count: int
    level: str


@dataclass(frozen=True, slots=True)
class Filters:
    province: str | None = None
    regency: str | None = None
    problems_only: bool = False
    query: str = ""
    page: int = 1


@dataclass(frozen=True, slots=True)
class Choice:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class OverviewView:
    total: int
    shown: int
    conditions: list[Condition]
    lines: list[StationLine]
    page: int
    pages: int
    provinces: list[Choice]
    regencies: list[Choice]


_ZERO: Final = Text("-", "-")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ago(text: str | None, now: datetime) -> Text:
    """How long ago, in the words an operations room uses: "5 mnt", "3 j 10 mnt", "2 hr"."""
    moment = _moment(text)
    if moment is None:
        return Text("belum pernah", "never")
    return duration((now - moment).total_seconds())


def duration(seconds: float) -> Text:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return Text(f"{seconds} dtk", f"{seconds} s")
    minutes = seconds // 60
    if minutes < 60:
        return Text(f"{minutes} mnt", f"{minutes} min")
    hours = minutes // 60
    if hours < 48:
        return Text(f"{hours} j {minutes % 60} mnt", f"{hours} h {minutes % 60} min")
    return Text(f"{hours // 24} hr", f"{hours // 24} d")


def clock_time(text: str | None, zone: ZoneInfo) -> str:
    moment = _moment(text)
    return "-" if moment is None else f"{moment.astimezone(zone):%d/%m %H:%M}"


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}".replace(",", ".")


def _decimal(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _region(row: StationStatus) -> Text:
    if not row.district:
        return Text("wilayah belum terdaftar", "region not registered")
    regency = regency_name(row.district[:4]) or dotted(row.district[:4])
    label = f"{dotted(row.district)} · {regency}"
    return Text(label, label)


def _cells(row: StationStatus, now: datetime, zone: ZoneInfo) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    since = clock_time(row.online_since, zone)
    flaps = (
        Text(f"putus {row.flaps_24h} kali/24 jam", f"dropped {row.flaps_24h}x in 24 h")
        if row.flaps_24h
        else None
    )
    if row.online is True:
        cells["online"] = Cell(Text("Daring", "Online"), "ok", flaps)
    elif row.online is False:
        cells["online"] = Cell(
            Text(f"Luring sejak {since}", f"Offline since {since}"), "bad", flaps
        )
    else:
        cells["online"] = Cell(Text("Belum diketahui", "Unknown"), "warn", flaps)
    cells["last_seen"] = Cell(ago(row.last_seen, now))
    if row.backlog is None:
        cells["backlog"] = Cell(_ZERO)
    elif row.backlog == 0:
        cells["backlog"] = Cell(Text("0", "0"), "ok")
    else:
        oldest = ago(row.backlog_oldest_ts, now) if row.backlog_oldest_ts else None
        cells["backlog"] = Cell(
            Text(_number(row.backlog), _number(row.backlog)),
            "warn",
            Text(f"tertua {oldest.id}", f"oldest {oldest.en}") if oldest else None,
        )
    faults = ", ".join(row.devices_fault)
    cells["devices"] = (
        Cell(Text(faults, faults), "bad") if faults else Cell(Text("semua siap", "all ready"), "ok")
    )
    if row.blanks_available is None:
        cells["blanks"] = Cell(_ZERO)
    else:
        days = row.blanks_days_left
        low = blanks_low(row.blanks_available, days)
        left = (
            None
            if days is None or math.isinf(days)
            else Text(f"± {_decimal(days)} hari kerja", f"± {_decimal(days)} working days")
        )
        count = _number(row.blanks_available)
        cells["blanks"] = Cell(Text(count, count), "bad" if low else "", left)
    today = "/".join(
        _number(n) for n in (row.served_today, row.returned_today, row.certificates_today)
    )
    cells["today"] = Cell(Text(today, today))
    breaches, overdue = row.breaches_today, row.overdue_promises
    sop = f"{_number(breaches)} / {_number(overdue)}"
    cells["sop"] = Cell(Text(sop, sop), "warn" if (breaches or overdue) else "")
    if row.ikm is None:
        cells["ikm"] = Cell(_ZERO)
    else:
        grade = f"{row.ikm} ({row.ikm_grade})" if row.ikm_grade else row.ikm
        cells["ikm"] = Cell(Text(grade, grade), "warn" if row.ikm_grade in {"C", "D"} else "")
    complaints = _number(row.complaints_overdue)
    cells["complaints"] = Cell(
        Text(complaints, complaints), "bad" if row.complaints_overdue else ""
    )
    version = row.version or "-"
    clock = {
        True: Text("jam sinkron", "clock synced"),
        False: Text("jam TIDAK sinkron", "clock NOT synced"),
        None: Text("jam ?", "clock ?"),
    }[row.clock_synced]
    system_level = "bad" if row.clock_synced is False or row.disk_low else ""
    disk = Text(" · disk hampir penuh", " · disk nearly full") if row.disk_low else Text("", "")
    cells["system"] = Cell(
        Text(version, version), system_level, Text(clock.id + disk.id, clock.en + disk.en)
    )
    if row.flags:
        kind = row.last_flag_kind or "?"
        cells["flags"] = Cell(Text(f"{row.flags} ({kind})", f"{row.flags} ({kind})"), "bad")
    else:
        cells["flags"] = Cell(Text("0", "0"), "ok")
    return cells


def blanks_low(available: int | None, days_left: float | None) -> bool:
    """Out of blanks, or lasting fewer than BLANKS_LOW_DAYS working days at recent use."""
    if available is not None and available <= 0:
        return True
    return days_left is not None and days_left < BLANKS_LOW_DAYS


def rank(row: StatusGlance, severities: Sequence[str]) -> Rank:
    if "kritis" in severities:
        return Rank.CRITICAL
    if severities:
        return Rank.WARNING
    if row.online is False:
        return Rank.OFFLINE
    if needs_attention(row):
        return Rank.ATTENTION
    if row.online is None:
        return Rank.UNKNOWN
    return Rank.FINE


def needs_attention(row: StatusGlance) -> bool:
    return bool(
        row.flags
        or row.device_fault
        or blanks_low(row.blanks_available, row.blanks_days_left)
        or row.backlog
        or row.clock_synced is False
        or row.disk_low
        or row.complaints_overdue
    )


def _conditions(rows: Sequence[StatusGlance], severities: dict[str, list[str]]) -> list[Condition]:
    # Plain counters: this runs over every station of the scope on every refresh.
    online = offline = behind = devices = blanks = flags = critical = warning = 0
    for row in rows:
        if row.online is True:
            online += 1
        elif row.online is False:
            offline += 1
        behind += bool(row.backlog)
        devices += row.device_fault
        blanks += blanks_low(row.blanks_available, row.blanks_days_left)
        flags += bool(row.flags)
        alerts = severities.get(row.station)
        if alerts:
            if "kritis" in alerts:
                critical += 1
            else:
                warning += 1
    return [
        Condition("critical", Text("Peringatan kritis", "Critical"), critical, "bad"),
        Condition("warning", Text("Peringatan", "Warnings"), warning, "warn"),
        Condition("offline", Text("Luring", "Offline"), offline, "bad"),
        Condition("online", Text("Daring", "Online"), online, "ok"),
        Condition("behind", Text("Tertunda kirim", "Behind"), behind, "warn"),
        Condition("devices", Text("Perangkat rusak", "Device faults"), devices, "bad"),
        Condition("blanks", Text("Blangko menipis", "Blanks low"), blanks, "warn"),
        Condition("flags", Text("Tanda register", "Register flags"), flags, "bad"),
    ]


_NO_ALERTS: Final[list[str]] = []


def overview(
    rows: Sequence[StatusGlance],
    alerts: Sequence[Alert],
    *,
    load: Callable[[Sequence[str]], Sequence[StationStatus]],
    filters: Filters,
    now: datetime,
    zone: ZoneInfo,
    page_size: int,
) -> OverviewView:
    """The page of the overview that `filters` asks for, out of `rows` (every station of
    the user's scope, at a glance); `load` reads the whole rows of the page's stations."""
    provinces = sorted({row.district[:2] for row in rows if row.district})
    regencies = sorted(
        {
            row.district[:4]
            for row in rows
            if row.district
            and (filters.province is None or row.district.startswith(filters.province))
        }
    )
    prefix = filters.regency or filters.province or ""
    query = filters.query.casefold()
    severities: dict[str, list[str]] = {}
    for alert in alerts:
        severities.setdefault(alert.station, []).append(str(alert.severity))
    chosen = [
        row
        for row in rows
        if row.district.startswith(prefix)
        and (not query or query in row.name.casefold() or query in row.station)
    ]
    ranked = sorted(
        ((rank(row, severities.get(row.station, _NO_ALERTS)), row) for row in chosen),
        key=lambda pair: (pair[0], pair[1].name or pair[1].station, pair[1].station),
    )
    if filters.problems_only:
        ranked = [pair for pair in ranked if pair[0] <= Rank.ATTENTION]
    pages = max(1, math.ceil(len(ranked) / page_size))
    page = min(max(1, filters.page), pages)
    shown = ranked[(page - 1) * page_size : page * page_size]
    ranks = {row.station: line_rank for line_rank, row in shown}
    lines = []
    for row in load([row.station for _, row in shown]):
        station_alerts = severities.get(row.station, _NO_ALERTS)
        lines.append(
            StationLine(
                station=row.station,
                name=Text(row.name or row.station, row.name or row.station),
                region=_region(row),
                rank=ranks[row.station],
                alerts=len(station_alerts),
                alert_level="bad"
                if "kritis" in station_alerts
                else "warn"
                if station_alerts
                else "",
                cells=_cells(row, now, zone),
            )
        )
    return OverviewView(
        total=len(chosen),
        shown=len(ranked),
        conditions=_conditions(chosen, severities),
        lines=lines,
        page=page,
        pages=pages,
        provinces=[
            Choice(code, f"{dotted(code)} {province_name(code) or ''}") for code in provinces
        ],
        regencies=[
            Choice(code, f"{dotted(code)} {regency_name(code) or ''}") for code in regencies
        ],
    )
