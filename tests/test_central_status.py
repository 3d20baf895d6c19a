"""The station status table end to end: simulated stations (sim/fleet.py) publish over a
private mosquitto to a real Collector, the StatusKeeper turns the collector store into
one row per station, and every field of StationStatus is checked against what the
stations said; time moves by the injectable clock. On SQLite and on a throwaway
PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance._secrets import write_secret_file
from appliance.central._database import Database
from appliance.central._fleet import Fleet, FleetSection
from appliance.central._status import StationStatus, StatusTable
from appliance.central._status_keeper import StatusKeeper
from appliance.clock import ManualClock
from appliance.domain import EventType
from appliance.oversight import Period, PeriodKind, figures, shown
from appliance.register import Event, StationKey, format_ts
from appliance.sync import (
    BrokerSection,
    Collector,
    CollectorSection,
    CollectorStore,
    StationKeys,
    open_store,
)
from sim.broker import PrivateMosquitto, fleet_acl
from sim.fleet import Scenario, SimFleet, SimStation
from sim.postgres import PrivatePostgres

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 8, 16, 0, tzinfo=JAKARTA)  # a Tuesday, after service hours
AT = "2026-12-08T09:00:00.000000Z"
CENTRAL = "central"


def password(user: str) -> str:
    return f"pw-{user}"


def stations() -> list[SimStation]:
    plan = [
        ("kec-tempursari", "350801", Scenario()),
        ("kec-pronojiwo", "350802", Scenario(offline=True)),
        ("kec-candipuro", "350803", Scenario(behind=40)),
        ("kec-pasirian", "350804", Scenario(device_error="card_printer")),
        ("kec-tarik", "351501", Scenario(blanks=4)),
        ("kec-tamu", "350805", Scenario(clock_synced=False, disk_low=True)),
    ]
    made = []
    for ident, district, scenario in plan:
        station = SimStation(id=ident, district=district, scenario=scenario)
        station.add_days(first=date(2026, 11, 16), last=date(2026, 12, 8), per_day=3)
        made.append(station)
    return made


@dataclass
class Rig:
    directory: Path
    clock: ManualClock
    fleet: SimFleet
    collector: Collector
    store: CollectorStore
    """The keeper's own store object (the collector has its own)."""
    database: Database

    def keeper(self, **options: Any) -> StatusKeeper:
        return StatusKeeper(
            store=self.store,
            database=self.database,
            fleet=Fleet.load(self.directory / "fleet.toml"),
            clock=self.clock,
            hours=FleetSection(),
            **options,
        )

    def now_text(self) -> str:
        return format_ts(self.clock.wall_ns())

    async def until(self, condition: Any) -> None:
        async with asyncio.timeout(30):
            await self.collector.wait_until(condition)


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(collector store, central database)."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'collector.sqlite3'}", f"sqlite:{tmp_path / 'dashboard.sqlite3'}"
        return
    server: PrivatePostgres = request.getfixturevalue("postgres")
    url = server.fresh_database(f"status_{uuid.uuid4().hex[:12]}")
    yield url, url


@contextlib.asynccontextmanager
async def rig(directory: Path, urls: tuple[str, str]) -> AsyncIterator[Rig]:
    clock = ManualClock(wall_ns=int(NOW.timestamp()) * 1_000_000_000)
    sims = stations()
    users = {s.id: password(s.id) for s in sims} | {CENTRAL: password(CENTRAL)}
    broker = PrivateMosquitto(directory=directory / "broker", users=users, acl=fleet_acl())
    write_secret_file(directory / "mqtt.password", password(CENTRAL).encode())
    key = StationKey.generate()
    with broker:
        fleet = SimFleet(
            stations=sims,
            host=broker.host,
            port=broker.port,
            password=password,
            now=lambda: datetime.fromtimestamp(clock.wall_ns() / 1e9, JAKARTA),
        )
        fleet.register_keys(directory / "stations")
        fleet.write_fleet_file(
            directory / "fleet.toml", only=[s.id for s in sims if s.id != "kec-tamu"]
        )
        collector_store = open_store(urls[0])
        collector = Collector(
            settings=CollectorSection(id="c1", state_dir=directory, reconnect_min_s=0.05),
            broker=BrokerSection(
                host=broker.host,
                port=broker.port,
                username=CENTRAL,
                password_file=directory / "mqtt.password",
                keepalive_s=5,
            ),
            resolve=lambda path: path if path.is_absolute() else directory / path,
            store=collector_store,
            keys=StationKeys(directory=directory / "stations"),
            signing_key=key,
            clock=clock,
        )
        task = asyncio.create_task(collector.run(), name="collector")
        store = open_store(urls[0])
        database = Database.open(urls[1])
        try:
            async with asyncio.timeout(30):
                await collector.connected.wait()
            yield Rig(directory, clock, fleet, collector, store, database)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            collector.close()
            collector_store.close()
            store.close()
            database.close()


def local_day(event: Event) -> date:
    return datetime.fromisoformat(event.ts).astimezone(JAKARTA).date()


def count(events: list[Event], kind: EventType, day: date) -> int:
    return sum(e.type == kind and local_day(e) == day for e in events)


def expected_use(events: list[Event], today: date) -> float:
    """Blanks issued or spoiled per working day over the 10 before today (no holiday
    falls in these weeks of 2026)."""
    days: list[date] = []
    day = today - timedelta(days=1)
    while len(days) < 10:
        if day.isoweekday() <= 5:
            days.append(day)
        day -= timedelta(days=1)
    used = sum(
        e.type in {EventType.BLANK_ISSUED, EventType.BLANK_SPOILED} and local_day(e) in days
        for e in events
    )
    return used / 10


def overdue_open(events: list[Event]) -> int:
    late = {e.app for e in events if e.type == EventType.APPLICATION_OVERDUE}
    ended = {
        e.app
        for e in events
        if e.type in {EventType.APPLICATION_COMPLETED, EventType.APPLICATION_RETURNED}
    }
    return len(late - ended)


def complaints_past(events: list[Event], now: datetime) -> int:
    due: dict[str, datetime] = {}
    escalated: set[str] = set()
    for e in events:
        number = str(e.data.get("number"))
        received = e.type == EventType.COMPLAINT_RECEIVED
        if received or (e.type == EventType.COMPLAINT_VERIFIED and number in due):
            due[number] = datetime.fromisoformat(e.data["due"])
        elif e.type == EventType.COMPLAINT_ESCALATED:
            escalated.add(number)
        elif e.type == EventType.COMPLAINT_CLOSED:
            due.pop(number, None)
    return sum(n in escalated or d <= now for n, d in due.items())


def check_event_figures(status: StationStatus, station: SimStation, now: datetime) -> None:
    events = station.published
    today = now.astimezone(JAKARTA).date()
    assert status.served_today == count(events, EventType.APPLICATION_COMPLETED, today)
    assert status.returned_today == count(events, EventType.APPLICATION_RETURNED, today)
    assert status.certificates_today == count(events, EventType.SURAT_KETERANGAN_ISSUED, today)
    assert status.breaches_today == count(events, EventType.STEP_BREACHED, today)
    assert status.overdue_promises == overdue_open(events)
    assert status.complaints_overdue == complaints_past(events, now)
    quarter = Period.containing(today, PeriodKind.QUARTER)
    index = figures(events, quarter, JAKARTA).survey.index
    assert index is not None
    assert status.ikm == f"{shown(index.ikm)}"
    assert status.ikm_grade == index.grade.value
    assert status.ikm_period == str(quarter)
    assert status.blanks_daily_use == pytest.approx(expected_use(events, today), abs=0.005)


async def test_status_rows_from_a_simulated_fleet_through_a_real_collector(
    tmp_path: Path, urls: tuple[str, str]
) -> None:
    async with rig(tmp_path, urls) as r:
        sims = {s.id: s for s in r.fleet.stations}
        await r.fleet.publish()
        at = f"{NOW.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%S.%fZ}"

        def arrived() -> bool:
            overview = {o.station: o for o in r.store.overview()}
            return all(
                s in overview
                and overview[s].head == len(sim.published)
                and overview[s].telemetry is not None
                and len(overview[s].devices) == 4
                and overview[s].online is (not sim.scenario.offline)
                for s, sim in sims.items()
            )

        await r.until(arrived)
        keeper = r.keeper()
        report = keeper.refresh()
        assert report.full
        assert report.rows == len(sims)
        assert report.pending == 0
        table = StatusTable(r.database)
        check_first_pass(table, sims, at)
        check_scopes(table)
        await check_later_passes(r, keeper, table, sims, at)


def check_first_pass(table: StatusTable, sims: dict[str, SimStation], at: str) -> None:
    ok = table.get("kec-tempursari")
    assert ok is not None
    assert (ok.district, ok.regency, ok.province, ok.name) == (
        "350801",
        "3508",
        "35",
        "Tempursari",
    )
    assert (ok.online, ok.online_since, ok.bd_seq, ok.flaps_24h) == (True, at, 1, 0)
    assert (ok.last_seen, ok.head) == (at, len(sims["kec-tempursari"].events))
    assert (ok.backlog, ok.backlog_oldest_ts) == (0, None)
    assert (ok.devices_fault, ok.device_error_since) == ((), None)
    assert ok.blanks_available == 300
    assert ok.blanks_daily_use is not None
    assert ok.blanks_days_left == pytest.approx(round(300 / ok.blanks_daily_use, 1))
    check_event_figures(ok, sims["kec-tempursari"], NOW)
    assert (ok.version, ok.clock_synced, ok.disk_low, ok.disk_refusing) == (
        "1.0.0",
        True,
        False,
        False,
    )
    assert (ok.flags, ok.last_flag_kind, ok.updated_at) == (0, None, at)

    offline = table.get("kec-pronojiwo")
    assert offline is not None
    assert (offline.online, offline.online_since, offline.flaps_24h) == (False, at, 1)
    check_event_figures(offline, sims["kec-pronojiwo"], NOW)

    behind = table.get("kec-candipuro")
    assert behind is not None
    candipuro = sims["kec-candipuro"]
    assert behind.backlog == 40
    assert behind.backlog_oldest_ts == candipuro.events[-40].ts
    assert behind.head == len(candipuro.events) - 40
    check_event_figures(behind, candipuro, NOW)

    fault = table.get("kec-pasirian")
    assert fault is not None
    assert (fault.devices_fault, fault.device_error_since) == (("card_printer",), at)

    low = table.get("kec-tarik")
    assert low is not None
    assert low.blanks_available == 4
    assert low.blanks_daily_use
    assert low.blanks_days_left == round(4 / low.blanks_daily_use, 1)
    assert low.blanks_days_left < 3

    unregistered = table.get("kec-tamu")
    assert unregistered is not None
    assert (unregistered.district, unregistered.province, unregistered.name) == ("", "", "")
    assert (unregistered.clock_synced, unregistered.disk_low) == (False, True)


def check_scopes(table: StatusTable) -> None:
    # Scopes: a regency sees its four, a province its five, the nation all six with
    # the unregistered station last.
    assert [s.station for s in table.rows("3508")] == [
        "kec-tempursari",
        "kec-pronojiwo",
        "kec-candipuro",
        "kec-pasirian",
    ]
    assert [s.station for s in table.rows("3515")] == ["kec-tarik"]
    assert [s.station for s in table.rows("35", regency="3515")] == ["kec-tarik"]
    assert table.rows("3508", regency="3515") == []
    assert table.rows("32") == []
    everyone = table.rows()
    assert len(everyone) == 6
    assert everyone[-1].station == "kec-tamu"
    summary = table.summary("3508")
    assert (summary.stations, summary.online, summary.offline, summary.never_seen) == (
        4,
        3,
        1,
        0,
    )
    assert (summary.behind, summary.device_fault, summary.blanks_low) == (1, 1, 0)
    assert (summary.unregistered, summary.clock_unsynced) == (0, 0)
    national = table.summary("")
    assert (national.stations, national.blanks_low, national.unregistered) == (6, 1, 1)
    assert (national.clock_unsynced, national.disk_low, national.flagged) == (1, 1, 0)


async def check_later_passes(
    r: Rig, keeper: StatusKeeper, table: StatusTable, sims: dict[str, SimStation], at: str
) -> None:
    # Within the full pass's minute, only what changed is recomputed: the printer is
    # cleared, and the row follows.
    r.clock.advance(5)
    assert keeper.refresh().rows == 0
    ready = {"state": "READY", "code": None, "reason": None}
    await r.fleet.device(sims["kec-pasirian"], "card_printer", ready)

    def cleared() -> bool:
        (overview,) = r.store.overview(["kec-pasirian"])
        return bool(overview.devices["card_printer"]["state"] == "READY")

    await r.until(cleared)
    r.clock.advance(5)
    report = keeper.refresh()
    assert (report.full, report.rows) == (False, 1)
    fixed = table.get("kec-pasirian")
    assert fixed is not None
    assert (fixed.devices_fault, fixed.device_error_since) == ((), None)

    # The offline station comes back (a new session, bd_seq 2), and someone with a
    # station's password sends a forged death: flagged, not applied.
    r.clock.advance(5)
    back_at = r.now_text()
    pronojiwo = sims["kec-pronojiwo"]
    pronojiwo.scenario = replace(pronojiwo.scenario, offline=False)
    await r.fleet.publish_station(pronojiwo)
    await r.fleet.forge_death(sims["kec-tarik"])
    # A new session with no death heard between (a link that dropped without a will).
    await r.fleet.publish_station(sims["kec-tempursari"])
    watched = ["kec-pronojiwo", "kec-tarik", "kec-tempursari"]

    def heard() -> bool:
        overviews = {o.station: o for o in r.store.overview(watched)}
        return (
            overviews["kec-pronojiwo"].online is True
            and overviews["kec-tarik"].flags > 0
            and overviews["kec-tempursari"].bd_seq == 2
        )

    await r.until(heard)
    r.clock.advance(5)
    assert keeper.refresh().rows == 3
    again = table.get("kec-tempursari")
    assert again is not None
    assert (again.online, again.online_since, again.bd_seq, again.flaps_24h) == (
        True,
        back_at,
        2,
        1,
    )
    returned = table.get("kec-pronojiwo")
    assert returned is not None
    assert (returned.online, returned.online_since, returned.bd_seq) == (True, back_at, 2)
    assert returned.flaps_24h == 1
    flagged = table.get("kec-tarik")
    assert flagged is not None
    assert (flagged.online, flagged.flags, flagged.last_flag_kind) == (True, 1, "bad_signature")
    assert flagged.forgery_kind == "bad_signature"
    assert flagged.forgery_at is not None

    # A day later, with nothing heard: today's counts start again, the rest stands.
    r.clock.advance(86_400)
    tomorrow = NOW + timedelta(days=1)
    assert keeper.refresh().full
    later = table.get("kec-tempursari")
    assert later is not None
    assert (later.served_today, later.certificates_today, later.breaches_today) == (0, 0, 0)
    assert later.online_since == back_at
    check_event_figures(later, sims["kec-tempursari"], tomorrow)


def test_a_pass_reads_a_bounded_number_of_events_and_the_rest_follows(tmp_path: Path) -> None:
    store = open_store(f"sqlite:{tmp_path / 'collector.sqlite3'}")
    database = Database.open(f"sqlite:{tmp_path / 'dashboard.sqlite3'}")
    clock = ManualClock(wall_ns=int(NOW.timestamp()) * 1_000_000_000)
    sims = []
    for number in range(3):
        station = SimStation(id=f"kec-{number}", district=f"35080{number + 1}")
        station.add_days(first=date(2026, 11, 23), last=date(2026, 12, 8), per_day=3)
        store.ingest([(station.id, station.events)])
        store.record_telemetry(station.id, station.telemetry(NOW), at=AT)
        sims.append(station)
    fleet = Fleet()
    try:
        bounded = StatusKeeper(
            store=store,
            database=database,
            fleet=fleet,
            clock=clock,
            max_events=500,
            station_interval_s=10,
        )
        first = bounded.refresh()
        assert first.events == 500
        assert first.pending >= 2
        passes = 1
        while bounded.refresh().pending:
            clock.advance(11)
            passes += 1
            assert passes < 50
        bounded_rows = {s.station: s for s in StatusTable(database).rows()}
        # An unbounded keeper on a database of its own computes the same rows at once.
        other = Database.open(f"sqlite:{tmp_path / 'other.sqlite3'}")
        try:
            whole = StatusKeeper(store=store, database=other, fleet=fleet, clock=clock)
            assert whole.refresh().pending == 0
            whole_rows = {s.station: s for s in StatusTable(other).rows()}
        finally:
            other.close()
        assert bounded_rows.keys() == whole_rows.keys() == {s.id for s in sims}
        for ident, row in bounded_rows.items():
            assert replace(row, updated_at="") == replace(whole_rows[ident], updated_at="")
            assert row.served_today is not None
            assert row.head == len(sims[int(ident[-1])].events)
    finally:
        store.close()
        database.close()


def test_two_keepers_on_one_database_count_each_event_once(
    tmp_path: Path, urls: tuple[str, str]
) -> None:
    """Several central processes keep the same rows: whichever folds a station's new
    events, each is counted once, and the rows end as one keeper alone makes them."""
    store = open_store(urls[0])
    databases = [Database.open(urls[1]), Database.open(urls[1])]
    alone = Database.open(f"sqlite:{tmp_path / 'alone.sqlite3'}")
    clock = ManualClock(wall_ns=int(NOW.timestamp()) * 1_000_000_000)
    sims = []
    for number in range(4):
        station = SimStation(id=f"kec-{number}", district=f"35080{number + 1}")
        station.add_days(first=date(2026, 11, 30), last=date(2026, 12, 8), per_day=3)
        sims.append(station)
    try:
        keepers = [
            StatusKeeper(
                store=store,
                database=database,
                fleet=Fleet(),
                clock=clock,
                max_events=300,
                station_interval_s=10,
                full_every_s=30,
            )
            for database in databases
        ]
        shipped = dict.fromkeys((s.id for s in sims), 0)
        for turn in range(40):
            # The stations ship their registers in pieces while the keepers take turns.
            for station in sims:
                upto = min(len(station.events), shipped[station.id] + 90)
                if upto > shipped[station.id]:
                    store.ingest([(station.id, station.events[shipped[station.id] : upto])])
                    shipped[station.id] = upto
            keepers[turn % 2].refresh()
            clock.advance(6)
        while any(keeper.refresh().pending for keeper in keepers):
            clock.advance(11)
        assert shipped == {s.id: len(s.events) for s in sims}
        StatusKeeper(store=store, database=alone, fleet=Fleet(), clock=clock).refresh()
        expected = {s.station: replace(s, updated_at="") for s in StatusTable(alone).rows()}
        got = {s.station: replace(s, updated_at="") for s in StatusTable(databases[0]).rows()}
        assert got == expected
        assert all(s.served_today is not None for s in got.values())
    finally:
        store.close()
        alone.close()
        for database in databases:
            database.close()


async def test_run_passes_on_its_thread_until_cancelled(tmp_path: Path) -> None:
    store = open_store(f"sqlite:{tmp_path / 'collector.sqlite3'}")
    database = Database.open(f"sqlite:{tmp_path / 'dashboard.sqlite3'}")
    station = SimStation(id="kec-a", district="350801")
    station.add_days(first=date(2026, 12, 7), last=date(2026, 12, 8), per_day=2)
    store.ingest([(station.id, station.events)])
    store.record_telemetry(station.id, station.telemetry(NOW), at=AT)
    clock = ManualClock(wall_ns=int(NOW.timestamp()) * 1_000_000_000)
    keeper = StatusKeeper(
        store=store, database=database, fleet=Fleet(), clock=clock, interval_s=0.01
    )
    task = asyncio.create_task(keeper.run(), name="status-keeper")
    try:
        async with asyncio.timeout(30):
            await keeper.wait_passes(2)
        row = StatusTable(database).get("kec-a")
        assert row is not None
        assert row.head == len(station.events)
        assert row.blanks_available == 300
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()
        database.close()
