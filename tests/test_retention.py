"""The biometric retention purge: on the station's clock, ended applications' captures go
after the retention days and the others stay; each purge is a counts-only register
event; a SIGKILL at any moment loses nothing that should be kept and nothing is counted
twice or forgotten."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from appliance.biostore import BiometricStore, Modality, create_master_key
from appliance.clock import ManualTimekeeper
from appliance.config import load_config
from appliance.doctor import DoctorLimits, Level
from appliance.doctor._retention import _inspect_retention
from appliance.register import EventType, Register, StationKey, verify_register
from appliance.retention import DAY_S, RetentionPurge
from tests.support import REPO, SUBMITTED

RETENTION_DAYS = 30
RETURN = {"step": "check", "reason": "berkas belum lengkap", "missing_documents": ["fc_kk"]}


def capture(app: str, modality: Modality) -> bytes:
    return f"{app}|{modality}|".encode() * 8


def end_application(register: Register, app: str) -> None:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=app)
    register.append(EventType.APPLICATION_RETURNED, RETURN, application_id=app)


def fill(biostore: BiometricStore, app: str) -> None:
    for modality in (Modality.FACE, Modality.IRIS, Modality.SIGNATURE):
        biostore.put(app, modality, capture(app, modality))


def readable(biostore: BiometricStore, app: str) -> bool:
    """All of the application's captures read back intact; False if it has none."""
    refs = biostore.list(app)
    return bool(refs) and all(biostore.get(r.blob_id) == capture(app, r.modality) for r in refs)


def purge_events(register: Register) -> list[dict[str, int]]:
    return [e.data for e in register.events() if e.type == EventType.BIOMETRICS_PURGED]


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "biometric.key"
    create_master_key(path)
    return path


async def test_ended_applications_go_after_the_retention_days_and_the_others_stay(
    tmp_path: Path, station_key: StationKey, key_path: Path
) -> None:
    clock = ManualTimekeeper()
    with (
        Register.open(tmp_path / "r.sqlite3", station_id="s1", key=station_key, clock=clock) as reg,
        BiometricStore.open(tmp_path / "bio", master_key_path=key_path) as bio,
    ):
        for app in ("OLD-1", "OLD-2"):
            fill(bio, app)
            end_application(reg, app)
        clock.advance(10 * DAY_S)
        fill(bio, "RECENT")
        end_application(reg, "RECENT")
        fill(bio, "OPEN")
        reg.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id="OPEN")
        fill(bio, "UNKNOWN")  # captures the register knows nothing of: kept
        purge = RetentionPurge(
            register=reg, biostore=bio, clock=clock, retention_days=RETENTION_DAYS
        )
        runner = asyncio.create_task(purge.run())
        try:
            await next_turn(clock)  # the purge at start: nothing is due yet
            assert all(readable(bio, a) for a in ("OLD-1", "OLD-2", "RECENT", "OPEN", "UNKNOWN"))

            clock.advance(19 * DAY_S)  # day 29 since OLD-* ended: still kept
            await next_turn(clock)
            assert readable(bio, "OLD-1")
            assert purge_events(reg) == []

            clock.advance(DAY_S + 1)  # past 30 days: the daily purge takes OLD-*
            await next_turn(clock)
            assert not bio.list("OLD-1")
            assert not bio.list("OLD-2")
            assert all(readable(bio, a) for a in ("RECENT", "OPEN", "UNKNOWN"))
            assert purge_events(reg) == [
                {"applications": 2, "blobs": 6, "retention_days": RETENTION_DAYS}
            ]
            (event,) = (e for e in reg.events() if e.type == EventType.BIOMETRICS_PURGED)
            assert event.app is None  # counts only: never whose captures they were
            with closing(sqlite3.connect(f"{reg.path.as_uri()}?mode=ro", uri=True)) as db:
                totals = db.execute("SELECT purges, applications, blobs FROM biometric_purges")
                assert totals.fetchall() == [(1, 2, 6)]  # the derived table follows

            clock.advance(DAY_S)  # nothing more due: no empty event
            await next_turn(clock)
            assert len(purge_events(reg)) == 1
        finally:
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
        assert bio.purge_tally().applications == 0
    assert verify_register(tmp_path / "r.sqlite3", station_key.public_key).ok


async def next_turn(clock: ManualTimekeeper) -> None:
    """Wait until the service sleeps on the clock again: its purge is done."""
    while not clock.pending:
        await clock.timers_changed.wait()


def test_a_report_the_store_missed_is_not_counted_twice(
    tmp_path: Path, station_key: StationKey, key_path: Path
) -> None:
    clock = ManualTimekeeper()
    with (
        Register.open(tmp_path / "r.sqlite3", station_id="s1", key=station_key, clock=clock) as reg,
        BiometricStore.open(tmp_path / "bio", master_key_path=key_path) as bio,
    ):
        purge = RetentionPurge(register=reg, biostore=bio, clock=clock, retention_days=0)
        purge.purge()  # the first purge anchors the store's tally at the register's head
        fill(bio, "A")
        end_application(reg, "A")
        clock.advance(1)
        # As if killed between the register's event and the store's acknowledgement:
        assert bio.purge("A") == 3
        reg.append(
            EventType.BIOMETRICS_PURGED, {"applications": 1, "blobs": 3, "retention_days": 0}
        )
        outcome = purge.purge()
        assert (outcome.reported_applications, outcome.reported_blobs) == (0, 0)
        assert len(purge_events(reg)) == 1
        # And killed before the event: the next purge reports it.
        fill(bio, "B")
        end_application(reg, "B")
        clock.advance(1)
        assert bio.purge("B") == 3
        outcome = purge.purge()
        assert (outcome.applications, outcome.reported_applications) == (0, 1)
        assert purge_events(reg)[-1] == {"applications": 1, "blobs": 3, "retention_days": 0}


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from appliance.biostore import BiometricStore
    from appliance.clock import ManualClock
    from appliance.register import Register, StationKey
    from appliance.retention import RetentionPurge

    root = Path(sys.argv[1])

    class Reporting(BiometricStore):
        def purge(self, application_id):
            destroyed = super().purge(application_id)
            print(application_id, flush=True)  # once the purge has returned
            return destroyed

    clock = ManualClock(wall_ns=int(sys.argv[2]))
    key = StationKey.load(root / "station.key")
    register = Register.open(root / "r.sqlite3", station_id="s1", key=key, clock=clock)
    store = Reporting.open(root / "bio", master_key_path=root / "bio.key")
    RetentionPurge(register=register, biostore=store, clock=clock, retention_days=30).purge()
    print("done", flush=True)
    """
)


def test_sigkill_during_purges_keeps_what_must_be_kept_and_counts_every_purge(
    tmp_path: Path, station_key: StationKey
) -> None:
    rng = random.Random(20261116)
    station_key.save(tmp_path / "station.key")
    create_master_key(tmp_path / "bio.key")
    clock = ManualTimekeeper()
    due = [f"DUE-{i:03d}" for i in range(60)]
    kept = [f"KEPT-{i}" for i in range(4)]
    with (
        Register.open(tmp_path / "r.sqlite3", station_id="s1", key=station_key, clock=clock) as reg,
        BiometricStore.open(tmp_path / "bio", master_key_path=tmp_path / "bio.key") as bio,
    ):
        for app in due:
            fill(bio, app)
            end_application(reg, app)
        clock.advance(40 * DAY_S)
        for app in kept[:-1]:  # ended a day before the purges: kept
            fill(bio, app)
            end_application(reg, app)
        fill(bio, kept[-1])  # still open
        reg.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=kept[-1])
    now = clock.wall_ns() + DAY_S * 1_000_000_000
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    purged: set[str] = set()
    for life in range(12):
        with subprocess.Popen(
            [sys.executable, str(child), str(tmp_path), str(now)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        ) as proc:
            assert proc.stdout is not None
            for _ in range(rng.choice([0, 1, rng.randint(2, 8)])):
                line = proc.stdout.readline().strip()
                if not line or line == "done":
                    break
                purged.add(line)
            proc.send_signal(signal.SIGKILL)
            purged.update(line.strip() for line in proc.stdout if line.strip() != "done")
        with BiometricStore.open(tmp_path / "bio", master_key_path=tmp_path / "bio.key") as bio:
            assert all(readable(bio, app) for app in kept), f"life {life}: a kept capture lost"
            for app in due:  # each application entirely there, or entirely gone
                assert not bio.list(app) or readable(bio, app), f"life {life}: {app} half gone"
            assert purged <= {app for app in due if not bio.list(app)}
        assert verify_register(tmp_path / "r.sqlite3", station_key.public_key).ok
    assert purged, "no life got as far as a purge: the test proved little"
    result = subprocess.run(  # a last, undisturbed life finishes the job
        [sys.executable, str(child), str(tmp_path), str(now)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert result.stdout.splitlines()[-1] == "done"
    with (
        Register.open(tmp_path / "r.sqlite3", station_id="s1", key=station_key) as reg,
        BiometricStore.open(tmp_path / "bio", master_key_path=tmp_path / "bio.key") as bio,
    ):
        assert not any(bio.list(app) for app in due)
        assert all(readable(bio, app) for app in kept)
        reported = purge_events(reg)
        assert sum(r["applications"] for r in reported) == len(due)
        assert sum(r["blobs"] for r in reported) == 3 * len(due)
        assert bio.purge_tally().applications == 0


def test_the_doctor_counts_what_awaits_the_purge_and_warns_when_it_is_not_running(
    tmp_path: Path, station_key: StationKey
) -> None:
    file = tmp_path / "station.toml"
    file.write_text(
        '[station]\nid = "s1"\noffice = "Kecamatan Lumajang"\n[paths]\nstate_dir = "state"\n'
        f"[biometrics]\nretention_days = {RETENTION_DAYS}\n",
        encoding="utf-8",
    )
    config = load_config(file)
    create_master_key(config.biometric_key_path)
    clock = ManualTimekeeper()
    with (
        Register.open(config.register_path, station_id="s1", key=station_key, clock=clock) as reg,
        BiometricStore.open(
            config.biometrics_dir, master_key_path=config.biometric_key_path
        ) as bio,
    ):
        for app in ("A", "B"):
            fill(bio, app)
            end_application(reg, app)
        fill(bio, "OPEN")
        clock.advance((RETENTION_DAYS + 1) * DAY_S)
        (finding,) = asyncio.run(_inspect_retention(config, DoctorLimits(), clock))
        assert finding.level is Level.OK  # due a day ago: the next daily purge takes them
        assert finding.details["applications_awaiting_purge"] == 2
        assert finding.details["blobs_awaiting_purge"] == 6
        clock.advance(2 * DAY_S)
        (finding,) = asyncio.run(_inspect_retention(config, DoctorLimits(), clock))
    assert finding.level is Level.WARNING
    assert finding.advice is not None
    shown = json.dumps(finding.to_json(), ensure_ascii=False)
    assert "3508014101900001" not in shown  # counts only
    assert '"A"' not in shown
    assert finding.details["applications_held"] == 3
