"""The alerts' lifecycle in the central office's database, on SQLite and on a throwaway
PostgreSQL: opened once per (station, rule) however many processes try, acknowledged by a
person, closed when the cause clears, opened anew when it returns; refusals with stable
codes that change nothing; reads by scope."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance._text import Text
from appliance.central._alert_store import (
    NOTE_MAX,
    AlertError,
    AlertState,
    AlertStore,
)
from appliance.central._alerts import Severity
from appliance.central._database import Database
from sim.postgres import PrivatePostgres

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
TEXT = Text("Stasiun luring.", "Station offline.")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'central.sqlite3'}"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.fresh_database(f"alerts_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = Database.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def store(database: Database) -> AlertStore:
    return AlertStore(database=database)


def open_alert(
    store: AlertStore,
    station: str = "kec-sukodono",
    rule: str = "offline",
    *,
    district: str = "350801",
    severity: Severity = Severity.KRITIS,
    at: datetime = T0,
) -> int | None:
    alert = store.open(
        station=station, district=district, rule=rule, severity=severity, text=TEXT, at=at
    )
    return None if alert is None else alert.id


def refused(code: str, call: object) -> AlertError:
    assert callable(call)
    with pytest.raises(AlertError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


def test_an_alert_opens_once_is_acknowledged_and_closes_when_its_cause_clears(
    store: AlertStore,
) -> None:
    first = open_alert(store)
    assert first is not None
    assert open_alert(store, at=T0 + timedelta(minutes=1)) is None, "one open per (station, rule)"
    other_rule = open_alert(store, rule="clock", severity=Severity.PERINGATAN)
    assert other_rule is not None
    assert other_rule != first

    opened = store.get(first)
    assert opened is not None
    assert opened.state is AlertState.OPEN
    assert opened.text == TEXT
    assert opened.opened_at == "2026-12-07T02:00:00.000000Z"

    acknowledged = store.acknowledge(
        first, by="petugas-lumajang", at=T0 + timedelta(minutes=5), note="  Menelepon camat. "
    )
    assert acknowledged.state is AlertState.ACKNOWLEDGED
    assert acknowledged.acknowledged_by == "petugas-lumajang"
    assert acknowledged.acknowledged_at == "2026-12-07T02:05:00.000000Z"
    assert acknowledged.note == "Menelepon camat."
    # Still the one open alert of its (station, rule): the cause has not cleared.
    assert open_alert(store, at=T0 + timedelta(minutes=6)) is None

    closed = store.close(station="kec-sukodono", rule="offline", at=T0 + timedelta(minutes=9))
    assert closed is not None
    assert closed.id == first
    assert closed.state is AlertState.CLOSED
    assert closed.closed_at == "2026-12-07T02:09:00.000000Z"
    assert closed.acknowledged_by == "petugas-lumajang", "closing keeps who took it"
    assert store.close(station="kec-sukodono", rule="offline", at=T0) is None, "closed once"
    assert [a.id for a in store.open_alerts()] == [other_rule]


def test_a_cause_that_returns_opens_a_new_alert_and_the_history_keeps_both(
    store: AlertStore,
) -> None:
    first = open_alert(store)
    store.close(station="kec-sukodono", rule="offline", at=T0 + timedelta(minutes=30))
    second = open_alert(store, at=T0 + timedelta(hours=2))
    assert second is not None
    assert second != first
    history = store.history("kec-sukodono")
    assert [(a.id, a.state) for a in history] == [
        (second, AlertState.OPEN),
        (first, AlertState.CLOSED),
    ]
    latest = store.latest("kec-sukodono", "offline")
    assert latest is not None
    assert latest.id == second
    assert [a.id for a in store.closed_since(T0 + timedelta(minutes=30))] == [first]
    assert store.closed_since(T0 + timedelta(minutes=31)) == []


def test_refusals_have_stable_codes_and_change_nothing(store: AlertStore) -> None:
    alert_id = open_alert(store)
    assert alert_id is not None
    at = T0 + timedelta(minutes=1)

    unknown = refused("alert_unknown", lambda: store.acknowledge(alert_id + 99, by="a", at=at))
    assert unknown.status == 404
    assert str(alert_id + 99) in unknown.text.id
    outside = refused(
        "alert_out_of_scope", lambda: store.acknowledge(alert_id, by="a", at=at, scope="32")
    )
    assert outside.status == 403
    too_long = refused(
        "note_too_long",
        lambda: store.acknowledge(alert_id, by="a", at=at, note="x" * (NOTE_MAX + 1)),
    )
    assert too_long.field == "note"
    assert too_long.status == 422
    refused("scope_invalid", lambda: store.acknowledge(alert_id, by="a", at=at, scope="3%"))
    unchanged = store.get(alert_id)
    assert unchanged is not None
    assert unchanged.state is AlertState.OPEN

    store.acknowledge(alert_id, by="petugas-a", at=at, scope="35.08")
    again = refused("alert_acknowledged", lambda: store.acknowledge(alert_id, by="b", at=at))
    assert "petugas-a" in again.text.id
    store.close(station="kec-sukodono", rule="offline", at=at)
    closed = refused("alert_closed", lambda: store.acknowledge(alert_id, by="b", at=at))
    assert closed.status == 409
    # Outside the scope, a closed alert says no more than an open one.
    refused("alert_out_of_scope", lambda: store.acknowledge(alert_id, by="b", at=at, scope="32"))
    final = store.get(alert_id)
    assert final is not None
    assert final.acknowledged_by == "petugas-a"


def test_reads_by_scope_stations_and_severity(store: AlertStore) -> None:
    sukodono = open_alert(store, "kec-sukodono", district="350801")
    open_alert(store, "kec-sukodono", "blanks", district="350801", severity=Severity.PERINGATAN)
    lumajang = open_alert(store, "kec-lumajang", "disk", severity=Severity.PERINGATAN)
    bandung = open_alert(store, "kec-cicalengka", district="320401")
    stray = open_alert(store, "kec-tak-terdaftar", district="")
    assert None not in {sukodono, lumajang, bandung, stray}

    assert {a.station for a in store.open_alerts("35")} == {"kec-sukodono", "kec-lumajang"}
    assert {a.station for a in store.open_alerts("3204")} == {"kec-cicalengka"}
    assert {a.station for a in store.open_alerts("")} == {
        "kec-sukodono",
        "kec-lumajang",
        "kec-cicalengka",
        "kec-tak-terdaftar",
    }, "an unregistered station is seen at national scope only"
    assert [a.rule for a in store.open_alerts("35", stations=["kec-sukodono"])] == [
        "offline",  # the most severe first
        "blanks",
    ]

    assert sukodono is not None
    store.acknowledge(sukodono, by="petugas", at=T0)
    counts = store.counts("35")
    assert counts.open == {Severity.KRITIS: 1, Severity.PERINGATAN: 2}
    assert counts.unacknowledged == {Severity.KRITIS: 0, Severity.PERINGATAN: 2}
    assert store.counts().total == 5
    store.close(station="kec-lumajang", rule="disk", at=T0)
    assert store.counts("35").open == {Severity.KRITIS: 1, Severity.PERINGATAN: 1}


def race(stores: list[AlertStore], at: datetime) -> tuple[list[object], list[object]]:
    """Every store opens, then closes, (kec-sukodono, offline) at the same instant."""
    start = threading.Barrier(len(stores))
    opened: list[object] = []
    closed: list[object] = []

    def one(store: AlertStore) -> None:
        start.wait()
        opened.append(open_alert(store, at=at))
        start.wait()
        closed.append(store.close(station="kec-sukodono", rule="offline", at=at))

    threads = [threading.Thread(target=one, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return opened, closed


def test_processes_opening_and_closing_at_once_do_it_once(database_url: str) -> None:
    """Eight connections (as eight processes would have) race to open, then to close, the
    same alert: one of them does each, the others hear None."""
    databases = [Database.open(database_url) for _ in range(8)]
    try:
        stores = [AlertStore(database=database) for database in databases]
        for attempt in range(5):
            opened, closed = race(stores, T0 + timedelta(hours=attempt))
            assert len(opened) == len(closed) == len(stores)
            assert sum(1 for x in opened if x is not None) == 1, (attempt, opened)
            assert sum(1 for x in closed if x is not None) == 1, (attempt, closed)
        assert len(stores[0].history("kec-sukodono")) == 5
    finally:
        for database in databases:
            database.close()
