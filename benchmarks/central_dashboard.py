"""The central dashboard's server time at national scale, as one JSON object.

A throwaway PostgreSQL (sim/postgres.py) is filled with a nation's fleet: 7,277 stations
(`--quick`: 300), one per listed kecamatan of appliance.domain's region list (the first
7,277 district codes, registered in a fleet file), and 30 days (`--quick`: 7) of their
register events, copied in with COPY from an office's synthesised month (sim/history.py,
three sizes of office, 2, 3 or 5 applicants a working day, so about 65 to 160 events a
working day). The events are the register's real types and data, in the collector's own
schema (created by `open_store`), but **not signed**: their hashes and signatures are
placeholders of the right length, since no read the dashboard makes checks them and
signing 16 million events would take this machine an hour. Each station then gets what
the collector records beside its events, through the store's own methods: its birth
(some a death after it), its telemetry, its devices' status (a few in ERROR), a flag on
a few, a doctor report on some.

Then the dashboard's app (the composition `appliance central` serves) is driven in
process through httpx's ASGITransport by a signed-in user, and each page's server time is
taken per request (the wall time of the in-process request; the transport adds no
network):

- `overview_p95_ms`: the overview at national scope and at a regency's (target: <= 300);
- `station_page_p95_ms`: a station's page (target: <= 200);
- `db_size_mb`, `events`, `setup_s` (loading the events, the stations' records and the
  status rows).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import psycopg
from argon2 import PasswordHasher
from psycopg import sql

from appliance.central import Database
from appliance.central._commands import CommandSender
from appliance.central._config import DashboardSection
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._scope import DashboardRole
from appliance.central._status_keeper import StatusKeeper
from appliance.central.web import (
    DashboardContext,
    LiveFeed,
    compose_context,
    create_dashboard,
    database_markers,
)
from appliance.central.web._auth import SESSION_COOKIE
from appliance.clock import SystemClock
from appliance.domain import district_name, listed_districts
from appliance.logs import configure_logging
from appliance.register import StationKey
from appliance.reports import TargetsSection
from appliance.sync import BrokerSection, Flag, open_store
from appliance.sync._store import EVENT_COLUMNS
from appliance.sync._store_partitions import event_month, make_partitions
from sim.fleet import Scenario, SimStation
from sim.history import HistoryEvent, history
from sim.postgres import PrivatePostgres

STATIONS: Final = 7277
DAYS: Final = 30
_OFFICE_SIZES: Final = (2, 3, 5)
_HASH: Final = "0" * 64
_SIG: Final = "0" * 128
_COPY_CHUNK: Final = 4 << 20


def station_ids(count: int) -> list[tuple[str, str]]:
    """(station id, district) for the first `count` listed kecamatan."""
    districts = list(itertools.islice(listed_districts(), count))
    if len(districts) < count:
        raise SystemExit(f"the region list has {len(districts)} districts, not {count}")
    return [(f"kec-{code}", code) for code in districts]


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and newlines escaped."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _utc(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _templates(first: date, last: date, today: date) -> list[list[str]]:
    """Per office size, each event's row after (station, seq): ts, mono_ns, boot_id,
    clock_synced, type, app, data_json, prev_hash, hash, sig and the partition's month,
    in COPY text."""
    templates = []
    for size in _OFFICE_SIZES:
        events: list[HistoryEvent] = history(first=first, last=last, per_day=size, seed=size)
        rows = []
        for index, event in enumerate(events):
            ts = _utc(event.ts)
            month = event_month(ts[:7], today)
            data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
            app = "\\N" if event.app is None else _copy_text(event.app)
            rows.append(
                "\t".join(
                    (
                        ts,
                        str(index * 1_000_000),
                        "boot-1",
                        "t",
                        event.type,
                        app,
                        _copy_text(data),
                        _HASH,
                        _HASH,
                        _SIG,
                        "\\N" if month is None else month.isoformat(),
                    )
                )
                + "\n"
            )
        templates.append(rows)
    return templates


def _event_lines(
    stations: list[tuple[str, str]], templates: list[list[str]]
) -> Iterator[tuple[str, int]]:
    """Each station's COPY text, and its event count."""
    for index, (station, _district) in enumerate(stations):
        rows = templates[index % len(templates)]
        prefix = station + "\t"
        text = "".join(f"{prefix}{seq}\t{row}" for seq, row in enumerate(rows, start=1))
        yield text, len(rows)


def load_events(
    url: str, stations: list[tuple[str, str]], *, first: date, last: date
) -> dict[str, int]:
    """The stations' events by COPY into the partitioned `events` (their months'
    partitions made first, as the ingest makes them), and their rows in `stations`
    (head = stored_max = the last seq). Returns each station's head."""
    today = datetime.now(UTC).date()
    templates = _templates(first, last, today)
    months = {
        month
        for rows in templates
        for row in rows
        if (month := event_month(row[:7], today)) is not None
    }
    heads: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction(), conn.cursor() as cur:
            make_partitions(cur, months)
        buffer = io.StringIO()
        pending = 0
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY events ({EVENT_COLUMNS}, month) FROM STDIN") as copy,
        ):
            for (station, _), (text, count) in zip(
                stations, _event_lines(stations, templates), strict=True
            ):
                heads[station] = count
                buffer.write(text)
                pending += len(text)
                if pending >= _COPY_CHUNK:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                    pending = 0
            copy.write(buffer.getvalue())
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO stations (station, head, stored_max) "
                "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[])",
                (list(heads), list(heads.values()), list(heads.values())),
            )
    return heads


# ------------------------------------------------------- what the collector records beside


def _scenario(index: int) -> Scenario:
    """Most stations well; a few of each trouble the overview shows."""
    if index % 97 == 5:
        return Scenario(offline=True, version="1.4.1")
    if index % 89 == 7:
        return Scenario(device_error="card_printer", version="1.4.2")
    if index % 83 == 11:
        return Scenario(blanks=6, version="1.4.2")
    if index % 79 == 13:
        return Scenario(behind=120, version="1.4.2")
    if index % 101 == 17:
        return Scenario(clock_synced=False, version="1.4.2")
    return Scenario(version="1.4.2")


def _doctor_report(station: str) -> dict[str, Any]:
    finding = {"check": "config", "level": "ok", "text": {"id": "Konfigurasi sah", "en": "ok"}}
    return {"station": station, "level": "ok", "exit_code": 0, "findings": [finding]}


def _records_of(
    store_url: str, stations: list[tuple[str, str]], offset: int, now: datetime
) -> None:
    """One worker's share of the stations' births (and deaths), telemetry, devices, flags
    and doctor reports, through the store's own methods."""
    store = open_store(store_url)
    try:
        for index, (station, district) in enumerate(stations, start=offset):
            scenario = _scenario(index)
            simulated = SimStation(id=station, district=district, scenario=scenario)

            def at(delta: timedelta) -> str:
                return (now - delta).isoformat()

            birth = {"online": True, "bd_seq": 1, "version": scenario.version}
            store.record_state(station, birth, at=at(timedelta(days=DAYS, hours=index % 7)))
            if index % 13 == 0:  # a restart in the week: death and a new birth
                store.record_state(
                    station, {"online": False, "bd_seq": 1}, at=at(timedelta(days=3))
                )
                store.record_state(
                    station, {**birth, "bd_seq": 2}, at=at(timedelta(days=3, minutes=-20))
                )
            if scenario.offline:
                store.record_state(
                    station,
                    {"online": False, "bd_seq": 2 if index % 13 == 0 else 1},
                    at=at(timedelta(hours=2)),
                )
            statuses = simulated.device_statuses()
            for name in statuses:
                ready = {"state": "READY", "code": None, "reason": None}
                store.record_device(station, name, ready, at=at(timedelta(days=DAYS)))
            for name, status in statuses.items():
                if status["state"] != "READY":
                    store.record_device(station, name, status, at=at(timedelta(minutes=40)))
            store.record_telemetry(station, simulated.telemetry(now), at=at(timedelta(minutes=1)))
            if index % 199 == 3:
                store.flag(
                    Flag(
                        station,
                        "bad_signature",
                        12,
                        "signature does not verify",
                        at(timedelta(hours=5)),
                    )
                )
            if index % 10 == 0:
                store.record_doctor(station, _doctor_report(station), at=at(timedelta(days=1)))
    finally:
        store.close()


def record_stations(url: str, stations: list[tuple[str, str]], now: datetime) -> None:
    """Every station's records, on two connections at once (the store's writes are small
    transactions: the database's synchronous_commit is off for the setup, which a
    reader never notices)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(
                sql.Identifier(conn.info.dbname)
            )
        )
    half = len(stations) // 2
    with ThreadPoolExecutor(2) as workers:
        parts = [
            workers.submit(_records_of, url, stations[:half], 0, now),
            workers.submit(_records_of, url, stations[half:], half, now),
        ]
        for part in parts:
            part.result()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} RESET synchronous_commit").format(
                sql.Identifier(conn.info.dbname)
            )
        )
        conn.execute("ANALYZE")


def fleet_of(stations: list[tuple[str, str]]) -> Fleet:
    zone = ZoneInfo("Asia/Jakarta")
    return Fleet(
        stations=tuple(
            FleetStation(
                id=station, district=district, name=district_name(district) or district, zone=zone
            )
            for station, district in stations
        )
    )


def keep_status(url: str, fleet: Fleet, now: datetime) -> tuple[int, int]:
    """Every station's status row by the real StatusKeeper: passes until none is pending.
    Returns (passes, events folded)."""
    store = open_store(url)
    database = Database.open(url)
    try:
        keeper = StatusKeeper(
            store=store,
            database=database,
            fleet=fleet,
            clock=SystemClock(),
            max_events=50_000_000,
            max_events_per_station=1_000_000,
        )
        passes = folded = 0
        report = keeper.refresh(now)
        passes, folded = 1, report.events
        while report.pending:
            report = keeper.refresh(now + timedelta(minutes=passes))
            passes += 1
            folded += report.events
        return passes, folded
    finally:
        database.close()
        store.close()


def db_size_mb(url: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return round(int(row[0]) / (1 << 20), 1)


# ------------------------------------------------------------------------- measuring


CHEAP = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
"""argon2id at a test's cost: signing in is not what is measured."""


def _context(url: str, fleet: Fleet) -> tuple[DashboardContext, list[Any]]:
    """The dashboard's context as `appliance central` composes it (its own database
    connection and collector store object), and what to close."""
    clock = SystemClock()
    database = Database.open(url)
    store = open_store(url)
    context = compose_context(
        database=database,
        settings=DashboardSection(),
        clock=clock,
        fleet=fleet,
        live=LiveFeed(markers=database_markers(database)),
        hasher=CHEAP,
        store=store,
        targets=TargetsSection(),
        # Its log is what a station page reads; it connects to a broker only to send,
        # which the benchmark never does.
        commands=CommandSender(
            broker=BrokerSection(host="127.0.0.1"),
            resolve=lambda path: path,
            signing_key=StationKey.generate(),
            database=database,
            client_id="benchmark",
            clock=clock,
        ),
    )
    return context, [store, database]


async def _timed(client: httpx.AsyncClient, path: str, repeat: int) -> dict[str, float]:
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await client.get(path)
        took.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
    took.sort()
    return {
        "p50_ms": round(statistics.median(took), 1),
        "p95_ms": round(took[max(0, int(len(took) * 0.95 + 0.5) - 1)], 1),
        "max_ms": round(took[-1], 1),
        "requests": repeat,
    }


async def _measure_pages(
    context: DashboardContext, stations: list[tuple[str, str]], repeat: int
) -> dict[str, Any]:
    app = create_dashboard(context)
    regency = stations[len(stations) // 2][1][:4]
    context.users.add(
        name="nasional",
        display_name="Nasional",
        role=DashboardRole.TEKNISI,
        scope="",
        password=_PASSWORD,
    )
    context.users.add(
        name="kabupaten",
        display_name="Kabupaten",
        role=DashboardRole.TEKNISI,
        scope=regency,
        password=_PASSWORD,
    )
    results: dict[str, Any] = {
        "regency": regency,
        "regency_stations": len(context.fleet.in_scope(regency)),
    }
    transport = httpx.ASGITransport(app=app)
    for name in ("nasional", "kabupaten"):
        user = context.users.get(name)
        assert user is not None
        token, _ = context.sessions.open(user)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies={SESSION_COOKIE: token}
        ) as client:
            await client.get("/ikhtisar")  # templates compiled, caches warm
            results[f"overview_{name}"] = await _timed(client, "/ikhtisar", repeat)
            if name == "kabupaten":
                in_scope = [s for s, d in stations if d.startswith(regency)]
                pages = []
                for index in range(repeat):
                    station = in_scope[index % len(in_scope)]
                    pages.append(await _timed(client, f"/stasiun/{station}", 1))
                took = sorted(p["p50_ms"] for p in pages)
                results["station_page"] = {
                    "p50_ms": round(statistics.median(took), 1),
                    "p95_ms": round(took[max(0, int(len(took) * 0.95 + 0.5) - 1)], 1),
                    "max_ms": round(took[-1], 1),
                    "requests": repeat,
                    "stations": len(in_scope),
                }
    if context.commands is not None:
        await context.commands.close()
    return results


_PASSWORD = "kata-sandi-benchmark-1"  # noqa: S105 - a throwaway database's user


def measure(quick: bool) -> dict[str, Any]:  # noqa: FBT001 - the benchmarks' one signature
    count = 300 if quick else STATIONS
    days = 7 if quick else DAYS
    repeat = 20 if quick else 100
    now = datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=days)
    stations = station_ids(count)
    fleet = fleet_of(stations)
    with (
        tempfile.TemporaryDirectory(prefix="ktpel-dash-") as tmp,
        PrivatePostgres(directory=Path(tmp)) as server,
    ):
        url = server.fresh_database("dashboard")
        started = time.perf_counter()
        open_store(url).close()  # the collector's schema, as the collector makes it
        heads = load_events(url, stations, first=first, last=today)
        events_s = time.perf_counter() - started
        started = time.perf_counter()
        record_stations(url, stations, now)
        records_s = time.perf_counter() - started
        started = time.perf_counter()
        passes, folded = keep_status(url, fleet, now)
        status_s = time.perf_counter() - started
        context, opened = _context(url, fleet)
        try:
            pages = asyncio.run(_measure_pages(context, stations, repeat))
        finally:
            for thing in opened:
                thing.close()
        overview_national = pages["overview_nasional"]
        overview_regency = pages["overview_kabupaten"]
        station_page = pages["station_page"]
        return {
            "quick": quick,
            "stations": count,
            "days": days,
            "events": sum(heads.values()),
            "events_signed": False,
            "db_size_mb": db_size_mb(url),
            "setup_s": {
                "events_copy": round(events_s, 1),
                "station_records": round(records_s, 1),
                "status_keeper": round(status_s, 1),
                "status_passes": passes,
                "status_events_folded": folded,
            },
            "overview_p95_ms": {
                "national": overview_national["p95_ms"],
                "regency": overview_regency["p95_ms"],
                "target": 300,
            },
            "station_page_p95_ms": {"value": station_page["p95_ms"], "target": 200},
            "detail": {
                "overview_national": overview_national,
                "overview_regency": {
                    **overview_regency,
                    "regency": pages["regency"],
                    "stations": pages["regency_stations"],
                },
                "station_page": station_page,
            },
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 stations, 7 days")
    args = parser.parse_args(argv)
    configure_logging(level="warning")  # stdout is for the JSON
    json.dump(measure(args.quick), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
