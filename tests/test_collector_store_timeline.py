"""The collector store's timeline and dashboard reads, each test on SQLite and on a private
PostgreSQL server: state and device histories, flaps, the birth's version, events by the
station's time, a filtered overview, what changed since a time, and doctor reports."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from appliance.register import GENESIS_HASH, Event, EventType, StationKey
from appliance.sync import (
    FORGERY_FLAG_KINDS,
    CollectorStore,
    DeviceChange,
    DoctorReport,
    Flag,
    StateChange,
    open_store,
)
from sim.postgres import PrivatePostgres
from tests.test_collector_store import BACKENDS, T0, T1, T2, T3

T4 = "2025-11-21T01:00:04.000000Z"
T5 = "2025-11-21T01:00:05.000000Z"
T6 = "2025-11-21T01:00:06.000000Z"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/collector.sqlite3"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.fresh_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(store_url: str) -> Iterator[CollectorStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def key() -> StationKey:
    return StationKey.generate()


def timed_chain(key: StationKey, station: str, stamps: list[str]) -> list[Event]:
    """A linked, signed chain whose events carry the given `ts`, in seq order."""
    events: list[Event] = []
    prev_hash = GENESIS_HASH
    for seq, ts in enumerate(stamps, start=1):
        draft = Event(
            station=station,
            seq=seq,
            ts=ts,
            mono_ns=seq * 1_000_000,
            boot_id="5f0c6f1e-2a4b-4c6d-8e9f-0a1b2c3d4e5f",
            clock_synced=True,
            type=EventType.BLANK_RECEIVED.value,
            app=None,
            data_json=json.dumps({"count": seq}, separators=(",", ":")),
            prev_hash=prev_hash,
            hash="",
            sig="",
        )
        digest = hashlib.sha256(draft.body()).digest()
        event = replace(draft, hash=digest.hex(), sig=key.sign(digest).hex())
        events.append(event)
        prev_hash = event.hash
    return events


def test_state_history_keeps_the_changes_that_counted(store: CollectorStore) -> None:
    store.record_state("st-a", {"online": True, "bd_seq": 3, "version": "1.4"}, at=T1)
    store.record_state("st-a", {"online": True, "bd_seq": 3, "version": "1.4"}, at=T2)  # again
    store.record_state("st-a", {"online": False, "bd_seq": 2}, at=T2)  # a stale will
    store.record_state("st-a", {"online": False, "bd_seq": 3}, at=T3)
    store.record_state("st-a", {"online": False, "bd_seq": 3}, at=T3)  # redelivered
    store.record_state("st-a", {"online": True, "bd_seq": 4, "version": "1.5"}, at=T4)
    # A new session with no death seen: the station went away all the same.
    store.record_state("st-a", {"online": True, "bd_seq": 5, "version": "1.5"}, at=T5)
    store.record_state("st-b", {"online": False, "bd_seq": 1}, at=T1)  # first words: a death

    assert store.state_history("st-a", T0) == [
        StateChange(at=T1, online=True, bd_seq=3, version="1.4"),
        StateChange(at=T3, online=False, bd_seq=3, version=None),
        StateChange(at=T4, online=True, bd_seq=4, version="1.5"),
        StateChange(at=T5, online=True, bd_seq=5, version="1.5"),
    ]
    assert store.state_history("st-a", T4) == store.state_history("st-a", T0)[2:]
    assert store.state_history("st-a", "2025-11-21T08:00:04+07:00") == store.state_history(
        "st-a", T4
    )
    assert store.state_history("nowhere", T0) == []
    # Sessions that ended: the death at T3 and the silent restart at T5. st-b's first
    # death ends nothing the centre saw.
    assert store.flaps(T0) == {"st-a": 2}
    assert store.flaps(T4) == {"st-a": 1}
    assert store.flaps(T6) == {}
    with pytest.raises(ValueError, match="offset"):
        store.flaps("2025-11-21T01:00:00")
    with pytest.raises(TypeError):
        store.state_history(7, T0)  # type: ignore[arg-type]


def test_the_overview_carries_the_version_of_the_last_birth(store: CollectorStore) -> None:
    store.record_state("st-a", {"online": True, "bd_seq": 1, "version": "1.4"}, at=T1)
    store.record_state("st-a", {"online": False, "bd_seq": 1}, at=T2)
    (item,) = store.overview()
    assert (item.online, item.version) == (False, "1.4")  # a death says no version
    store.record_state("st-a", {"online": True, "bd_seq": 2, "version": 15}, at=T3)
    (item,) = store.overview()
    assert (item.online, item.version) == (True, None)  # not text: not a version
    (change,) = store.state_history("st-a", T3)
    assert change.version is None


def test_device_history_keeps_each_change_of_state(store: CollectorStore) -> None:
    jam = {"id": "Kertas macet", "en": "Paper jam"}
    store.record_device("st-a", "printer", {"state": "READY", "code": None}, at=T1)
    store.record_device("st-a", "printer", {"state": "READY", "ribbon": 80}, at=T2)
    store.record_device("st-a", "printer", {"state": "ERROR", "code": "jam", "reason": jam}, at=T4)
    store.record_device("st-a", "printer", {"state": "READY"}, at=T3)  # late: older than T4
    store.record_device("st-a", "camera", {"state": "BUSY"}, at=T3)
    store.record_device("st-a", "camera", {"nama": "tanpa state"}, at=T5)
    store.record_device("st-a", "camera", {"state": 3, "reason": "kabel lepas"}, at=T6)

    assert store.device_history("st-a", T0) == [
        DeviceChange(at=T1, name="printer", state="READY", code=None, reason=None),
        DeviceChange(at=T3, name="camera", state="BUSY", code=None, reason=None),
        DeviceChange(at=T4, name="printer", state="ERROR", code="jam", reason=jam),
        DeviceChange(at=T5, name="camera", state=None, code=None, reason=None),
    ]  # the camera's "3" is no state text either: no change from None
    assert [change.at for change in store.device_history("st-a", T4)] == [T4, T5]
    assert store.device_history("st-b", T0) == []
    (item,) = store.overview()
    assert item.devices["printer"] == {"state": "ERROR", "code": "jam", "reason": jam}
    assert item.device_since == {"printer": T4, "camera": T5}
    assert item.last_seen == T6
    store.record_device("st-a", "printer", {"state": "ERROR", "code": "jam"}, at=T6)
    (item,) = store.overview()
    assert item.device_since["printer"] == T4  # still in ERROR since T4
    with pytest.raises(TypeError, match="device name"):
        store.record_device("st-a", None, {"state": "READY"}, at=T6)  # type: ignore[arg-type]


def test_events_since_a_time_in_seq_order(store: CollectorStore, key: StationKey) -> None:
    # The station's clock jumped back after seq 3 (a wrong clock put right).
    stamps = [
        "2025-11-20T23:00:00.000000Z",
        "2025-11-21T02:00:00.000000Z",
        "2025-11-21T03:00:00.000000Z",
        "2025-11-21T01:00:00.000000Z",
        "2025-11-21T04:00:00.000000Z",
    ]
    events = timed_chain(key, "st-a", stamps)
    store.ingest([("st-a", events), ("st-b", timed_chain(key, "st-b", stamps))])
    assert [e.seq for e in store.events_since("st-a", "2025-11-21T01:00:00Z")] == [2, 3, 4, 5]
    assert [e.seq for e in store.events_since("st-a", "2025-11-21T09:00:00+07:00")] == [2, 3, 5]
    assert list(store.events_since("st-a", "2025-11-20T00:00:00Z")) == events
    assert list(store.events_since("st-a", "2025-11-22T00:00:00Z")) == []
    assert list(store.events_since("nowhere", "2025-11-20T00:00:00Z")) == []
    with pytest.raises(ValueError, match="RFC 3339"):
        list(store.events_since("st-a", "kemarin"))


def test_events_since_reads_page_by_page(store: CollectorStore, key: StationKey) -> None:
    stamps = [
        f"2025-11-21T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000Z" for n in range(2300)
    ]
    events = timed_chain(key, "st-a", stamps)
    store.ingest([("st-a", events)])
    since = list(store.events_since("st-a", stamps[150]))
    assert since == events[150:]


def test_the_overview_of_some_stations(store: CollectorStore) -> None:
    names = [f"st-{n:04d}" for n in range(1200)]
    store.ingest([(name, []) for name in names])  # known, nothing stored yet
    store.record_device("st-0007", "printer", {"state": "READY"}, at=T1)
    store.record_state("st-1100", {"online": True, "bd_seq": 1, "version": "2.0"}, at=T1)
    wanted = ["st-1100", "st-0007", "nowhere", *names[500:1020]]
    overview = store.overview(wanted)
    assert [item.station for item in overview] == sorted({"st-0007", "st-1100", *names[500:1020]})
    by_id = {item.station: item for item in overview}
    assert by_id["st-0007"].devices == {"printer": {"state": "READY"}}
    assert by_id["st-0007"].device_since == {"printer": T1}
    assert by_id["st-1100"].version == "2.0"
    assert by_id["st-1100"].devices == {}
    assert store.overview([]) == []
    assert len(store.overview()) == 1200
    with pytest.raises(TypeError, match="not one id"):
        store.overview("st-0007")


def test_changed_since(store: CollectorStore) -> None:
    store.record_telemetry("st-a", {"queue": 1}, at=T1)
    store.record_device("st-b", "printer", {"state": "READY"}, at=T2)
    store.record_state("st-c", {"online": True, "bd_seq": 1}, at=T3)
    store.flag(Flag("st-d", "bad_signature", None, "state: forged", T3))
    assert store.changed_since(T0) == ["st-a", "st-b", "st-c", "st-d"]
    assert store.changed_since(T1) == ["st-b", "st-c", "st-d"]
    assert store.changed_since(T3) == []
    store.flag(Flag("st-a", "malformed", None, "not JSON", T4))
    store.record_doctor("st-e", {"checks": []}, at=T4)
    assert store.changed_since(T3) == ["st-a", "st-e"]
    with pytest.raises(ValueError, match="offset"):
        store.changed_since("2025-11-21")


def test_the_latest_doctor_report(store: CollectorStore) -> None:
    assert store.latest_doctor("st-a") is None
    report = {"request": "ab" * 16, "checks": [{"name": "disk", "ok": True, "detail": "Ñ 12%"}]}
    store.record_doctor("st-a", report, at=T2)
    store.record_doctor("st-a", {"request": "old"}, at=T1)  # an older report, arrived late
    assert store.latest_doctor("st-a") == DoctorReport(payload=report, at=T2)
    store.record_doctor("st-a", {"request": "new"}, at="2025-11-21T08:00:03+07:00")
    assert store.latest_doctor("st-a") == DoctorReport(payload={"request": "new"}, at=T3)
    assert store.latest_doctor("st-b") is None
    (item,) = store.overview()
    assert item.last_seen == T3
    with pytest.raises(ValueError, match="JSON"):
        store.record_doctor("st-a", {"x": {1, 2}}, at=T3)
    with pytest.raises(TypeError):
        store.latest_doctor(None)  # type: ignore[arg-type]


def test_two_collectors_recording_the_same_messages_append_each_change_once(
    store: CollectorStore, store_url: str
) -> None:
    """A state or device message delivered to two collectors at once (a redelivery after
    a reconnect): each change is appended once, whichever collector wins the station."""
    barrier = threading.Barrier(2)
    steps = 40

    def record(_: int) -> None:
        with closing(open_store(store_url)) as own:
            for step in range(steps):
                at = f"2025-11-21T02:00:{step:02d}.000000Z"
                barrier.wait(timeout=30)
                own.record_state("st-a", {"online": step % 2 == 0, "bd_seq": step // 2}, at=at)
                own.record_device("st-a", "printer", {"state": ("READY", "ERROR")[step % 2]}, at=at)

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(record, n) for n in range(2)]:
            future.result(timeout=120)
    history = store.state_history("st-a", T0)
    assert [(c.online, c.bd_seq) for c in history] == [(s % 2 == 0, s // 2) for s in range(steps)]
    assert store.flaps(T0) == {"st-a": steps // 2}
    devices = store.device_history("st-a", T0)
    assert [c.state for c in devices] == [("READY", "ERROR")[s % 2] for s in range(steps)]


def test_the_overview_keeps_the_last_forgery_flag_behind_harmless_ones(
    store: CollectorStore,
) -> None:
    """A malformed telemetry message flagged after a bad signature must not hide it: the
    alert on a register in doubt reads `last_forgery`, not the last flag."""
    store.flag(Flag(station="st-1", kind="bad_signature", seq=7, detail="forged", at=T1))
    store.flag(Flag(station="st-1", kind="malformed", seq=None, detail="junk", at=T2))
    store.flag(Flag(station="st-2", kind="malformed", seq=None, detail="junk", at=T2))
    by_id = {item.station: item for item in store.overview()}
    assert by_id["st-1"].last_flag is not None
    assert by_id["st-1"].last_flag.kind == "malformed"
    assert by_id["st-1"].last_forgery == Flag("st-1", "bad_signature", 7, "forged", T1)
    assert by_id["st-2"].last_forgery is None
    for kind in FORGERY_FLAG_KINDS:
        store.flag(Flag(station="st-3", kind=kind, seq=1, detail=kind, at=T3))
        (overview,) = store.overview(["st-3"])
        assert overview.last_forgery is not None
        assert overview.last_forgery.kind == kind


def test_the_forgery_kinds_are_the_collectors_flags() -> None:
    from appliance.sync import _check, _collector_flags  # noqa: PLC0415 - the kinds' homes

    assert set(FORGERY_FLAG_KINDS) == {
        _check.BAD_SIGNATURE,
        _check.ALTERED,
        _check.WRONG_STATION,
        _collector_flags.CHAIN_BREAK,
        _collector_flags.CONFLICT,
    }
