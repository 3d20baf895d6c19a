"""A damaged, full or read-only medium gives a typed error with a message, and never a
partly written event."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from appliance.register import (
    EventType,
    Register,
    RegisterCorrupt,
    StationKey,
    verify_register,
)
from tests.support import run_on_small_filesystem

DISK_FULL = """
import json, sys
from pathlib import Path
from appliance.register import EventType, Register, RegisterFull, StationKey, verify_register, read_events

mount = Path(sys.argv[1])
key = StationKey.generate()
register = Register.open(mount / "register.sqlite3", station_id="full-01", key=key)
written, error = [], None
try:
    for n in range(1_000_000):
        if n % 3:
            written.append(register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "x" * 190}).seq)
        else:
            with register.transaction() as txn:
                batch = [txn.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "y" * 190}) for _ in range(5)]
            written += [e.seq for e in batch]
except RegisterFull as exc:
    error = str(exc)
head = register.head()[0]
stock = register.blank_stock().received
# Still usable for reading, and consistent, while the disk stays full.
report = verify_register(mount / "register.sqlite3", key.public_key)
stored = [e.seq for e in read_events(mount / "register.sqlite3")]
print(json.dumps({"error": error, "written": written, "head": head, "stock": stock,
                  "stored": stored, "verify": str(report.defect) if report.defect else None}))
"""

READ_ONLY = """
import json, sys
from pathlib import Path
from appliance.register import EventType, Register, RegisterError, StationKey, verify_register

mount, phase = Path(sys.argv[1]), sys.argv[2]
if phase == "prepare":
    key = StationKey.generate()
    key.save(mount / "station.key")
    with Register.open(mount / "register.sqlite3", station_id="ro-01", key=key) as reg:
        reg.append(EventType.BLANK_RECEIVED, {"count": 3, "reference": "BA"})
    sys.exit(0)
key = StationKey.load(mount / "station.key")
result = {}
try:
    Register.open(mount / "register.sqlite3", station_id="ro-01", key=key)
except RegisterError as exc:
    result["open"] = [type(exc).__name__, str(exc)]
report = verify_register(mount / "register.sqlite3", key.public_key)
result["verify"] = [report.ok, report.events]
print(json.dumps(result))
"""


def test_a_full_disk_refuses_the_event_and_keeps_the_register_whole(tmp_path: Path) -> None:
    script = tmp_path / "full.py"
    script.write_text(DISK_FULL)
    result = run_on_small_filesystem(script, mount=tmp_path / "mnt", size="192k")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["error"] is not None, "the disk never filled up"
    assert "disk is full" in report["error"]
    assert report["verify"] is None
    # Everything acknowledged is there; nothing unacknowledged is.
    assert report["stored"] == [1, *report["written"]]
    assert report["head"] == len(report["stored"])
    assert report["stock"] == len(report["written"])


def test_a_read_only_medium_refuses_writing_but_still_verifies(tmp_path: Path) -> None:
    script = tmp_path / "ro.py"
    script.write_text(READ_ONLY)
    result = run_on_small_filesystem(script, mount=tmp_path / "mnt", remount_ro=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    kind, message = report["open"]
    assert kind == "RegisterReadOnly"
    assert "register.sqlite3" in message
    assert report["verify"] == [True, 2]


def test_a_file_that_is_not_a_database_is_corrupt(
    register_path: Path, station_key: StationKey
) -> None:
    register_path.write_bytes(b"this is not SQLite" * 200)
    with pytest.raises(RegisterCorrupt, match="not a register"):
        Register.open(register_path, station_id="s", key=station_key)
    with pytest.raises(RegisterCorrupt):
        verify_register(register_path, station_key.public_key)


def test_another_programs_database_is_not_a_register(
    register_path: Path, station_key: StationKey
) -> None:
    conn = sqlite3.connect(register_path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.close()
    with pytest.raises(RegisterCorrupt, match="not a register"):
        Register.open(register_path, station_id="s", key=station_key)


def test_a_truncated_database_is_corrupt(register_path: Path, station_key: StationKey) -> None:
    with Register.open(register_path, station_id="s", key=station_key) as reg:
        for n in range(2000):
            reg.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": f"{n:0200d}"})
    size = register_path.stat().st_size
    with register_path.open("r+b") as stream:
        stream.truncate(size // 2)
    with pytest.raises(RegisterCorrupt, match="damaged"):
        verify_register(register_path, station_key.public_key)
    # Opening may notice the damage, or the first write: either way it is RegisterCorrupt.
    with (
        pytest.raises(RegisterCorrupt),
        Register.open(register_path, station_id="s", key=station_key) as reg,
    ):
        reg.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "after"})
