"""The station status keeper at national scale, as one JSON object.

A throwaway PostgreSQL is filled as benchmarks/central_dashboard.py fills it: 7,277
stations (`--quick`: 300), one per listed kecamatan, registered in the fleet, with 30
days (`--quick`: 7) of an office's register events each, plus each station's birth and
telemetry through the store's own methods. Then `StatusKeeper` (the central database in
the same PostgreSQL, as in production) is timed:

- `cold`: from no status row until every station's events are folded: the passes it
  took, their time, the events folded per second, and the longest pass (a pass's work is
  bounded by `max_events`);
- `full_pass_s`: a full pass when nothing has changed (what runs every minute for the
  time-based fields);
- `changed_pass_s`: a pass after 100 stations sent a telemetry;
- `rows_p95_ms`: `StatusTable.rows` at national and regency scope, and `summary`, the
  overview's reads (target for the overview page as a whole: <= 300 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from appliance.central._database import Database
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._status import StatusTable
from appliance.central._status_keeper import StatusKeeper
from appliance.clock import ManualClock
from appliance.sync import open_store
from benchmarks.central_dashboard import load_events, station_ids
from sim.fleet import SimStation
from sim.postgres import PrivatePostgres

STATIONS: Final = 7277
DAYS: Final = 30
JAKARTA: Final = ZoneInfo("Asia/Jakarta")


def _p95_ms(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1] * 1000, 1)


def _cold(keeper: StatusKeeper, clock: ManualClock) -> dict[str, Any]:
    """Passes from no row until every station's events are folded."""
    passes, longest, folded = 0, 0.0, 0
    started = time.perf_counter()
    while True:
        lap = time.perf_counter()
        report = keeper.refresh()
        longest = max(longest, time.perf_counter() - lap)
        passes += 1
        folded += report.events
        if not report.pending:
            break
        clock.advance(11)  # past the per-station interval: the next pass carries on
    seconds = time.perf_counter() - started
    return {
        "passes": passes,
        "seconds": round(seconds, 1),
        "events_folded": folded,
        "events_per_s": round(folded / seconds) if seconds else None,
        "longest_pass_s": round(longest, 2),
    }


def _reads(table: StatusTable, *, regency: str) -> dict[str, float]:
    national, regional, summary = [], [], []
    for _ in range(40):
        lap = time.perf_counter()
        table.rows()
        national.append(time.perf_counter() - lap)
        lap = time.perf_counter()
        table.rows(regency)
        regional.append(time.perf_counter() - lap)
        lap = time.perf_counter()
        table.summary()
        summary.append(time.perf_counter() - lap)
    return {"nation": _p95_ms(national), "regency": _p95_ms(regional), "summary": _p95_ms(summary)}


def measure(quick: bool) -> dict[str, Any]:  # noqa: FBT001 - the benchmarks' one signature
    count = 300 if quick else STATIONS
    days = 7 if quick else DAYS
    now = datetime.now(UTC)
    today = now.astimezone(JAKARTA).date()
    stations = station_ids(count)
    fleet = Fleet(
        stations=tuple(FleetStation(id=s, district=d, name=d, zone=JAKARTA) for s, d in stations),
        default_zone=JAKARTA,
    )
    with (
        tempfile.TemporaryDirectory(prefix="ktpel-status-") as tmp,
        PrivatePostgres(directory=Path(tmp)) as server,
    ):
        url = server.fresh_database("central")
        store = open_store(url)
        heads = load_events(url, stations, first=today - timedelta(days=days), last=today)
        at = now.isoformat()
        for station, district in stations:
            sim = SimStation(id=station, district=district)
            store.record_state(station, {"online": True, "bd_seq": 1, "version": "1.0.0"}, at=at)
            store.record_telemetry(station, sim.telemetry(now), at=at)
        database = Database.open(url)
        clock = ManualClock(wall_ns=time.time_ns())
        keeper = StatusKeeper(store=store, database=database, fleet=fleet, clock=clock)
        cold = _cold(keeper, clock)
        clock.advance(61)
        lap = time.perf_counter()
        full = keeper.refresh()
        full_s = time.perf_counter() - lap

        clock.advance(5)
        later = datetime.fromtimestamp(clock.wall_ns() / 1e9, UTC).isoformat()
        for station, _ in stations[:100]:
            store.record_telemetry(
                station, SimStation(id=station, district="").telemetry(now), at=later
            )
        lap = time.perf_counter()
        changed = keeper.refresh()
        changed_s = time.perf_counter() - lap

        reads = _reads(StatusTable(database), regency=stations[0][1][:4])
        database.close()
        store.close()
        return {
            "quick": quick,
            "stations": count,
            "days": days,
            "events": sum(heads.values()),
            "cold": cold,
            "full_pass_s": round(full_s, 2),
            "full_pass_rows": full.rows,
            "changed_pass_s": round(changed_s, 3),
            "changed_pass_rows": changed.rows,
            "rows_p95_ms": reads,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 stations, 7 days")
    args = parser.parse_args(argv)
    json.dump(measure(args.quick), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
