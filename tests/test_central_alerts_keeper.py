"""The alert keeper over the status table, driven pass by pass at the times a test
chooses, on SQLite and on a throwaway PostgreSQL: alerts open past their threshold, are
acknowledged, close when the cause clears, open anew when it returns; two keepers on one
PostgreSQL open each alert once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from appliance.central._alert_keeper import AlertKeeper, fleet_calendars
from appliance.central._alert_store import Alert, AlertState, AlertStore
from appliance.central._alerts import AlertsSection, Severity
from appliance.central._database import Database
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._status import StatusTable
from sim.postgres import PrivatePostgres

from .central_alerts_rig import HOURS, WIB, WIT, drop_status, healthy, put_status, text, wib

FLEET = Fleet(
    stations=(
        FleetStation("kec-sukodono", "350801", "Sukodono", WIB),
        FleetStation("kec-abepura", "947101", "Abepura", WIT),
    ),
    default_zone=WIB,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'central.sqlite3'}"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.fresh_database(f"keeper_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = Database.open(database_url)
    yield opened
    opened.close()


def keeper_on(database: Database, settings: AlertsSection | None = None) -> AlertKeeper:
    return AlertKeeper(
        settings=settings or AlertsSection(),
        store=AlertStore(database=database),
        statuses=StatusTable(database),
        calendar=fleet_calendars(FLEET, HOURS),
        broker=None,
        resolve=lambda path: path,
        identifier="test",
    )


def summary(alerts: list[Alert]) -> list[tuple[str, str, AlertState]]:
    return sorted((a.station, a.rule, a.state) for a in alerts)


def test_an_offline_station_is_an_alert_after_fifteen_minutes_of_service(
    database: Database,
) -> None:
    keeper = keeper_on(database)
    store = AlertStore(database=database)
    put_status(database, healthy(online=False, online_since=text(wib(7, 9))))

    assert keeper.evaluate(wib(7, 9, 14)) == []
    opened = keeper.evaluate(wib(7, 9, 16))
    assert summary(opened) == [("kec-sukodono", "offline", AlertState.OPEN)]
    assert opened[0].severity is Severity.KRITIS
    assert opened[0].district == "350801"
    assert keeper.evaluate(wib(7, 9, 30)) == [], "still the same alert"

    taken = store.acknowledge(opened[0].id, by="petugas-3508", at=wib(7, 9, 40), scope="3508")
    assert taken.state is AlertState.ACKNOWLEDGED
    assert keeper.evaluate(wib(7, 9, 45)) == [], "acknowledged is not closed"

    put_status(database, healthy(online=True, online_since=text(wib(7, 10))))
    closed = keeper.evaluate(wib(7, 10))
    assert summary(closed) == [("kec-sukodono", "offline", AlertState.CLOSED)]
    assert closed[0].acknowledged_by == "petugas-3508"
    assert store.open_alerts() == []

    # The cause returns: a new alert, the history keeps both.
    put_status(database, healthy(online=False, online_since=text(wib(7, 11))))
    reopened = keeper.evaluate(wib(7, 11, 20))
    assert summary(reopened) == [("kec-sukodono", "offline", AlertState.OPEN)]
    assert reopened[0].id != opened[0].id
    assert [a.state for a in store.history("kec-sukodono")] == [
        AlertState.OPEN,
        AlertState.CLOSED,
    ]


def test_offline_overnight_is_no_alert_until_the_morning_s_service(database: Database) -> None:
    keeper = keeper_on(database)
    put_status(database, healthy(online=False, online_since=text(wib(7, 15, 30))))
    for moment in (wib(7, 16), wib(7, 23, 59), wib(8, 6), wib(8, 8, 15)):
        assert keeper.evaluate(moment) == [], moment
    assert summary(keeper.evaluate(wib(8, 8, 16))) == [("kec-sukodono", "offline", AlertState.OPEN)]


def test_each_rule_opens_its_alert_and_closes_when_it_clears(database: Database) -> None:
    keeper = keeper_on(database)
    now = wib(7, 11)
    troubled = healthy(
        backlog=300,
        backlog_oldest_ts=text(wib(7, 9)),
        devices_fault=("card_printer",),
        device_error_since=text(wib(7, 10)),
        blanks_available=20,
        blanks_days_left=1.0,
        clock_synced=False,
        disk_low=True,
        flags=1,
        last_flag_kind="chain_break",
        forgery_kind="chain_break",
        forgery_at=text(wib(7, 10)),
    )
    put_status(database, troubled)
    assert summary(keeper.evaluate(now)) == [
        ("kec-sukodono", rule, AlertState.OPEN)
        for rule in ("backlog", "blanks", "clock", "device_error", "disk", "forgery")
    ]
    flagged = healthy(
        flags=1,
        last_flag_kind="chain_break",
        forgery_kind="chain_break",
        forgery_at=text(wib(7, 10)),
    )
    put_status(database, flagged)
    assert summary(keeper.evaluate(now)) == [
        ("kec-sukodono", rule, AlertState.CLOSED)
        for rule in ("backlog", "blanks", "clock", "device_error", "disk")
    ]
    assert [a.rule for a in AlertStore(database=database).open_alerts()] == ["forgery"]
    # A flag is a moment: its alert closes when its window has passed with no new one.
    assert summary(keeper.evaluate(wib(7, 10) + timedelta(hours=73))) == [
        ("kec-sukodono", "forgery", AlertState.CLOSED)
    ]


def test_a_rule_switched_off_or_a_station_gone_closes_its_alerts(database: Database) -> None:
    put_status(
        database,
        healthy(clock_synced=False),
        healthy(station="kec-abepura", district="947101", disk_low=True),
    )
    assert len(keeper_on(database).evaluate(wib(7, 10))) == 2
    quiet = keeper_on(database, AlertsSection.model_validate({"clock": {"enabled": False}}))
    assert summary(quiet.evaluate(wib(7, 10, 1))) == [("kec-sukodono", "clock", AlertState.CLOSED)]
    drop_status(database, "kec-abepura")
    assert summary(quiet.evaluate(wib(7, 10, 2))) == [("kec-abepura", "disk", AlertState.CLOSED)]


def test_an_alert_follows_its_station_to_another_district(database: Database) -> None:
    keeper = keeper_on(database)
    store = AlertStore(database=database)
    put_status(database, healthy(clock_synced=False, district=""))
    keeper.evaluate(wib(7, 10))
    assert store.open_alerts("35") == [], "unregistered: national scope only"
    put_status(database, healthy(clock_synced=False))
    keeper.evaluate(wib(7, 10, 1))
    assert [a.rule for a in store.open_alerts("3508")] == ["clock"]


def test_two_keepers_on_one_postgresql_open_each_alert_once(
    postgres: PrivatePostgres,
) -> None:
    url = postgres.fresh_database(f"keepers_{uuid.uuid4().hex[:12]}")
    databases = [Database.open(url) for _ in range(2)]
    try:
        stations = [
            healthy(
                station=f"kec-{number:03d}",
                online=False,
                online_since=text(wib(7, 9)),
                clock_synced=False,
            )
            for number in range(40)
        ]
        put_status(databases[0], *stations)
        keepers = [keeper_on(database) for database in databases]
        moments = [wib(7, 9, 20), wib(7, 9, 21)]
        done: list[list[Alert]] = [[], []]
        start = threading.Barrier(2)

        def run(index: int) -> None:
            for moment in moments:
                start.wait()
                done[index].extend(keepers[index].evaluate(moment))

        threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        opened = [alert for alerts in done for alert in alerts]
        assert len(opened) == 80, "each (station, rule) opened by one keeper only"
        assert len({(a.station, a.rule) for a in opened}) == 80
        store = AlertStore(database=databases[0])
        assert store.counts().open == {Severity.KRITIS: 40, Severity.PERINGATAN: 40}

        put_status(databases[0], *(replace(s, online=True, clock_synced=True) for s in stations))
        closing: list[list[Alert]] = [[], []]

        def close(index: int) -> None:
            start.wait()
            closing[index].extend(keepers[index].evaluate(wib(7, 10)))

        threads = [threading.Thread(target=close, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len([a for alerts in closing for a in alerts]) == 80, "each closed once"
        assert store.counts().total == 0
    finally:
        for database in databases:
            database.close()
