"""The central dashboard on a database of the central office's own state, for the auth
and dashboard tests: a fleet in two regencies (and a station with no region), status rows
written through the status table's own upsert, users of each role and scope."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher

from appliance.central import DashboardRole, DashboardSection, Database, Users
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._status import UPSERT, StationStatus, StatusTable, status_row
from appliance.central.web import DashboardContext, LiveFeed, compose_context, database_markers
from appliance.clock import Clock

PASSWORD = "kata-sandi-rahasia"  # noqa: S105 - a test's
# argon2id at a test's cost: the same algorithm and format, milliseconds per hash.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
JAKARTA = ZoneInfo("Asia/Jakarta")

# Lumajang (35.08) and Jember (35.09), in Jawa Timur; a station of Bali (51.03).
LUMAJANG = {
    "kec-tempursari": ("350801", "Kecamatan Tempursari"),
    "kec-pronojiwo": ("350802", "Kecamatan Pronojiwo"),
    "kec-candipuro": ("350803", "Kecamatan Candipuro"),
    "kec-pasirian": ("350804", "Kecamatan Pasirian"),
    "kec-tekung": ("350813", "Kecamatan Tekung"),
}
JEMBER = {
    "kec-kencong": ("350901", "Kecamatan Kencong"),
    "kec-gumukmas": ("350902", "Kecamatan Gumukmas"),
}
BALI = {"kec-kuta": ("510301", "Kecamatan Kuta")}
UNREGISTERED = "kec-tanpa-wilayah"


def fleet() -> Fleet:
    return Fleet(
        stations=tuple(
            FleetStation(id=station, district=district, name=name, zone=JAKARTA)
            for station, (district, name) in {**LUMAJANG, **JEMBER, **BALI}.items()
        ),
        default_zone=JAKARTA,
    )


def moment(clock: Clock, minutes_ago: float = 0) -> str:
    at = datetime.fromtimestamp(clock.wall_ns() / 1e9 - minutes_ago * 60, tz=UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S.%fZ}"


def fine(clock: Clock, station: str, district: str, name: str) -> StationStatus:
    """A station serving as it should: online, caught up, devices ready, blanks for weeks."""
    return StationStatus(
        station=station,
        district=district,
        regency=district[:4],
        province=district[:2],
        name=name,
        online=True,
        online_since=moment(clock, 300),
        bd_seq=3,
        flaps_24h=0,
        last_seen=moment(clock, 0.5),
        head=420,
        backlog=0,
        backlog_oldest_ts=None,
        devices_fault=(),
        device_error_since=None,
        blanks_available=180,
        blanks_daily_use=12.0,
        blanks_days_left=15.0,
        served_today=37,
        returned_today=2,
        certificates_today=1,
        breaches_today=0,
        overdue_promises=0,
        ikm="88,40",
        ikm_grade="B",
        ikm_period="2026-Q4",
        complaints_overdue=0,
        version="0.20.0",
        clock_synced=True,
        disk_low=False,
        disk_refusing=False,
        flags=0,
        last_flag_kind=None,
        updated_at=moment(clock),
    )


def fleet_statuses(clock: Clock) -> dict[str, StationStatus]:
    """Every station fine, but in Lumajang: one offline, one behind on its register, one
    with its card printer in ERROR, one low on blanks."""
    statuses = {
        station: fine(clock, station, district, name)
        for station, (district, name) in {**LUMAJANG, **JEMBER, **BALI}.items()
    }
    statuses[UNREGISTERED] = dataclasses.replace(
        fine(clock, UNREGISTERED, "", ""), district="", regency="", province="", name=""
    )
    change = {
        "kec-pronojiwo": {
            "online": False,
            "online_since": moment(clock, 95),
            "flaps_24h": 2,
            "last_seen": moment(clock, 95),
        },
        "kec-candipuro": {"backlog": 340, "backlog_oldest_ts": moment(clock, 150)},
        "kec-pasirian": {
            "devices_fault": ("card_printer",),
            "device_error_since": moment(clock, 40),
        },
        "kec-tekung": {"blanks_available": 9, "blanks_days_left": 0.75},
    }
    for station, fields in change.items():
        statuses[station] = dataclasses.replace(statuses[station], **fields)  # type: ignore[arg-type]
    return statuses


def seed_status(database: Database, statuses: list[StationStatus]) -> None:
    """Write rows as the status keeper does (its own upsert)."""
    StatusTable(database)
    with database.write() as cur:
        cur.executemany(database.sql(UPSERT), [status_row(status, None) for status in statuses])


def add_users(users: Users) -> None:
    for name, role, scope in (
        ("sari", DashboardRole.PETUGAS, "35.08"),  # Lumajang's officer
        ("joko", DashboardRole.PETUGAS, "35.09"),  # Jember's
        ("wati", DashboardRole.PENGAMAT, "35.08"),  # a viewer in Lumajang
        ("tono", DashboardRole.TEKNISI, "35"),  # Jawa Timur's technician
        ("nasional", DashboardRole.PENGAMAT, ""),  # the national operations centre
    ):
        users.add(
            name=name,
            display_name=name.capitalize() + " Wulandari",
            role=role,
            scope=scope,
            password=PASSWORD,
        )


def dashboard_context(
    database: Database, clock: Clock, *, settings: DashboardSection | None = None
) -> DashboardContext:
    return compose_context(
        database=database,
        settings=settings or DashboardSection(),
        clock=clock,
        fleet=fleet(),
        live=LiveFeed(markers=database_markers(database), interval_s=0.2),
        hasher=CHEAP,
    )
