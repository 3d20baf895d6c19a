"""The collector's store, each test on SQLite and on a private PostgreSQL server: heads,
duplicates, gaps, forks, chain breaks, concurrent collectors, station state, and errors."""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.clock import ManualClock
from appliance.register import (
    GENESIS_HASH,
    Event,
    EventType,
    Register,
    StationKey,
)
from appliance.sync._errors import StoreError
from appliance.sync._store import (
    ChainBreak,
    CollectorStore,
    Conflict,
    Flag,
    open_store,
)
from appliance.sync._store_sqlite import SqliteStore
from sim.postgres import PrivatePostgres, free_port
from tests.support import REPO, SUBMITTED

BACKENDS = ["sqlite", "postgresql"]
T0 = "2025-11-21T01:00:00.000000Z"
T1 = "2025-11-21T01:00:01.000000Z"
T2 = "2025-11-21T01:00:02.000000Z"
T3 = "2025-11-21T01:00:03.000000Z"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/collector.sqlite3"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.fresh_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(store_url: str) -> Iterator[CollectorStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def key() -> StationKey:
    return StationKey.generate()


def seal(key: StationKey, *, station: str, seq: int, prev_hash: str, salt: str = "") -> Event:
    """A signed event, varied enough to show every field comes back as it went in."""
    draft = Event(
        station=station,
        seq=seq,
        ts=f"2025-11-21T01:{seq // 60 % 60:02d}:{seq % 60:02d}.{seq:06d}Z",
        mono_ns=1_000_000_007 * seq,
        boot_id="5f0c6f1e-2a4b-4c6d-8e9f-0a1b2c3d4e5f",
        clock_synced=seq % 3 != 0,
        type=EventType.BLANK_RECEIVED.value,
        app=None if seq % 2 else f"APP-{seq:05d}",
        data_json=json.dumps(
            {"count": seq, "reference": f"BA/{seq}/Désa Sukamaju{salt}"},
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        ),
        prev_hash=prev_hash,
        hash="",
        sig="",
    )
    digest = hashlib.sha256(draft.body()).digest()
    return replace(draft, hash=digest.hex(), sig=key.sign(digest).hex())


def chain(
    key: StationKey, station: str, count: int, *, after: Event | None = None, salt: str = ""
) -> list[Event]:
    events: list[Event] = []
    prev = after
    for _ in range(count):
        seq = 1 if prev is None else prev.seq + 1
        prev = seal(
            key,
            station=station,
            seq=seq,
            prev_hash=GENESIS_HASH if prev is None else prev.hash,
            salt=salt,
        )
        events.append(prev)
    return events


def test_in_order_batches_advance_the_head(store: CollectorStore, key: StationKey) -> None:
    events = chain(key, "st-a", 10)
    first, second = store.ingest([("st-a", events[:4]), ("st-a", events[4:])])
    assert (first.previous_head, first.head, first.stored, first.advanced) == (0, 4, 4, True)
    assert (second.previous_head, second.head, second.stored) == (4, 10, 6)
    assert (second.duplicates, second.conflicts, second.chain_break, second.gap_from) == (
        0,
        (),
        None,
        None,
    )
    assert store.head("st-a") == 10
    assert store.heads() == {"st-a": 10}
    assert store.head("nowhere") == 0


def test_duplicates_are_absorbed_and_nothing_is_rewritten(
    store: CollectorStore, key: StationKey
) -> None:
    events = chain(key, "st-a", 5)
    store.ingest([("st-a", events)])
    # The signature is outside the hash: a resent event with the same hash and another
    # signature is the same event, and the first one received stays.
    resent = [*events[2:], replace(events[4], sig="00" * 64)]
    (outcome,) = store.ingest([("st-a", resent)])
    assert (outcome.stored, outcome.duplicates, outcome.head, outcome.advanced) == (0, 4, 5, False)
    assert outcome.conflicts == ()
    assert list(store.events("st-a")) == events


def test_out_of_order_batches_report_the_gap_then_fill_it(
    store: CollectorStore, key: StationKey
) -> None:
    events = chain(key, "st-a", 9)
    (later,) = store.ingest([("st-a", events[3:6])])
    assert (later.head, later.stored, later.gap_from, later.advanced) == (0, 3, 1, False)
    (last,) = store.ingest([("st-a", events[6:])])
    assert (last.head, last.gap_from) == (0, 1)
    (first,) = store.ingest([("st-a", events[:3])])
    assert (first.previous_head, first.head, first.gap_from, first.chain_break) == (
        0,
        9,
        None,
        None,
    )
    assert [event.seq for event in store.events("st-a")] == list(range(1, 10))


def test_filling_a_gap_in_front_of_many_stored_events(
    store: CollectorStore, key: StationKey
) -> None:
    events = chain(key, "st-a", 2600)
    (held,) = store.ingest([("st-a", events[1:])])
    assert (held.head, held.gap_from, held.chain_break) == (0, 1, None)
    (filled,) = store.ingest([("st-a", events[:1])])
    assert (filled.head, filled.gap_from) == (2600, None)
    assert list(store.events("st-a")) == events  # read back over several pages
    assert [e.seq for e in store.events("st-a", after=2590)] == list(range(2591, 2601))


def test_a_conflicting_event_is_reported_and_the_original_kept(
    store: CollectorStore, key: StationKey
) -> None:
    events = chain(key, "st-a", 4)
    fork = chain(key, "st-a", 2, after=events[1], salt=" (fork)")
    store.ingest([("st-a", events)])
    (outcome,) = store.ingest([("st-a", fork)])
    assert outcome.conflicts == (
        Conflict(3, events[2].hash, fork[0].hash),
        Conflict(4, events[3].hash, fork[1].hash),
    )
    assert (outcome.stored, outcome.duplicates, outcome.head) == (0, 0, 4)
    assert list(store.events("st-a")) == events


def test_a_conflict_inside_one_ingest_keeps_the_first(
    store: CollectorStore, key: StationKey
) -> None:
    events = chain(key, "st-a", 3)
    fork = chain(key, "st-a", 1, after=events[1], salt=" (fork)")
    first, second = store.ingest([("st-a", events), ("st-a", [*fork, events[0]])])
    assert (first.stored, first.head) == (3, 3)
    assert second.conflicts == (Conflict(3, events[2].hash, fork[0].hash),)
    assert (second.duplicates, second.stored) == (1, 0)
    assert list(store.events("st-a")) == events


def test_a_chain_break_stops_the_head(store: CollectorStore, key: StationKey) -> None:
    events = chain(key, "st-a", 3)
    stranger = chain(key, "st-a", 2, salt=" (other register)")
    broken = seal(key, station="st-a", seq=4, prev_hash=stranger[1].hash)
    beyond = chain(key, "st-a", 2, after=broken)
    (outcome,) = store.ingest([("st-a", [*events, broken, *beyond])])
    assert outcome.head == 3
    assert outcome.stored == 6
    assert outcome.chain_break == ChainBreak(4, events[2].hash, stranger[1].hash)
    assert outcome.gap_from == 4
    # Still broken on the next ingest, whatever it brings.
    (again,) = store.ingest([("st-a", events)])
    assert (again.head, again.duplicates, again.chain_break) == (3, 3, outcome.chain_break)


def test_a_broken_first_event(store: CollectorStore, key: StationKey) -> None:
    events = chain(key, "st-a", 2)
    rogue = seal(key, station="st-a", seq=1, prev_hash="f" * 64)
    (outcome,) = store.ingest([("st-a", [rogue, events[1]])])
    assert outcome.head == 0
    assert outcome.chain_break == ChainBreak(1, GENESIS_HASH, "f" * 64)


def test_one_ingest_for_many_stations(store: CollectorStore, key: StationKey) -> None:
    chains = {f"st-{n:02d}": chain(key, f"st-{n:02d}", 6) for n in range(12)}
    batches = [(station, events[:3]) for station, events in reversed(chains.items())]
    batches += [(station, events[3:]) for station, events in chains.items()]
    outcomes = store.ingest(batches)
    assert [o.station for o in outcomes] == [station for station, _ in batches]
    assert [o.head for o in outcomes] == [3] * 12 + [6] * 12
    assert store.heads() == dict.fromkeys(chains, 6)


def test_events_of_a_real_register_come_back_exactly(
    store: CollectorStore, key: StationKey, tmp_path: Path
) -> None:
    with Register.open(
        tmp_path / "register.sqlite3", station_id="lumajang-01", key=key, clock=ManualClock()
    ) as register:
        with register.transaction() as txn:
            txn.append(EventType.BLANK_RECEIVED, {"count": 50, "reference": "BA-Ø/2025"})
            txn.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id="APP-1")
            txn.append(EventType.APPLICATION_ADVANCED, {"step": "check"}, application_id="APP-1")
        originals = list(register.events())
    (outcome,) = store.ingest([("lumajang-01", originals)])
    assert outcome.head == len(originals) == 4
    stored = list(store.events("lumajang-01"))
    assert stored == originals
    assert list(store.events("lumajang-01", after=2)) == originals[2:]
    for event in stored:
        digest = hashlib.sha256(event.body()).digest()
        assert digest.hex() == event.hash
        assert key.public_key.verify(digest, bytes.fromhex(event.sig))


def test_an_event_of_another_station_is_refused_and_nothing_written(
    store: CollectorStore, key: StationKey
) -> None:
    mine = chain(key, "st-a", 2)
    theirs = chain(key, "st-b", 1)
    with pytest.raises(ValueError, match="st-b#1 in a batch of st-a"):
        store.ingest([("st-a", mine), ("st-a", theirs)])
    assert store.heads() == {}
    assert list(store.events("st-a")) == []


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_order_and_duplication_of_batches_converges(
    store: CollectorStore, key: StationKey, data: st.DataObject
) -> None:
    # One store for every example: each example has a station of its own.
    station = f"st-{uuid.uuid4().hex[:8]}"
    count = data.draw(st.integers(1, 24), label="events")
    events = chain(key, station, count)
    cuts = sorted(data.draw(st.sets(st.integers(1, count - 1), max_size=6)) if count > 1 else [])
    batches = [events[a:b] for a, b in itertools.pairwise([0, *cuts, count])]  # contiguous pieces
    order = list(data.draw(st.permutations(range(len(batches))), label="order"))
    for extra in data.draw(st.lists(st.integers(0, len(batches) - 1), max_size=4), label="again"):
        order.insert(data.draw(st.integers(0, len(order)), label="where"), extra)
    calls: list[list[int]] = []
    while order:
        take = data.draw(st.integers(1, min(3, len(order))), label="group")
        calls.append(order[:take])
        del order[:take]
    stored = 0
    head = 0
    for call in calls:
        for outcome in store.ingest([(station, batches[index]) for index in call]):
            assert outcome.head >= head
            assert outcome.conflicts == ()
            assert outcome.chain_break is None
            head = outcome.head
            stored += outcome.stored
    assert head == count
    assert stored == count
    assert list(store.events(station)) == events


def test_two_collectors_on_one_database_concurrently(store_url: str, key: StationKey) -> None:
    stations = ["st-a", "st-b", "st-c"]
    chains = {station: chain(key, station, 300) for station in stations}
    pieces = range(0, 300, 10)
    # Each collector gets every other piece, plus a few of the other's (redelivery), and
    # takes the stations in its own order: the locks must not deadlock.
    plans = [
        [p for p in pieces if p // 10 % 2 == 0] + [p for p in pieces if p // 10 % 5 == 1],
        [p for p in reversed(pieces) if p // 10 % 2 == 1] + [p for p in pieces if p // 10 % 7 == 0],
    ]
    orders = [stations, list(reversed(stations))]
    barrier = threading.Barrier(2)

    def collect(index: int) -> list[int]:
        stored: list[int] = []
        with closing(open_store(store_url)) as own:
            barrier.wait(timeout=30)
            for piece in plans[index]:
                batch = [(s, chains[s][piece : piece + 10]) for s in orders[index]]
                stored += [o.stored for o in own.ingest(batch)]
        return stored

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(collect, i) for i in range(2)]]
    assert sum(results[0]) + sum(results[1]) == 900  # every event stored exactly once
    with closing(open_store(store_url)) as check:
        assert check.heads() == dict.fromkeys(stations, 300)
        for station in stations:
            assert list(check.events(station)) == chains[station]


def test_state_follows_the_bd_seq_rule(store: CollectorStore) -> None:
    def state() -> tuple[bool | None, int | None, str | None]:
        (item,) = store.overview()
        return item.online, item.bd_seq, item.last_seen

    store.record_state("st-a", {"online": True, "bd_seq": 3}, at=T1)
    assert state() == (True, 3, T1)
    store.record_state("st-a", {"online": False, "bd_seq": 2}, at=T2)  # a stale will
    assert state() == (True, 3, T1)
    store.record_state("st-a", {"online": False, "bd_seq": 3}, at=T2)
    assert state() == (False, 3, T2)
    store.record_state("st-a", {"online": True, "bd_seq": 4}, at=T3)
    assert state() == (True, 4, T3)
    store.record_state("st-a", {"online": True, "bd_seq": 0}, at=T3)  # birth always counts
    assert state() == (True, 0, T3)
    store.record_state("st-a", {"online": False, "bd_seq": 0}, at=T0)
    assert state() == (False, 0, T3)  # last_seen never goes back
    with pytest.raises(TypeError):
        store.record_state("st-a", {"bd_seq": 1}, at=T3)
    with pytest.raises(TypeError):
        store.record_state("st-a", {"online": True, "bd_seq": "1"}, at=T3)
    # Past 64 bits: a clear refusal, not the driver's OverflowError (issue 16, defect 7).
    with pytest.raises(ValueError, match="out of range"):
        store.record_state("st-a", {"online": True, "bd_seq": 2**63}, at=T3)
    with pytest.raises(ValueError, match="out of range"):
        store.flag(Flag(station="st-a", kind="altered", seq=2**63, detail="x", at=T3))


def test_telemetry_and_devices_keep_the_latest(store: CollectorStore) -> None:
    store.record_telemetry("st-a", {"cpu_temp_c": 51.5, "disk_free": 10}, at=T2)
    store.record_telemetry("st-a", {"cpu_temp_c": 40.0}, at=T1)  # arrived late: older
    (item,) = store.overview()
    assert (item.telemetry, item.telemetry_at) == ({"cpu_temp_c": 51.5, "disk_free": 10}, T2)
    # Any RFC 3339 offset is kept as UTC: 08:00:03 WIB is 01:00:03Z.
    store.record_telemetry("st-a", {"cpu_temp_c": 60.25}, at="2025-11-21T08:00:03+07:00")
    store.record_device("st-a", "printer", {"state": "ok", "ribbon": 120}, at=T1)
    store.record_device("st-a", "printer", {"state": "jam"}, at=T3)
    store.record_device("st-a", "printer", {"state": "ok"}, at=T2)  # older than the jam
    store.record_device("st-a", "sbi", {"state": "ok", "nama": "Pindai Ñ"}, at=T2)
    (item,) = store.overview()
    assert (item.telemetry, item.telemetry_at) == ({"cpu_temp_c": 60.25}, T3)
    assert item.devices == {"printer": {"state": "jam"}, "sbi": {"state": "ok", "nama": "Pindai Ñ"}}
    assert item.last_seen == T3
    with pytest.raises(ValueError, match="RFC 3339"):
        store.record_device("st-a", "printer", {}, at="yesterday")
    with pytest.raises(ValueError, match="offset"):
        store.record_device("st-a", "printer", {}, at="2025-11-21T01:00:00")


def test_flags_are_kept_in_order(store: CollectorStore) -> None:
    raised = [
        Flag("st-b", "conflict", 7, "seq 7 stored with another hash", T1),
        Flag("st-a", "chain_break", 3, "prev_hash does not link", T2),
        Flag("st-b", "signature", None, "bad signature from 10.0.0.7", T3),
    ]
    for flag in raised:
        store.flag(flag)
    assert store.flags() == raised
    assert store.flags("st-b") == [raised[0], raised[2]]
    assert store.flags("nowhere") == []
    assert [(item.station, item.flags, item.last_flag) for item in store.overview()] == [
        ("st-a", 1, raised[1]),
        ("st-b", 2, raised[2]),
    ]


def test_overview_of_every_station_known(store: CollectorStore, key: StationKey) -> None:
    events = chain(key, "st-b", 5)
    store.ingest([("st-b", events[:3] + events[4:])])
    store.record_state("st-b", {"online": True, "bd_seq": 2, "version": "1.4"}, at=T1)
    store.record_telemetry("st-b", {"queue": 4}, at=T1)
    store.record_device("st-b", "camera", {"state": "ok"}, at=T1)
    store.record_device("st-a", "camera", {"state": "READY"}, at=T2)
    store.flag(Flag("st-c", "unknown_station", None, "not in the registry", T3))
    overview = store.overview()
    assert [item.station for item in overview] == ["st-a", "st-b", "st-c"]
    seen_only, busy, flagged = overview
    assert (seen_only.head, seen_only.stored_max, seen_only.last_seen) == (0, 0, T2)
    assert (seen_only.online, seen_only.bd_seq, seen_only.telemetry, seen_only.devices) == (
        None,
        None,
        None,
        {"camera": {"state": "READY"}},
    )
    assert (busy.head, busy.stored_max, busy.online, busy.bd_seq) == (3, 5, True, 2)
    assert (busy.telemetry, busy.telemetry_at, busy.devices) == (
        {"queue": 4},
        T1,
        {"camera": {"state": "ok"}},
    )
    assert busy.last_seen is not None
    assert busy.last_seen > T1  # the ingest, just now, was later
    assert (busy.flags, busy.last_flag) == (0, None)
    assert (flagged.flags, flagged.last_seen, flagged.head) == (1, None, 0)


def test_reopening_keeps_everything_and_the_schema_once(store_url: str, key: StationKey) -> None:
    events = chain(key, "st-a", 3)
    with closing(open_store(store_url)) as first:
        first.ingest([("st-a", events)])
    with closing(open_store(store_url)) as again:
        assert again.heads() == {"st-a": 3}
    assert _query(store_url, "SELECT version FROM schema_version ORDER BY version") == [(1,), (2,)]


def test_unreachable_or_unwritable_database(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory", encoding="utf-8")
        with pytest.raises(StoreError, match="a-file"):
            open_store(f"sqlite://{blocker}/collector.sqlite3")
        with pytest.raises(StoreError, match="cannot be opened"):
            open_store(f"sqlite:{tmp_path}")  # a directory
    else:
        url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/collector?connect_timeout=3"
        with pytest.raises(StoreError, match="cannot reach") as caught:
            open_store(url)
        assert "127.0.0.1" in str(caught.value)
        assert "secret" not in str(caught.value)


def test_a_database_that_is_not_a_collector_is_refused(
    backend: str, store_url: str, tmp_path: Path, key: StationKey
) -> None:
    if backend == "sqlite":
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"\x13" * 8192)
        with pytest.raises(StoreError, match="not a collector database"):
            open_store(f"sqlite:{garbage}")
        register = tmp_path / "register.sqlite3"
        Register.open(register, station_id="lumajang-01", key=key).close()
        store_url = f"sqlite:{register}"
    else:
        _query(store_url, "CREATE TABLE events (id integer)")
    with pytest.raises(StoreError, match="not a collector's"):
        open_store(store_url)


def test_urls() -> None:
    for url in ("mysql://collector", "sqlite://host/x.db", "sqlite::memory:", "sqlite:"):
        with pytest.raises(StoreError, match="sqlite"):
            open_store(url)


def test_a_failed_write_raises_store_error_and_the_store_recovers(
    backend: str, store: CollectorStore, key: StationKey
) -> None:
    events = chain(key, "st-a", 400)
    store.ingest([("st-a", events[:10])])
    if backend == "sqlite":
        assert isinstance(store, SqliteStore)
        # The file may grow no more: SQLite's own "disk full".
        (pages,) = store._conn.execute("PRAGMA page_count").fetchone()
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="disk is full"):
            store.ingest([("st-a", events[10:])])
        store._conn.execute("PRAGMA max_page_count = 1073741823")
    else:
        # The server ends the session, as a restart or a cut network would.
        _query(
            _store_url_of(store),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        with pytest.raises(StoreError, match="cannot reach or use"):
            store.ingest([("st-a", events[10:])])
    assert store.head("st-a") == 10
    (outcome,) = store.ingest([("st-a", events[10:])])
    assert (outcome.previous_head, outcome.head, outcome.stored) == (10, 400, 390)


def test_acknowledged_events_survive_a_crash(
    backend: str, store_url: str, request: pytest.FixtureRequest, key: StationKey
) -> None:
    events = chain(key, "st-a", 50)
    if backend == "sqlite":
        # A collector process killed right after its ingest returned.
        script = (
            "import os, pickle, signal, sys\n"
            "from appliance.sync._store import open_store\n"
            "store = open_store(sys.argv[1])\n"
            "print(store.ingest([('st-a', pickle.loads(sys.stdin.buffer.read()))])[0].head)\n"
            "sys.stdout.flush()\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        child = subprocess.run(
            [sys.executable, "-c", script, store_url],
            input=pickle.dumps(events),
            capture_output=True,
            check=False,
            cwd=REPO,
            timeout=60,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        assert child.stdout.strip() == b"50"
    else:
        server: PrivatePostgres = request.getfixturevalue("postgres")
        with closing(open_store(store_url)) as collector:
            assert collector.ingest([("st-a", events)])[0].head == 50
            server.kill()  # the postmaster and every backend, at once
            server.start()
    with closing(open_store(store_url)) as reopened:
        assert reopened.heads() == {"st-a": 50}
        assert list(reopened.events("st-a")) == events


def _store_url_of(store: CollectorStore) -> str:
    url: str = store._url  # type: ignore[attr-defined]
    return url


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url.removeprefix("sqlite://").removeprefix("sqlite:"))
        try:
            rows = conn.execute(sql).fetchall()
            conn.commit()
        finally:
            conn.close()
        return rows
    with psycopg.connect(url, autocommit=True) as pg:
        cur = pg.execute(sql)
        return cur.fetchall() if cur.description else []
