"""The register exported for people: JSON lines for machines, CSV that reads like the
paper register book (*buku register*) the office kept before."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from appliance._text import Language, Text
from appliance.domain import Document, EventType, ServiceType, mask_nik

from ._canonical import CANONICAL_ENCODER
from ._events import CATALOGUE, Event


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


_HEADER = (
    Text("No", "No"),
    Text("Tanggal", "Date"),
    Text("Jam", "Time"),
    Text("Kegiatan", "Activity"),
    Text("Nomor Permohonan", "Application"),
    Text("Layanan", "Service"),
    Text("NIK", "NIK"),
    Text("Nama", "Name"),
    Text("Keterangan", "Remarks"),
    Text("Petugas", "Officer"),
    Text("Jam Tersinkron", "Clock synchronised"),
    Text("Hash", "Hash"),
)
_YES_NO = {True: Text("ya", "yes"), False: Text("tidak", "no")}


def export_jsonl(events: Iterable[Event], out: TextIO) -> int:
    """One event per line, in the form the `register` MQTT topic carries."""
    count = 0
    for event in events:
        out.write(json.dumps(event.to_wire(), ensure_ascii=False, sort_keys=True))
        out.write("\n")
        count += 1
    return count


def read_jsonl(lines: Iterable[str]) -> Iterator[Event]:
    """The events of a JSON-lines export (`export_jsonl`), as the register had them: for
    recomputing a station's figures from its export, as the central office does from
    what the uplink delivered."""
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        yield Event(
            station=item["station"],
            seq=item["seq"],
            ts=item["ts"],
            mono_ns=item["mono_ns"],
            boot_id=item["boot_id"],
            clock_synced=item["clock_synced"],
            type=item["type"],
            app=item["app"],
            data_json=CANONICAL_ENCODER.encode(item["data"]),
            prev_hash=item["prev_hash"],
            hash=item["hash"],
            sig=item["sig"],
        )


def export_csv(
    events: Iterable[Event],
    out: TextIO,
    *,
    timezone: ZoneInfo,
    language: Language = "id",
    full_nik: bool = False,
) -> int:
    """A row per event with local date and time, the activity in words, and the people.

    NIKs are masked unless `full_nik`: an export tends to travel further than the box.
    """
    writer = csv.writer(out)
    writer.writerow([column.in_language(language) for column in _HEADER])
    count = 0
    for event in events:
        data = event.data
        moment = datetime.fromisoformat(event.ts).astimezone(timezone)
        nik = data.get("nik", "")
        writer.writerow(
            [
                event.seq,
                moment.date().isoformat(),
                moment.strftime("%H:%M:%S"),
                _activity(event).in_language(language),
                event.app or "",
                _service(data).in_language(language) if "service" in data else "",
                (nik if full_nik else mask_nik(nik)) if nik else "",
                data.get("name", ""),
                _remarks(event.type, data, language),
                _officer(data),
                _YES_NO[event.clock_synced].in_language(language),
                event.hash[:12],
            ]
        )
        count += 1
    return count


def _activity(event: Event) -> Text:
    try:
        return CATALOGUE[EventType(event.type)].description
    except ValueError:
        return Text(event.type, event.type)


def _service(data: dict[str, Any]) -> Text:
    return ServiceType(data["service"]).label


def _officer(data: dict[str, Any]) -> str:
    by = data.get("by")
    return f"{by['person']} ({by['role']})" if isinstance(by, dict) else ""


def _remarks(kind: str, data: dict[str, Any], language: Language) -> str:
    parts: list[str] = []
    if reason := data.get("reason"):
        parts.append(str(reason))
    missing = [
        Document(code).label.in_language(language) for code in data.get("missing_documents", ())
    ]
    if missing:
        parts.append(", ".join(missing))
    if kind == EventType.BLANK_RECEIVED:
        parts.append(f"{data['count']} ({data['reference']})")
    if step := data.get("step"):
        parts.append(str(step))
    if ticket := data.get("ticket"):
        parts.append(str(ticket))
    if kind.startswith("complaint."):
        parts.append(str(data["number"]))
    if counter := data.get("counter"):
        parts.append(str(counter))
    if serial := data.get("card_serial"):
        parts.append(str(serial))
    return "; ".join(parts)
