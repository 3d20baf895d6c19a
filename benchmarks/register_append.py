"""Register throughput: signed appends against raw SQLite inserts of the same rows, in
the same run, on the same disk; and `verify` speed on a 100,000-event register.

Prints one JSON object. Targets (issue 2): signed per-event appends >= 0.7x raw
per-event inserts; verify >= 20,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from appliance.register import EventType, Register, StationKey, verify_register

PAYLOAD = {"step": "encode_print", "by": {"role": "operator", "person": "operator.siak"}}


def _signed(path: Path, key: StationKey, count: int, batch: int) -> tuple[float, Path]:
    with Register.open(path, station_id="bench-01", key=key) as register:
        register.append(
            EventType.APPLICATION_SUBMITTED,
            {
                "service": "baru",
                "nik": "3508014101900001",
                "kk": "3508011502150003",
                "name": "Siti Aminah",
                "birth_date": "1990-01-01",
                "sex": "P",
                "marital_status": "kawin",
            },
            application_id="A-1",
        )
        started = time.perf_counter()
        if batch == 1:
            for _ in range(count):
                register.append(EventType.APPLICATION_ADVANCED, PAYLOAD, application_id="A-1")
        else:
            for _ in range(count // batch):
                with register.transaction() as txn:
                    for _ in range(batch):
                        txn.append(EventType.APPLICATION_ADVANCED, PAYLOAD, application_id="A-1")
        elapsed = time.perf_counter() - started
    return count / elapsed, path


def _raw(source: Path, target: Path, count: int, batch: int) -> float:
    """Insert the rows `source` holds into a bare table of the same shape, same pragmas."""
    src = sqlite3.connect(source)
    ddl = [
        sql
        for (sql,) in src.execute(
            "SELECT sql FROM sqlite_schema "
            "WHERE name IN ('events', 'events_by_app') ORDER BY type DESC"
        )
    ]
    rows = src.execute(
        "SELECT * FROM events WHERE seq > 2 ORDER BY seq LIMIT ?", (count,)
    ).fetchall()
    src.close()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    for statement in ddl:
        conn.execute(statement)
    insert = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        for row in rows[start : start + batch]:
            conn.execute(insert, row)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def _verify_rate(directory: Path, key: StationKey, events: int) -> dict[str, Any]:
    path = directory / "verify.sqlite3"
    with Register.open(path, station_id="bench-01", key=key) as register:
        remaining = events - 1
        while remaining:
            with register.transaction() as txn:
                for _ in range(min(1000, remaining)):
                    txn.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-2026/117"})
                    remaining -= 1
    started = time.perf_counter()
    report = verify_register(path, key.public_key)
    elapsed = time.perf_counter() - started
    assert report.ok, report.defect
    return {
        "events": report.events,
        "seconds": round(elapsed, 3),
        "events_per_s": round(report.events / elapsed),
        "target_events_per_s": 20_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-event", type=int, default=2000, help="events per per-event round")
    parser.add_argument("--batched", type=int, default=20_000, help="events per batched round")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verify-events", type=int, default=100_000)
    parser.add_argument("--dir", help="directory on the disk to measure (default: a temp dir)")
    args = parser.parse_args()
    key = StationKey.generate()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="ktpel-bench-") as tmp:
        directory = Path(tmp)
        results: dict[str, list[float]] = {k: [] for k in ("signed1", "raw1", "signedN", "rawN")}
        for round_ in range(args.rounds):
            # Interleaved rounds, so drift in the disk's speed hits both sides alike.
            rate, source = _signed(directory / f"s1-{round_}.db", key, args.per_event, 1)
            results["signed1"].append(rate)
            results["raw1"].append(_raw(source, directory / f"r1-{round_}.db", args.per_event, 1))
            rate, source = _signed(
                directory / f"sN-{round_}.db", key, args.batched, args.batch_size
            )
            results["signedN"].append(rate)
            results["rawN"].append(
                _raw(source, directory / f"rN-{round_}.db", args.batched, args.batch_size)
            )
        median = {k: statistics.median(v) for k, v in results.items()}
        verify = _verify_rate(directory, key, args.verify_events)
    print(
        json.dumps(
            {
                "benchmark": "register_append",
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "commit_per_event": {
                    "events": args.per_event,
                    "signed_appends_per_s": round(median["signed1"]),
                    "raw_sqlite_inserts_per_s": round(median["raw1"]),
                    "ratio_signed_to_raw": round(median["signed1"] / median["raw1"], 3),
                    "target_ratio": 0.7,
                },
                "batched_commits": {
                    "events": args.batched,
                    "batch_size": args.batch_size,
                    "signed_appends_per_s": round(median["signedN"]),
                    "raw_sqlite_inserts_per_s": round(median["rawN"]),
                    "ratio_signed_to_raw": round(median["signedN"] / median["rawN"], 3),
                },
                "verify": verify,
                "rounds": args.rounds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
