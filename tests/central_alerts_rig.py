"""What the alerts' tests share: moments of a December 2026 week in Jakarta, a healthy
station's status to vary, and the status table written as the status keeper writes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from appliance.central._alerts import AlertsSection
from appliance.central._database import Database
from appliance.central._fleet import FleetSection
from appliance.central._status import UPSERT, StationStatus, StatusTable, status_row

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
HOURS = FleetSection()  # 08:00-15:00, Monday to Friday, national holidays off
JAKARTA = HOURS.calendar(WIB)
DEFAULTS = AlertsSection()


def wib(day: int, hour: int, minute: int = 0, *, month: int = 12) -> datetime:
    """A moment of December 2026 in Jakarta's time (the 7th is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"


def healthy(**changes: Any) -> StationStatus:
    status = StationStatus(
        station="kec-sukodono",
        district="350801",
        regency="3508",
        province="35",
        name="Sukodono",
        online=True,
        online_since=text(wib(7, 7, 30)),
        bd_seq=3,
        flaps_24h=0,
        last_seen=text(wib(7, 9)),
        head=120,
        backlog=0,
        backlog_oldest_ts=None,
        devices_fault=(),
        device_error_since=None,
        blanks_available=200,
        blanks_daily_use=20.0,
        blanks_days_left=10.0,
        served_today=12,
        returned_today=0,
        certificates_today=1,
        breaches_today=0,
        overdue_promises=0,
        ikm="88.31",
        ikm_grade="B",
        ikm_period="2026-Q4",
        complaints_overdue=0,
        version="1.0.0",
        clock_synced=True,
        disk_low=False,
        disk_refusing=False,
        flags=0,
        last_flag_kind=None,
        updated_at=text(wib(7, 9)),
    )
    return replace(status, **changes)


def put_status(database: Database, *statuses: StationStatus) -> None:
    """Write rows of the status table as its keeper does (an upsert of the whole row)."""
    StatusTable(database)  # its migration
    with database.write() as cur:
        cur.executemany(database.sql(UPSERT), [status_row(status, None) for status in statuses])


def drop_status(database: Database, station: str) -> None:
    with database.write() as cur:
        cur.execute(database.sql("DELETE FROM station_status WHERE station = ?"), (station,))
