"""Reads of the event log that the biometric retention policy needs: when each
application ended, and which purges the register already reports.

They read the events themselves (through the `events_by_app` index and the seq order),
not the derived tables, so they hold for any register that verifies.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from appliance.domain import EventType

from ._sqlite import connect, sqlite_errors

# An application ends when its card is handed over (after activation), or when its file
# is returned; neither can be undone, and no capture is needed afterwards.
ENDING_EVENTS: Final = (EventType.APPLICATION_COMPLETED, EventType.APPLICATION_RETURNED)
_CHUNK: Final = 500  # below SQLite's limit on bound parameters


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """A biometrics.purged event: what one run of the retention policy destroyed."""

    seq: int
    applications: int
    blobs: int


def application_endings(conn: sqlite3.Connection, application_ids: Iterable[str]) -> dict[str, str]:
    """The wall time (the register's `ts`) at which each of these applications ended;
    applications still open, or unknown to the register, are absent."""
    ids = list(dict.fromkeys(application_ids))
    ended: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT app, min(ts) FROM events WHERE app IN ({marks}) AND type IN (?, ?) "  # noqa: S608 - placeholders only
            "GROUP BY app",
            (*chunk, *(kind.value for kind in ENDING_EVENTS)),
        ).fetchall()
        ended.update((str(app), str(ts)) for app, ts in rows)
    return ended


def purge_reports(conn: sqlite3.Connection, *, after: int) -> list[PurgeReport]:
    """The biometrics.purged events with seq > `after`, in order."""
    rows = conn.execute(
        "SELECT seq, data FROM events WHERE seq > ? AND type = ? ORDER BY seq",
        (after, EventType.BIOMETRICS_PURGED.value),
    ).fetchall()
    reports = []
    for seq, data in rows:
        payload = json.loads(data)
        reports.append(PurgeReport(int(seq), int(payload["applications"]), int(payload["blobs"])))
    return reports


def read_application_endings(path: Path, application_ids: Iterable[str]) -> dict[str, str]:
    """`application_endings` of the register at `path`, read-only (for `appliance
    doctor`): it never creates, migrates or writes the file."""
    conn = connect(path, read_only=True)
    try:
        with sqlite_errors(path):
            return application_endings(conn, application_ids)
    finally:
        conn.close()


__all__ = [
    "ENDING_EVENTS",
    "PurgeReport",
    "application_endings",
    "purge_reports",
    "read_application_endings",
]
