"""An auditor's view: every way of altering the register is caught and the seq named."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appliance.register import (
    DefectKind,
    EventType,
    Register,
    StationKey,
    event_body,
    verify_register,
)

EVENTS = 40


@pytest.fixture
def filled(register: Register) -> Path:
    for n in range(EVENTS - 1):
        register.append(EventType.BLANK_RECEIVED, {"count": n + 1, "reference": f"BA-{n}"})
    return register.path


@pytest.fixture
def db(filled: Path) -> Iterator[sqlite3.Connection]:
    # The attacker's tool: plain SQL with the append-only triggers dropped.
    conn = sqlite3.connect(filled, isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    yield conn
    conn.close()


def _row(conn: sqlite3.Connection, seq: int) -> tuple[object, ...]:
    row: tuple[object, ...] = conn.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
    return row


def _rehash(conn: sqlite3.Connection, seq: int, *, key: StationKey | None = None) -> None:
    """Recompute the hash of row `seq` as a careful forger would (and re-sign it)."""
    s, ts, mono, boot, synced, kind, app, data, prev, _h, sig = _row(conn, seq)
    station = conn.execute("SELECT value FROM meta WHERE key = 'station_id'").fetchone()[0]
    body = event_body(
        station=station,
        seq=int(str(s)),
        ts=str(ts),
        mono_ns=int(str(mono)),
        boot_id=str(boot),
        clock_synced=bool(synced),
        type=str(kind),
        app=app if app is None else str(app),
        data_json=str(data),
        prev_hash=str(prev),
    )
    digest = hashlib.sha256(body).digest()
    new_sig = key.sign(digest).hex() if key else sig
    conn.execute("UPDATE events SET hash = ?, sig = ? WHERE seq = ?", (digest.hex(), new_sig, seq))


def _verify(path: Path, key: StationKey) -> tuple[DefectKind, int | None]:
    report = verify_register(path, key.public_key)
    assert report.defect is not None, "tampering went unnoticed"
    return report.defect.kind, report.defect.seq


def test_an_untouched_register_verifies(filled: Path, station_key: StationKey) -> None:
    report = verify_register(filled, station_key.public_key)
    assert report.ok, report.defect
    assert (report.events, report.head_seq) == (EVENTS, EVENTS)


def test_an_edited_payload_is_named(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("""UPDATE events SET data = '{"count":999,"reference":"BA-16"}' WHERE seq = 18""")
    assert _verify(filled, station_key) == (DefectKind.EDITED, 18)


def test_an_edit_with_a_recomputed_hash_is_still_caught(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("""UPDATE events SET data = '{"count":999,"reference":"BA-16"}' WHERE seq = 18""")
    _rehash(db, 18)
    assert _verify(filled, station_key) == (DefectKind.EDITED, 18)


def test_an_edited_time_or_type_is_caught(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("UPDATE events SET ts = '2020-01-01T00:00:00.000000Z' WHERE seq = 7")
    assert _verify(filled, station_key) == (DefectKind.EDITED, 7)


def test_a_deleted_row_is_named(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("DELETE FROM events WHERE seq = 25")
    assert _verify(filled, station_key) == (DefectKind.MISSING, 25)


def test_a_deleted_row_with_the_rest_renumbered_is_named(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("DELETE FROM events WHERE seq = 25")
    db.execute("UPDATE events SET seq = seq - 1 WHERE seq > 25")
    assert _verify(filled, station_key) == (DefectKind.MISSING, 25)


def test_deleting_the_newest_rows_is_caught(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute(f"DELETE FROM events WHERE seq >= {EVENTS - 2}")
    assert _verify(filled, station_key) == (DefectKind.MISSING, EVENTS - 2)


def test_two_swapped_rows_are_named(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("UPDATE events SET seq = -1 WHERE seq = 11")
    db.execute("UPDATE events SET seq = 11 WHERE seq = 12")
    db.execute("UPDATE events SET seq = 12 WHERE seq = -1")
    kind, seq = _verify(filled, station_key)
    assert (kind, seq) == (DefectKind.REORDERED, 11)
    report = verify_register(filled, station_key.public_key)
    assert "written as seq 12" in str(report.defect)


def test_a_register_re_signed_with_another_key_fails_at_the_first_event(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    forger = StationKey.generate()
    for seq in range(1, EVENTS + 1):
        _rehash(db, seq, key=forger)
    assert _verify(filled, station_key) == (DefectKind.BAD_SIGNATURE, 1)


def test_one_event_re_signed_with_another_key_is_named(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    _rehash(db, 33, key=StationKey.generate())
    assert _verify(filled, station_key) == (DefectKind.BAD_SIGNATURE, 33)


def test_a_forged_edit_with_a_rebuilt_chain_fails_the_signature(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    # The thorough forger: edit, then re-hash and re-link every later row with a key of
    # their own. Only the signature can tell, and it tells at the edited row.
    forger = StationKey.generate()
    db.execute("""UPDATE events SET data = '{"count":1,"reference":"BA-fake"}' WHERE seq = 30""")
    for seq in range(30, EVENTS + 1):
        if seq > 30:
            prev = db.execute("SELECT hash FROM events WHERE seq = ?", (seq - 1,)).fetchone()[0]
            db.execute("UPDATE events SET prev_hash = ? WHERE seq = ?", (prev, seq))
        _rehash(db, seq, key=forger)
    assert _verify(filled, station_key)[1] == 30


def test_a_derived_table_changed_behind_the_events_is_caught(
    db: sqlite3.Connection, filled: Path, station_key: StationKey
) -> None:
    db.execute("UPDATE blank_stock SET issued = issued + 1")
    report = verify_register(filled, station_key.public_key)
    assert report.defect is not None
    assert report.defect.kind is DefectKind.DERIVED_MISMATCH
    assert "blank_stock" in report.defect.detail


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c.execute("UPDATE events SET sig = 'zz' WHERE seq = 5"),
        lambda c: c.execute("UPDATE events SET sig = '' WHERE seq = 5"),
        lambda c: c.execute("UPDATE events SET hash = 'nothex' WHERE seq = 5"),
        lambda c: c.execute("UPDATE events SET data = 'not json' WHERE seq = 5"),
    ],
)
def test_garbage_in_a_row_is_a_defect_not_a_crash(
    db: sqlite3.Connection,
    filled: Path,
    station_key: StationKey,
    tamper: Callable[[sqlite3.Connection], object],
) -> None:
    tamper(db)
    assert _verify(filled, station_key)[1] == 5
