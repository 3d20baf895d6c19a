"""The register: sealing, chaining, atomicity, derived state, identity."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.clock import ManualClock
from appliance.register import (
    GENESIS_HASH,
    EventType,
    InvalidEvent,
    NotCanonicalError,
    Register,
    RegisterMismatch,
    StationKey,
    canonical_json,
    event_body,
    format_ts,
    read_events,
    verify_register,
)
from tests.support import SUBMITTED


def test_a_new_register_starts_with_its_signed_genesis(
    register: Register, station_key: StationKey
) -> None:
    (genesis,) = register.events()
    assert genesis.seq == 1
    assert genesis.type == EventType.REGISTER_CREATED
    assert genesis.prev_hash == GENESIS_HASH
    assert genesis.data["public_key"] == station_key.public_key.hex
    assert genesis.data["station_id"] == "lumajang-01"


def test_events_are_gapless_chained_hashed_and_signed(
    register: Register, station_key: StationKey
) -> None:
    for count in range(1, 6):
        register.append(EventType.BLANK_RECEIVED, {"count": count, "reference": f"BA-{count}"})
    events = list(register.events())
    assert [e.seq for e in events] == list(range(1, 7))
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    for event in events:
        digest = hashlib.sha256(event.body()).digest()
        assert event.hash == digest.hex()
        assert station_key.public_key.verify(digest, bytes.fromhex(event.sig))


def test_each_event_records_wall_and_monotonic_time_boot_and_clock_sync(
    register: Register, clock: ManualClock
) -> None:
    clock.advance(90)
    clock.is_synchronised = False
    event = register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "x"})
    assert event.ts == format_ts(clock.wall_ns())
    assert event.mono_ns == clock.monotonic_ns() == 90_000_000_000
    assert event.clock_synced is False
    assert len(event.boot_id) >= 32
    # A wall clock that jumps back (NTP after a power cut) changes nothing of the order.
    clock.set_wall(0)
    later = register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "y"})
    assert later.seq == event.seq + 1
    assert later.ts == "1970-01-01T00:00:00.000000Z"


def test_format_ts_is_exact_to_the_microsecond() -> None:
    assert format_ts(1_763_700_000_123_456_789) == "2025-11-21T04:40:00.123456Z"


def test_derived_tables_follow_the_events(register: Register) -> None:
    day = date(2026, 11, 21)
    register.append(
        EventType.QUEUE_TICKET_ISSUED,
        {"day": day, "ticket": "B-001", "service": "baru", "number": 1},
    )
    register.append(
        EventType.APPLICATION_SUBMITTED, {**SUBMITTED, "ticket": "B-001"}, application_id="A1"
    )
    register.append(EventType.APPLICATION_ADVANCED, {"step": "check"}, application_id="A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 3, "reference": "BA-1"})
    issue_card(register, "A1", "C1")
    register.append(EventType.BLANK_SPOILED, {"reason": "jam"})
    application = register.application("A1")
    assert application is not None
    assert (application.step, application.state, application.ticket) == (
        "check",
        "in_progress",
        "B-001",
    )
    stock = register.blank_stock()
    assert (stock.received, stock.issued, stock.spoiled, stock.available) == (3, 1, 1, 1)


def test_a_batch_is_atomic(register: Register) -> None:
    head = register.head()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), register.transaction() as txn:  # noqa: PT012 - the block is the subject
        txn.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-1"})
        txn.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-2"})
        raise Abort
    assert register.head() == head
    assert register.blank_stock().received == 0
    with register.transaction() as txn:
        first = txn.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-1"})
        second = txn.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-2"})
    assert second.prev_hash == first.hash
    assert register.head() == (second.seq, second.hash)
    assert register.blank_stock().received == 10


def test_a_refused_event_caught_inside_a_batch_leaves_no_trace(register: Register) -> None:
    with register.transaction() as txn:
        with pytest.raises(InvalidEvent, match="not a printed card"):
            txn.append(EventType.BLANK_ISSUED, {"card_serial": "C1"}, application_id="A1")
        ok = txn.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-1"})
    assert ok.seq == 2
    assert [e.type for e in register.events()] == ["register.created", "blank.received"]
    assert verify_register(register.path, register_key(register)).ok


def issue_card(register: Register, app: str, serial: str) -> None:
    """A blank's whole way: fed, chip written, printed, activated."""
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id=app)
    register.append(
        EventType.CARD_PERSONALISED,
        {"card_serial": serial, "security_object_sha256": "ab" * 32, "chip_fingers": [2, 7]},
        application_id=app,
    )
    register.append(EventType.CARD_PRINTED, {"card_serial": serial}, application_id=app)
    register.append(EventType.BLANK_ISSUED, {"card_serial": serial}, application_id=app)


def register_key(register: Register) -> Any:
    from appliance.register import PublicKey  # noqa: PLC0415

    return PublicKey.from_hex(next(register.events()).data["public_key"])


@pytest.mark.parametrize(
    ("event_type", "data", "app", "message"),
    [
        ("no.such.type", {}, None, "unknown event type"),
        (EventType.BLANK_RECEIVED, {"count": 0, "reference": "x"}, None, "count"),
        (EventType.BLANK_RECEIVED, {"count": 1, "reference": "x", "extra": 1}, None, "extra"),
        (EventType.APPLICATION_SUBMITTED, SUBMITTED, None, "application id is required"),
        # The register checks a number's form; its region, date and serial are the
        # intake's to refuse (tests/test_domain_identity.py, the API corpus).
        (EventType.APPLICATION_SUBMITTED, {**SUBMITTED, "nik": "350801410190000X"}, "A", "nik"),
        (EventType.APPLICATION_SUBMITTED, {**SUBMITTED, "kk": "12"}, "A", "kk"),
        (
            EventType.APPLICATION_SUBMITTED,
            {**SUBMITTED, "birth_date": "1990-02-30"},
            "A",
            "birth_date",
        ),
        (EventType.APPLICATION_ADVANCED, {"step": "check"}, "nobody", "not open"),
        (EventType.APPLICATION_ADVANCED, {"step": "lunch"}, "A", "step"),
        (EventType.BLANK_ISSUED, {"card_serial": "C1"}, "A", "not a printed card"),
        (EventType.BLANK_FED, {"printer": "p"}, "A", "no blank card"),
        (EventType.CARD_PRINTED, {"card_serial": "C1"}, "A", "no card C1"),
        (
            EventType.QUEUE_CALLED,
            {"day": "2026-11-21", "ticket": "X", "counter": "1"},
            None,
            "not waiting",
        ),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(
    register: Register, event_type: str, data: dict[str, Any], app: str | None, message: str
) -> None:
    before = (register.head(), register.blank_stock())
    with pytest.raises(InvalidEvent, match=message):
        register.append(event_type, data, application_id=app)
    assert (register.head(), register.blank_stock()) == before


def test_refusal_messages_never_carry_a_full_nik(register: Register) -> None:
    bad = {**SUBMITTED, "nik": "35080141019000012"}
    with pytest.raises(InvalidEvent) as caught:
        register.append(EventType.APPLICATION_SUBMITTED, bad, application_id="A")
    assert "3508014101900001" not in str(caught.value)


def test_history_is_read_under_the_form_rule_only(register: Register) -> None:
    """An event accepted under the rules of its day is read again under later ones (verify,
    a migration's replay): a NIK whose regency a later list no longer has still reads."""
    register.append(
        EventType.APPLICATION_SUBMITTED,
        {**SUBMITTED, "nik": "3500011708900116"},  # regency 00: refused at intake today
        application_id="A",
    )


def test_an_application_cannot_be_submitted_twice(register: Register) -> None:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id="A1")
    with pytest.raises(InvalidEvent, match="submitted already"):
        register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id="A1")


def test_a_returned_application_takes_no_further_step(register: Register) -> None:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id="A1")
    register.append(
        EventType.APPLICATION_RETURNED,
        {"step": "check", "reason": "berkas belum lengkap", "missing_documents": ["fc_kk"]},
        application_id="A1",
    )
    with pytest.raises(InvalidEvent, match="not open"):
        register.append(EventType.APPLICATION_ADVANCED, {"step": "validate"}, application_id="A1")


def test_reopening_resumes_the_chain(register_path: Path, station_key: StationKey) -> None:
    with Register.open(register_path, station_id="s1", key=station_key) as reg:
        last = reg.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "x"})
    with Register.open(register_path, station_id="s1", key=station_key) as reg:
        nxt = reg.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "y"})
        assert len(list(reg.events())) == 3
    assert (nxt.seq, nxt.prev_hash) == (last.seq + 1, last.hash)
    assert verify_register(register_path, station_key.public_key).ok


def test_a_register_refuses_another_key_or_station(
    register_path: Path, station_key: StationKey
) -> None:
    Register.open(register_path, station_id="s1", key=station_key).close()
    with pytest.raises(RegisterMismatch, match="sealed by key"):
        Register.open(register_path, station_id="s1", key=StationKey.generate())
    with pytest.raises(RegisterMismatch, match="belongs to station 's1'"):
        Register.open(register_path, station_id="s2", key=station_key)


def test_events_cannot_be_updated_or_deleted_through_sql(register: Register) -> None:
    conn = sqlite3.connect(register.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET data = '{}' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM events")
    conn.close()


def test_read_events_reads_without_a_key(register: Register) -> None:
    register.append(EventType.BLANK_RECEIVED, {"count": 2, "reference": "x"})
    assert [e.seq for e in read_events(register.path)] == [1, 2]
    assert [e.seq for e in read_events(register.path, after=1)] == [2]


def test_wire_form_round_trips_through_the_canonical_encoding(register: Register) -> None:
    event = register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id="A1")
    wire = json.loads(json.dumps(event.to_wire()))
    body = event_body(
        station=wire["station"],
        seq=wire["seq"],
        ts=wire["ts"],
        mono_ns=wire["mono_ns"],
        boot_id=wire["boot_id"],
        clock_synced=wire["clock_synced"],
        type=wire["type"],
        app=wire["app"],
        data_json=canonical_json(wire["data"]),
        prev_hash=wire["prev_hash"],
    )
    assert hashlib.sha256(body).hexdigest() == event.hash


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    data=st.dictionaries(st.text(), json_values, max_size=5),
    app=st.none() | st.text(min_size=1),
    seq=st.integers(min_value=1, max_value=2**62),
    synced=st.booleans(),
    text=st.text(),
)
def test_the_spliced_body_is_the_canonical_json_of_the_whole_event(
    data: dict[str, Any], app: str | None, seq: int, synced: bool, text: str
) -> None:
    fields: dict[str, Any] = {
        "station": text,
        "seq": seq,
        "ts": text,
        "mono_ns": seq,
        "boot_id": text,
        "clock_synced": synced,
        "type": text,
        "app": app,
        "prev_hash": text,
    }
    spliced = event_body(**fields, data_json=canonical_json(data))
    whole = canonical_json({**fields, "data": data, "v": 1}).encode()
    assert spliced == whole


@pytest.mark.parametrize("value", [1.5, float("nan"), b"x", {1: "a"}, object()])
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(NotCanonicalError):
        canonical_json({"v": value})


def test_no_payload_model_has_a_float_field() -> None:
    # canonical_data() relies on this to skip the float check on the append path.
    from appliance.register import CATALOGUE  # noqa: PLC0415

    def floats(model: Any) -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            text = repr(field.annotation)
            if "float" in text:
                found.append(f"{model.__name__}.{name}")
            annotation = field.annotation
            for inner in getattr(annotation, "__args__", (annotation,)):
                if hasattr(inner, "model_fields"):
                    found += floats(inner)
        return found

    assert [f for spec in CATALOGUE.values() for f in floats(spec.payload)] == []


def test_reading_a_closed_register_leaves_no_file_behind(register: Register) -> None:
    """`sudo appliance register verify` must not leave root-owned -wal/-shm files that
    the daemon, running as its own user, could not open for writing."""
    register.append(EventType.BLANK_RECEIVED, {"count": 2, "reference": "x"})
    key = register_key(register)
    register.close()
    before = sorted(path.name for path in register.path.parent.iterdir())
    assert [e.seq for e in read_events(register.path)] == [1, 2]
    assert verify_register(register.path, key).ok
    assert sorted(path.name for path in register.path.parent.iterdir()) == before


def test_a_copy_with_its_wal_but_not_its_shm_is_read_whole(
    register: Register, tmp_path: Path
) -> None:
    """A backup that skips the -shm file (only shared memory, it seems) still carries
    committed events in its -wal: they are read, not silently left out."""
    for _ in range(5):
        register.append(EventType.BLANK_RECEIVED, {"count": 2, "reference": "x"})
    copy = tmp_path / "copy" / "register.sqlite3"
    copy.parent.mkdir()
    for suffix in ("", "-wal"):
        source = register.path.with_name(register.path.name + suffix)
        copy.with_name(copy.name + suffix).write_bytes(source.read_bytes())
    assert [e.seq for e in read_events(copy)] == list(range(1, 7))
