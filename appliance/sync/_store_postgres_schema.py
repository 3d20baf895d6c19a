"""The collector's PostgreSQL schema and its migrations, run by `PostgresStore` under an
advisory lock, in one transaction per version.

v2 adds the timeline (state and device changes, doctor reports, the birth's version)
and makes `events` partitioned by month (`_store_partitions`): v1's table is renamed,
its rows copied into the new one, which routes each to its partition, and dropped. The
copy is one statement inside the migration's transaction: a collector upgraded with a
large v1 register waits for it once, at its first opening.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeAlias

import psycopg
from psycopg import sql

from appliance.register import GENESIS_HASH

from ._store import EVENT_COLUMNS
from ._store_partitions import (
    DEFAULT_PARTITION,
    PARENT,
    collector_today,
    event_month,
    make_partitions,
    no_truncate,
)

V1: Final = (
    f"""CREATE TABLE stations (
        station text PRIMARY KEY,
        head bigint NOT NULL DEFAULT 0,
        head_hash text NOT NULL DEFAULT '{GENESIS_HASH}',
        stored_max bigint NOT NULL DEFAULT 0,
        last_seen text,
        online boolean,
        bd_seq bigint,
        state_json text,
        state_at text,
        telemetry text,
        telemetry_at text
    )""",
    """CREATE TABLE events (
        station text NOT NULL,
        seq bigint NOT NULL,
        ts text NOT NULL,
        mono_ns bigint NOT NULL,
        boot_id text NOT NULL,
        clock_synced boolean NOT NULL,
        type text NOT NULL,
        app text,
        data_json text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        sig text NOT NULL,
        PRIMARY KEY (station, seq)
    )""",
    # As in the station's register: the trigger stops a bug or a careless hand. A
    # statement trigger: it costs nothing per row, and inserts do not fire it.
    """CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'collected events are append-only';
    END $$""",
    """CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()""",
    """CREATE TABLE devices (
        station text NOT NULL,
        name text NOT NULL,
        payload text NOT NULL,
        at text NOT NULL,
        PRIMARY KEY (station, name)
    )""",
    """CREATE TABLE flags (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        station text NOT NULL,
        kind text NOT NULL,
        seq bigint,
        detail text NOT NULL,
        at text NOT NULL
    )""",
    "CREATE INDEX flags_by_station ON flags (station, id)",
)


def _copy_v1_events(cur: psycopg.Cursor[Any]) -> None:
    """v1's rows into the partitioned table, each with its month by the ingest's rule,
    the partitions of those months made first."""
    today = collector_today()
    cur.execute("SELECT DISTINCT left(ts, 7) FROM events_v1")
    months = {prefix: event_month(prefix, today) for (prefix,) in cur.fetchall()}
    make_partitions(cur, {month for month in months.values() if month is not None})
    cur.execute(
        f"INSERT INTO events ({EVENT_COLUMNS}, month) "  # noqa: S608 - constant columns
        f"SELECT {', '.join(f'v.{column}' for column in EVENT_COLUMNS.split(', '))}, m.month "
        "FROM events_v1 v LEFT JOIN unnest(%s::text[], %s::date[]) AS m(prefix, month) "
        "ON m.prefix = left(v.ts, 7)",
        (list(months), list(months.values())),
    )


# The timeline: state and device changes, doctor reports, the birth's version. Times
# compared as text are collated "C": byte order is time order, whatever the database's
# default collation, and an index on them serves a plain `at > ?`.
V2: Final = (
    'ALTER TABLE stations ALTER COLUMN last_seen TYPE text COLLATE "C"',
    'ALTER TABLE flags ALTER COLUMN at TYPE text COLLATE "C"',
    'ALTER TABLE devices ALTER COLUMN at TYPE text COLLATE "C"',
    "ALTER TABLE stations ADD COLUMN version text",
    """UPDATE stations SET version = state_json::jsonb ->> 'version'
    WHERE online AND jsonb_typeof(state_json::jsonb -> 'version') = 'string'""",
    'ALTER TABLE devices ADD COLUMN since text COLLATE "C"',
    "UPDATE devices SET since = at",
    "ALTER TABLE devices ALTER COLUMN since SET NOT NULL",
    """CREATE TABLE state_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        station text NOT NULL,
        at text COLLATE "C" NOT NULL,
        online boolean NOT NULL,
        bd_seq bigint,
        version text,
        flap boolean NOT NULL
    )""",
    "CREATE INDEX state_history_by_station ON state_history (station, at)",
    "CREATE INDEX state_history_flaps ON state_history (at) WHERE flap",
    """CREATE TABLE device_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        station text NOT NULL,
        name text NOT NULL,
        at text COLLATE "C" NOT NULL,
        state text,
        code text,
        reason text
    )""",
    "CREATE INDEX device_history_by_station ON device_history (station, at)",
    """CREATE TABLE doctor_reports (
        station text PRIMARY KEY,
        payload text NOT NULL,
        at text COLLATE "C" NOT NULL
    )""",
    "CREATE INDEX flags_by_time ON flags (at)",
    # `events` becomes partitioned by month (see `_store_partitions`): v1's table is
    # renamed, its rows copied into the new one, which routes each to its partition.
    "ALTER TABLE events RENAME TO events_v1",
    "ALTER INDEX events_pkey RENAME TO events_v1_pkey",
    """CREATE TABLE events (
        station text NOT NULL,
        seq bigint NOT NULL,
        ts text COLLATE "C" NOT NULL,
        mono_ns bigint NOT NULL,
        boot_id text NOT NULL,
        clock_synced boolean NOT NULL,
        type text NOT NULL,
        app text,
        data_json text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        sig text NOT NULL,
        month date
    ) PARTITION BY RANGE (month)""",
    # Not unique: see the module's doc. Made on the parent, each partition gets its own.
    "CREATE INDEX events_by_seq ON events (station, seq)",
    # seq included: events_since finds its first seq from this index alone.
    "CREATE INDEX events_by_ts ON events (station, ts) INCLUDE (seq)",
    f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF events DEFAULT",
    f"ALTER TABLE {DEFAULT_PARTITION} ADD CONSTRAINT events_default_no_month CHECK (month IS NULL)",
    # A row trigger made on the parent is cloned to every partition, present and future:
    # an UPDATE or DELETE aimed at a partition directly is refused too. Inserts never
    # fire it.
    """CREATE TRIGGER events_append_only_rows BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only()""",
    no_truncate(PARENT),
    no_truncate(DEFAULT_PARTITION),
    _copy_v1_events,
    "DROP TABLE events_v1",
)

# A migration step: a statement, or a function of the cursor for what needs Python.
_Step: TypeAlias = str | sql.Composed | Callable[[psycopg.Cursor[Any]], None]
MIGRATIONS: Final[tuple[tuple[_Step, ...], ...]] = (V1, V2)
SCHEMA_VERSION: Final = len(MIGRATIONS)
