"""The central dashboard's server time at national scale, as one JSON object.

A throwaway PostgreSQL (sim/postgres.py) is filled with a nation's fleet: 7,277 stations
(`--quick`: 300), one per listed kecamatan of appliance.domain's region list (the first
7,277 district codes, registered in a fleet file), and 30 days (`--quick`: 7) of their
register events, copied in with COPY from an office's synthesised month (sim/history.py,
three sizes of office, 2, 3 or 5 applicants a working day, so about 65 to 160 events a
working day). The events are the register's real types and data, in the collector's own
schema (created by `open_store`), but **not signed**: their hashes and signatures are
placeholders of the right length, since no read the dashboard makes checks them and
signing 16 million events would take this machine an hour. Each station then gets what
the collector records beside its events, through the store's own methods: its birth
(some a death after it), its telemetry, its devices' status (a few in ERROR), a flag on
a few, a doctor report on some.

Then the dashboard's app (the composition `appliance central` serves) is driven in
process through httpx's ASGITransport by a signed-in user, and each page's server time is
taken per request (the wall time of the in-process request; the transport adds no
network):

- `overview_p95_ms`: the overview at national scope and at a regency's (target: <= 300);
- `station_page_p95_ms`: a station's page (target: <= 200);
- `db_size_mb`, `events`, `setup_s` (loading the events, the stations' records and the
  status rows).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg

from appliance.domain import listed_districts
from appliance.sync import open_store
from appliance.sync._store import EVENT_COLUMNS
from sim.history import HistoryEvent, history
from sim.postgres import PrivatePostgres

STATIONS: Final = 7277
DAYS: Final = 30
_OFFICE_SIZES: Final = (2, 3, 5)
_HASH: Final = "0" * 64
_SIG: Final = "0" * 128
_COPY_CHUNK: Final = 4 << 20


def station_ids(count: int) -> list[tuple[str, str]]:
    """(station id, district) for the first `count` listed kecamatan."""
    districts = list(itertools.islice(listed_districts(), count))
    if len(districts) < count:
        raise SystemExit(f"the region list has {len(districts)} districts, not {count}")
    return [(f"kec-{code}", code) for code in districts]


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and newlines escaped."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _utc(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _templates(first: date, last: date) -> list[list[str]]:
    """Per office size, each event's row after (station, seq): ts, mono_ns, boot_id,
    clock_synced, type, app, data_json, prev_hash, hash, sig, in COPY text."""
    templates = []
    for size in _OFFICE_SIZES:
        events: list[HistoryEvent] = history(first=first, last=last, per_day=size, seed=size)
        rows = []
        for index, event in enumerate(events):
            data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
            app = "\\N" if event.app is None else _copy_text(event.app)
            rows.append(
                "\t".join(
                    (
                        _utc(event.ts),
                        str(index * 1_000_000),
                        "boot-1",
                        "t",
                        event.type,
                        app,
                        _copy_text(data),
                        _HASH,
                        _HASH,
                        _SIG,
                    )
                )
                + "\n"
            )
        templates.append(rows)
    return templates


def _event_lines(
    stations: list[tuple[str, str]], templates: list[list[str]]
) -> Iterator[tuple[str, int]]:
    """Each station's COPY text, and its event count."""
    for index, (station, _district) in enumerate(stations):
        rows = templates[index % len(templates)]
        prefix = station + "\t"
        text = "".join(f"{prefix}{seq}\t{row}" for seq, row in enumerate(rows, start=1))
        yield text, len(rows)


def load_events(
    url: str, stations: list[tuple[str, str]], *, first: date, last: date
) -> dict[str, int]:
    """The stations' events by COPY, and their rows in `stations` (head = stored_max =
    the last seq). Returns each station's head."""
    templates = _templates(first, last)
    heads: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        buffer = io.StringIO()
        pending = 0
        with conn.cursor() as cur, cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for (station, _), (text, count) in zip(
                stations, _event_lines(stations, templates), strict=True
            ):
                heads[station] = count
                buffer.write(text)
                pending += len(text)
                if pending >= _COPY_CHUNK:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                    pending = 0
            copy.write(buffer.getvalue())
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO stations (station, head, stored_max) "
                "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[])",
                (list(heads), list(heads.values()), list(heads.values())),
            )
            cur.execute("ANALYZE")
    return heads


def db_size_mb(url: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return round(int(row[0]) / (1 << 20), 1)


def measure(quick: bool) -> dict[str, Any]:  # noqa: FBT001 - the benchmarks' one signature
    count = 300 if quick else STATIONS
    days = 7 if quick else DAYS
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    stations = station_ids(count)
    with (
        tempfile.TemporaryDirectory(prefix="ktpel-dash-") as tmp,
        PrivatePostgres(directory=Path(tmp)) as server,
    ):
        url = server.fresh_database("dashboard")
        started = time.perf_counter()
        open_store(url).close()  # the collector's schema, as the collector makes it
        heads = load_events(url, stations, first=first, last=today)
        events_s = time.perf_counter() - started
        return {
            "quick": quick,
            "stations": count,
            "days": days,
            "events": sum(heads.values()),
            "events_load_s": round(events_s, 1),
            "db_size_mb": db_size_mb(url),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 stations, 7 days")
    args = parser.parse_args(argv)
    json.dump(measure(args.quick), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
