"""PostgreSQL's `events`, partitioned by month: which month an event belongs to, and the
partitions made on demand. Imported only with the PostgreSQL backend.

The key is a `month` column (the first day of a month, or NULL), which the ingest writes
beside each event: the month of the event's `ts`, the station's clock as its register
wrote it (UTC). That clock may be wrong: a station whose real-time clock lost its battery
says 1970, a mistyped date says 2099. So only months from `MONTHS_BACK` months before the
collector's own date to `MONTHS_AHEAD` after it get a partition, and any other `ts` (or
one not in the register's form) gets NULL, which the DEFAULT partition holds. A broken
clock thus costs a few rows in DEFAULT, never a partition per month it invents.

The DEFAULT partition carries CHECK (month IS NULL). Every non-NULL month has its own
partition before a row of it is written, so that holds; and it lets PostgreSQL attach a
new partition without scanning DEFAULT for rows that would belong to it. A month that
has left the window keeps its partition; later rows of it go to DEFAULT: each row's key
is its own month or NULL, so any read that prunes by month also reads DEFAULT.

A partition is made as its own table, then attached: ATTACH takes a SHARE UPDATE
EXCLUSIVE lock on `events`, which inserts and reads do not wait for, and an exclusive
one on DEFAULT, which they wait for a moment (the new table is empty and DEFAULT's CHECK
spares the scans); CREATE TABLE ... PARTITION OF would lock `events` itself exclusively.
Several collectors may need the same month at once: each makes it under one
transaction-scoped advisory lock, looking first whether another already has. The ingest
does this in a short transaction before its own, holding no other lock, and its own
transaction never asks for the advisory lock: no collector waits for it while holding
a lock another needs. A store makes this month's and the next when it opens, so an
ingest seldom has to make one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Final

import psycopg
from psycopg import sql

MONTHS_BACK: Final = 36
MONTHS_AHEAD: Final = 1
# pg_advisory_xact_lock's key while partitions are made: "KTPEL" + "P".
_PARTITION_LOCK: Final = 0x4B5450454C50
PARENT: Final = "events"
DEFAULT_PARTITION: Final = "events_default"


@lru_cache(maxsize=512)
def event_month(prefix: str, today: date) -> date | None:
    """The partition month of an event whose `ts` starts with `prefix` ("YYYY-MM", its
    first seven characters), seen on the collector's `today`; None: DEFAULT."""
    if len(prefix) != 7 or prefix[4] != "-" or not prefix.isascii():
        return None
    year, month = prefix[:4], prefix[5:]
    if not (year.isdigit() and month.isdigit()) or not 1 <= int(month) <= 12:
        return None
    index = int(year) * 12 + int(month) - 1
    now = today.year * 12 + today.month - 1
    if not now - MONTHS_BACK <= index <= now + MONTHS_AHEAD:
        return None
    return date(int(year), int(month), 1)


def collector_today() -> date:
    """The collector's own date (UTC), which bounds the months given a partition."""
    return datetime.now(UTC).date()


def partition_name(month: date) -> str:
    return f"{PARENT}_{month:%Y_%m}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def existing_months(cur: psycopg.Cursor[Any]) -> set[date]:
    """The months that have their partition (DEFAULT excluded)."""
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (PARENT,),
    )
    found = set()
    for (name,) in cur.fetchall():
        tail = name.removeprefix(f"{PARENT}_")
        if tail != name and len(tail) == 7 and tail[4] == "_" and tail.replace("_", "").isdigit():
            found.add(date(int(tail[:4]), int(tail[5:]), 1))
    return found


def make_partitions(cur: psycopg.Cursor[Any], months: Iterable[date]) -> set[date]:
    """Make the partitions of `months` that do not exist yet, inside the caller's
    transaction (its end releases the lock); returns every month that now has one."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
    present = existing_months(cur)
    for month in sorted(set(months) - present):
        name = sql.Identifier(partition_name(month))
        low, high = sql.Literal(month), sql.Literal(next_month(month))
        # Its columns, collations and NOT NULLs are the parent's (ATTACH checks they
        # match); ATTACH adds the parent's indexes and clones its row triggers.
        cur.execute(sql.SQL("CREATE TABLE {} (LIKE events)").format(name))
        # Proves the partition constraint, so that ATTACH need not scan the table.
        cur.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (month IS NOT NULL "
                "AND month >= {} AND month < {})"
            ).format(name, sql.Identifier(f"{partition_name(month)}_month"), low, high)
        )
        cur.execute(
            sql.SQL("ALTER TABLE events ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                name, low, high
            )
        )
        cur.execute(no_truncate(partition_name(month)))
        present.add(month)
    return present


def no_truncate(table: str) -> sql.Composed:
    """TRUNCATE fires only the triggers of the table named: each partition needs its own."""
    return sql.SQL(
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {} "
        "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()"
    ).format(sql.Identifier(table))
