"""The collector store's schema v2: PostgreSQL's `events` partitioned by month (partitions
made on demand, a DEFAULT one for a wrong clock, several collectors making the same
month at once), v1 databases migrated with every row kept on both backends, and the
events still append-only."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from appliance.register import Event, StationKey
from appliance.sync import StateChange, open_store
from appliance.sync._store import EVENT_COLUMNS, event_row
from appliance.sync._store_partitions import (
    MONTHS_AHEAD,
    MONTHS_BACK,
    event_month,
    next_month,
    partition_name,
)
from appliance.sync._store_postgres import PostgresStore
from appliance.sync._store_postgres_schema import V1
from appliance.sync._store_sqlite import _v1
from sim.postgres import PrivatePostgres
from tests.test_collector_store import T1, T2, _query
from tests.test_collector_store_timeline import timed_chain

TODAY = datetime.now(UTC).date()


def month_from_today(offset: int) -> date:
    index = TODAY.year * 12 + TODAY.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def ts_in(month: date, second: int = 0) -> str:
    return f"{month:%Y-%m}-15T10:{second // 60 % 60:02d}:{second % 60:02d}.000000Z"


@pytest.fixture(scope="module")
def key() -> StationKey:
    return StationKey.generate()


@pytest.fixture
def pg_url(postgres: PrivatePostgres) -> str:
    return postgres.fresh_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def rows_per_partition(url: str) -> dict[str, int]:
    return dict(_query(url, "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1"))


def partitions(url: str) -> set[str]:
    return {
        name
        for (name,) in _query(
            url,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass",
        )
    }


def test_the_month_of_a_ts() -> None:
    assert event_month("2026-12", date(2026, 12, 7)) == date(2026, 12, 1)
    newest = month_from_today(MONTHS_AHEAD)
    oldest = month_from_today(-MONTHS_BACK)
    assert event_month(f"{newest:%Y-%m}", TODAY) == newest
    assert event_month(f"{next_month(newest):%Y-%m}", TODAY) is None
    assert event_month(f"{oldest:%Y-%m}", TODAY) == oldest
    assert event_month(f"{month_from_today(-MONTHS_BACK - 1):%Y-%m}", TODAY) is None
    for prefix in (
        "1970-01",
        "2026-13",
        "2026-00",
        "2026/12",
        "\uff12\uff10\uff12\uff16-12",  # full-width digits
        "2026-1",
        "",
        "ab-cd-e",
    ):
        assert event_month(prefix, date(2026, 12, 7)) is None, prefix
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert partition_name(date(2027, 1, 1)) == "events_2027_01"


def test_partitions_are_made_for_the_months_that_come(
    pg_store: PostgresStore, pg_url: str, key: StationKey
) -> None:
    months = [month_from_today(offset) for offset in (-2, -1, 0, 1)]
    stamps = [ts_in(month, n) for month in months for n in range(5)]
    # A clock that lost its battery, one set decades ahead, and a ts not in the form.
    stamps += [ts_in(date(1970, 1, 1)), ts_in(month_from_today(60)), "kemarin sore"]
    events = timed_chain(key, "st-a", stamps)
    # Opening the store made this month's and the next.
    assert partitions(pg_url) == {"events_default", *(partition_name(m) for m in months[2:])}
    (outcome,) = pg_store.ingest([("st-a", events[:5])])  # two months ago
    assert outcome.head == 5
    made = {"events_default", *(partition_name(months[n]) for n in (0, 2, 3))}
    assert partitions(pg_url) == made
    pg_store.ingest([("st-a", events[5:])])
    assert partitions(pg_url) == {"events_default", *(partition_name(m) for m in months)}
    assert rows_per_partition(pg_url) == {
        **{partition_name(month): 5 for month in months},
        "events_default": 3,
    }
    assert list(pg_store.events("st-a")) == events
    # The rows in DEFAULT are found by time too: its rows are never pruned away. (A ts
    # not in the register's form compares as text: "kemarin" sorts after any year.)
    since = ts_in(months[3])
    assert [e.seq for e in pg_store.events_since("st-a", since)] == [16, 17, 18, 19, 20, 22, 23]
    plan = "\n".join(
        line
        for (line,) in _query(
            pg_url,
            "EXPLAIN SELECT seq FROM events WHERE station = 'st-a' "
            f"AND ts >= '{since}' AND (month IS NULL OR month >= '{months[3]}')",
        )
    )
    assert partition_name(months[3]) in plan
    assert "events_default" in plan
    assert partition_name(months[2]) not in plan  # older months pruned


def test_a_store_finds_partitions_another_made_and_one_archived_by_hand(
    pg_url: str, key: StationKey
) -> None:
    month = month_from_today(-3)
    events = timed_chain(key, "st-a", [ts_in(month, n) for n in range(6)])
    with closing(open_store(pg_url)) as first, closing(open_store(pg_url)) as second:
        first.ingest([("st-a", events[:2])])
        second.ingest([("st-a", events[2:4])])  # made by the first: found, not made again
        # An operator archives the month while the first store remembers its partition.
        name = partition_name(month)
        _query(pg_url, f"ALTER TABLE events DETACH PARTITION {name}")
        _query(pg_url, f"ALTER TABLE {name} RENAME TO archived_{name}")
        with pytest.raises(Exception, match="events_default_no_month"):
            first.ingest([("st-a", events[4:])])
        (outcome,) = first.ingest([("st-a", events[4:])])  # looked again, made it anew
        assert (outcome.previous_head, outcome.head) == (4, 6)
    assert rows_per_partition(pg_url) == {name: 2}
    assert _query(pg_url, f"SELECT count(*) FROM archived_{name}") == [(4,)]


def test_two_collectors_across_a_month_boundary_store_each_event_once(
    pg_url: str, key: StationKey
) -> None:
    # Months with no partition yet: both collectors need both in their first ingest.
    early, late = month_from_today(-6), month_from_today(-5)
    chains = {
        "st-a": timed_chain(
            key, "st-a", [ts_in(early if n < 150 else late, n) for n in range(300)]
        ),
        "st-b": timed_chain(
            key, "st-b", [ts_in(late if n < 150 else early, n) for n in range(300)]
        ),
        "st-c": timed_chain(key, "st-c", [ts_in(early if n % 2 else late, n) for n in range(300)]),
    }
    stations = list(chains)
    pieces = range(0, 300, 10)
    plans = [
        [p for p in pieces if p // 10 % 2 == 0] + [p for p in pieces if p // 10 % 5 == 1],
        [p for p in reversed(pieces) if p // 10 % 2 == 1] + [p for p in pieces if p // 10 % 7 == 0],
    ]
    orders = [stations, list(reversed(stations))]
    barrier = threading.Barrier(2)

    def collect(index: int) -> int:
        stored = 0
        with closing(open_store(pg_url)) as own:
            barrier.wait(timeout=30)
            for piece in plans[index]:
                batch = [(s, chains[s][piece : piece + 10]) for s in orders[index]]
                stored += sum(o.stored for o in own.ingest(batch))
        return stored

    with ThreadPoolExecutor(2) as pool:
        stored = sum(f.result(timeout=120) for f in [pool.submit(collect, i) for i in range(2)])
    assert stored == 900
    assert _query(pg_url, "SELECT station, seq FROM events GROUP BY 1, 2 HAVING count(*) > 1") == []
    assert rows_per_partition(pg_url) == {partition_name(early): 450, partition_name(late): 450}
    with closing(open_store(pg_url)) as check:
        assert check.heads() == dict.fromkeys(stations, 300)
        for station, events in chains.items():
            assert list(check.events(station)) == events


def test_events_stay_append_only_on_every_partition(
    pg_store: PostgresStore, pg_url: str, key: StationKey
) -> None:
    month = month_from_today(0)
    pg_store.ingest([("st-a", timed_chain(key, "st-a", [ts_in(month), "1970-01-01T00:00:00Z"]))])
    own = partition_name(month)
    for statement in (
        "UPDATE events SET type = 'x'",
        f"UPDATE {own} SET type = 'x'",
        "DELETE FROM events WHERE seq = 1",
        f"DELETE FROM {own}",
        "DELETE FROM events_default",
        "TRUNCATE events",
        f"TRUNCATE {own}",
        "TRUNCATE events_default",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            _query(pg_url, statement)
    assert rows_per_partition(pg_url) == {own: 1, "events_default": 1}


def test_sqlite_events_stay_append_only(tmp_path: Path, key: StationKey) -> None:
    url = f"sqlite:{tmp_path}/collector.sqlite3"
    with closing(open_store(url)) as store:
        store.ingest([("st-a", timed_chain(key, "st-a", [ts_in(TODAY)]))])
    for statement in ("UPDATE events SET type = 'x'", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            _query(url, statement)


def _v1_rows(key: StationKey) -> tuple[list[Event], list[tuple[Any, ...]]]:
    months = [month_from_today(-30), month_from_today(-1), month_from_today(0)]
    stamps = [ts_in(month, n) for month in months for n in range(4)]
    stamps += [ts_in(date(1970, 1, 1)), ts_in(month_from_today(120))]
    events = timed_chain(key, "st-a", stamps)
    birth = '{"online":true,"bd_seq":4,"version":"1.3","station":"st-a","sig":"00"}'
    stations = [
        ("st-a", len(events), events[-1].hash, len(events), T2, True, 4, birth, T2),
        ("st-b", 0, "0" * 64, 0, T1, False, 2, '{"online":false,"bd_seq":2}', T1),
    ]
    return events, stations


def test_a_v1_postgresql_database_is_migrated_with_every_row(pg_url: str, key: StationKey) -> None:
    events, stations = _v1_rows(key)
    with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at text NOT NULL)"
        )
        for statement in V1:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, %s)", (T1,))
        with conn.cursor().copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for event in events:
                copy.write_row(event_row(event))
        conn.cursor().executemany(
            "INSERT INTO stations (station, head, head_hash, stored_max, last_seen, online, "
            "bd_seq, state_json, state_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            stations,
        )
        conn.execute(
            "INSERT INTO devices VALUES ('st-a', 'printer', '{\"state\":\"ERROR\"}', %s)", (T1,)
        )
        conn.execute(
            "INSERT INTO flags (station, kind, seq, detail, at) "
            "VALUES ('st-a', 'conflict', 3, 'x', %s)",
            (T2,),
        )
    with closing(open_store(pg_url)) as store:
        assert list(store.events("st-a")) == events
        assert store.heads() == {"st-a": len(events), "st-b": 0}
        by_id = {item.station: item for item in store.overview()}
        assert (by_id["st-a"].version, by_id["st-a"].online, by_id["st-a"].flags) == (
            "1.3",
            True,
            1,
        )
        assert by_id["st-a"].device_since == {"printer": T1}
        assert by_id["st-b"].version is None
        assert store.changed_since(T1) == ["st-a"]
        # v2's records work at once on the migrated data.
        store.record_state("st-a", {"online": False, "bd_seq": 4}, at="2025-11-21T02:00:00Z")
        assert store.flaps(T1) == {"st-a": 1}
        (outcome,) = store.ingest(
            [("st-a", timed_chain(key, "st-a", [*(e.ts for e in events), ts_in(TODAY)])[-1:])]
        )
        assert outcome.head == len(events) + 1
    old, recent, current = (partition_name(month_from_today(n)) for n in (-30, -1, 0))
    assert rows_per_partition(pg_url) == {old: 4, recent: 4, current: 5, "events_default": 2}
    assert _query(pg_url, "SELECT to_regclass('events_v1')") == [(None,)]
    assert _query(pg_url, "SELECT version FROM schema_version ORDER BY version") == [(1,), (2,)]


def test_a_v1_sqlite_database_is_migrated_with_every_row(tmp_path: Path, key: StationKey) -> None:
    events, stations = _v1_rows(key)
    path = tmp_path / "collector.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT"
        )
        _v1(conn.cursor())
        conn.execute("INSERT INTO schema_version VALUES (1, ?)", (T1,))
        marks = ", ".join("?" * 12)
        conn.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({marks})", map(event_row, events)
        )
        conn.executemany(
            "INSERT INTO stations (station, head, head_hash, stored_max, last_seen, online, "
            "bd_seq, state_json, state_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            stations,
        )
        conn.execute(
            "INSERT INTO devices VALUES ('st-a', 'printer', '{\"state\":\"ERROR\"}', ?)", (T1,)
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    with closing(open_store(f"sqlite:{path}")) as store:
        assert list(store.events("st-a")) == events
        assert store.heads() == {"st-a": len(events), "st-b": 0}
        by_id = {item.station: item for item in store.overview()}
        assert (by_id["st-a"].version, by_id["st-b"].version) == ("1.3", None)
        assert by_id["st-a"].device_since == {"printer": T1}
        assert [e.seq for e in store.events_since("st-a", ts_in(TODAY))] == [9, 10, 11, 12, 14]
        store.record_state("st-b", {"online": True, "bd_seq": 3, "version": "1.4"}, at=T2)
        assert store.state_history("st-b", T1) == [
            StateChange(at=T2, online=True, bd_seq=3, version="1.4")
        ]
    assert _query(f"sqlite:{path}", "SELECT version FROM schema_version ORDER BY version") == [
        (1,),
        (2,),
    ]
