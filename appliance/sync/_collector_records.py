"""The collector's latest records and flags, written to its store in one transaction."""

from __future__ import annotations

from ._bounds import printable
from ._check import MALFORMED
from ._collector_queues import Record
from ._store import CollectorStore, Flag


def write_records(store: CollectorStore, flags: list[Flag], records: list[Record]) -> int:
    """In the store's thread, in one transaction, and in order of station, as the ingest
    takes its stations' locks: two collectors then never wait on each other in a circle
    (a station's own flags and records keep their order). A record the store refuses
    for its form is flagged `malformed` instead; returns how many were."""
    items: list[Flag | Record] = [*flags, *records]
    items.sort(key=lambda item: item.station)
    malformed = 0
    with store.records():
        for item in items:
            if isinstance(item, Flag):
                store.flag(item)
                continue
            try:
                _write(store, item)
            except (TypeError, ValueError) as exc:  # the store's own check of the form
                detail = printable(f"{item.kind}: {exc}"[:300])
                store.flag(Flag(item.station, MALFORMED, None, detail, item.at))
                malformed += 1
    return malformed


def _write(store: CollectorStore, record: Record) -> None:
    station, at = record.station, record.at
    if record.kind == "state":
        store.record_state(station, record.document, at=at)
    elif record.kind == "telemetry":
        store.record_telemetry(station, record.document, at=at)
    elif record.kind == "device" and record.name is not None:
        store.record_device(station, record.name, record.document, at=at)
    elif record.kind == "doctor":
        store.record_doctor(station, record.document, at=at)
