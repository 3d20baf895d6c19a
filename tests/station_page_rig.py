"""A station with months of history, shipped to the centre: its register synthesised by
sim/history.py through the real register, its own config (for `appliance report`), and a
collector store that received every event over a private mosquitto from the station's
real uplink, checked and acknowledged by a real Collector."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from fastapi import FastAPI

from appliance.central import Database
from appliance.central._commands import CommandSender
from appliance.central._config import DashboardSection
from appliance.central._fleet import Fleet as CentralFleet
from appliance.central._scope import DashboardRole
from appliance.central.web import (
    DashboardContext,
    LiveFeed,
    compose_context,
    create_dashboard,
    database_markers,
)
from appliance.central.web._auth import SESSION_COOKIE
from appliance.clock import Clock
from appliance.register import read_events
from appliance.reports import TargetsSection
from appliance.sync import CollectorStore
from sim.history import history, write_history
from tests.central_dashboard_rig import CHEAP
from tests.sync_rig import Fleet, opened_store, running

STATION = "kec-sukodono"
DISTRICT = "350815"
OFFICE = "Kantor Kecamatan Sukodono"


@dataclass(frozen=True, slots=True)
class ShippedStation:
    fleet: Fleet
    config: Path
    """The station's own config: `appliance report --config` reads its register."""
    store_url: str
    head: int


def ship_history(
    directory: Path, *, first: date, last: date, per_day: int, store_url: str | None = None
) -> ShippedStation:
    """The station's months written through its register, then delivered to the centre."""
    return asyncio.run(
        shipped_history(directory, first=first, last=last, per_day=per_day, store_url=store_url)
    )


async def shipped_history(
    directory: Path, *, first: date, last: date, per_day: int, store_url: str | None = None
) -> ShippedStation:
    """`ship_history`, in a running event loop."""
    fleet = Fleet(directory, (STATION,), collector_store=store_url)
    station_dir = fleet.station_dir(STATION)
    events = history(first=first, last=last, per_day=per_day)
    head = write_history(
        station_dir / "register.sqlite3", fleet.keys[STATION], events, station_id=STATION
    )
    config = station_dir / "station.toml"
    config.write_text(
        f'[station]\nid = "{STATION}"\noffice = "{OFFICE}"\n\n'
        f'[paths]\nstate_dir = "{station_dir}"\n',
        encoding="utf-8",
    )
    await _deliver(fleet, head)
    return ShippedStation(fleet=fleet, config=config, store_url=fleet.store_url(), head=head)


def stored_history(
    directory: Path, store: CollectorStore, *, first: date, last: date, per_day: int
) -> Fleet:
    """The station's months written through its register, then its signed events
    ingested into `store` as the collector stores them (no uplink: no state messages),
    in the uplink's batches. Returns the fleet (keys, broker) they belong to."""
    fleet = Fleet(directory, (STATION,))
    register = fleet.station_dir(STATION) / "register.sqlite3"
    events = history(first=first, last=last, per_day=per_day)
    write_history(register, fleet.keys[STATION], events, station_id=STATION)
    signed = list(read_events(register))
    for start in range(0, len(signed), 500):
        store.ingest([(STATION, signed[start : start + 500])])
    return fleet


async def _deliver(fleet: Fleet, head: int) -> None:
    register = fleet.register(STATION)
    try:
        with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
            collector = fleet.collector(broker, store)
            uplink = fleet.uplink(register, broker, batch_max_events=500)
            async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
                async with asyncio.timeout(120):
                    await uplink.wait_acked(head)
    finally:
        register.close()


# -------------------------------------------------------------- the dashboard over it


@dataclass
class Dashboard:
    """The dashboard's app on a collector store and the central office's database, and
    a way to sign a user in (a session opened as the sign-in form opens one)."""

    app: FastAPI
    context: DashboardContext
    database: Database

    def add_user(self, name: str, role: DashboardRole, scope: str) -> None:
        self.context.users.add(
            name=name, display_name=name.title(), role=role, scope=scope, password=PASSWORD
        )

    def client(self, name: str) -> tuple[httpx.AsyncClient, str]:
        """An HTTP client of the app (in process) signed in as `name`, and its session's
        CSRF token."""
        user = self.context.users.get(name)
        assert user is not None
        token, session = self.context.sessions.open(user)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://127.0.0.1",
            cookies={SESSION_COOKIE: token},
        )
        return client, session.csrf


PASSWORD = "kata-sandi-pusat-1"  # noqa: S105 - a test user's


def dashboard(
    *,
    store: CollectorStore,
    database: Database,
    fleet: CentralFleet,
    clock: Clock,
    commands: CommandSender | None = None,
    targets: TargetsSection | None = None,
) -> Dashboard:
    context = compose_context(
        database=database,
        settings=DashboardSection(),
        clock=clock,
        fleet=fleet,
        live=LiveFeed(markers=database_markers(database)),
        hasher=CHEAP,
        store=store,
        targets=targets,
        commands=commands,
    )
    return Dashboard(app=create_dashboard(context), context=context, database=database)
