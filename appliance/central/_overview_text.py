"""The fleet as text: `appliance central --overview [--json]`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from appliance._text import Language, Text
from appliance.sync import StationOverview

_COLUMNS = (
    Text("Stasiun", "Station"),
    Text("Daring", "Online"),
    Text("Terakhir terlihat", "Last seen"),
    Text("Diterima s/d", "Stored up to"),
    Text("Antrean kirim", "Backlog"),
    Text("Pelanggaran hari ini", "Breaches today"),
    Text("Blangko", "Blanks"),
    Text("Perangkat bermasalah", "Devices not ready"),
    Text("Tanda", "Flags"),
)
_YES_NO = {True: Text("ya", "yes"), False: Text("tidak", "no"), None: Text("?", "?")}


def overview_rows(stations: list[StationOverview], language: Language) -> list[list[str]]:
    """The fleet as a table, a row per station: what the operations room scans first."""
    rows = [[column.in_language(language) for column in _COLUMNS]]
    for station in stations:
        # Telemetry is the station's word, unsigned and only bounded: read each part for
        # what it should be, and show "-" for a part that is not.
        telemetry = _part(station.telemetry)
        uplink = _part(telemetry.get("uplink"))
        steps = _part(telemetry.get("steps"))
        blanks = _part(telemetry.get("blanks"))
        devices = _part(telemetry.get("devices"))
        breaches = sum(_count(_part(step).get("breaches")) for step in steps.values())
        # The device status model of ARCHITECTURE.md: READY, BUSY, NOT_READY, DISCONNECTED, ERROR.
        not_ready = sorted(
            n for n, d in devices.items() if _part(d).get("state") not in {"READY", "BUSY"}
        )
        flags = str(station.flags)
        if station.last_flag is not None:
            flags += f" ({station.last_flag.kind})"
        rows.append(
            [
                station.station,
                _YES_NO[station.online].in_language(language),
                station.last_seen or "-",
                str(station.head),
                _figure(uplink.get("backlog")),
                str(breaches) if telemetry else "-",
                _figure(blanks.get("available")),
                ", ".join(not_ready) or "-",
                flags,
            ]
        )
    return rows


def _part(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int:
    return value if type(value) is int else 0


def _figure(value: object) -> str:
    return str(value) if type(value) is int else "-"


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def overview_json(stations: list[StationOverview]) -> str:
    return json.dumps(
        [
            {
                **{k: v for k, v in asdict(station).items() if k != "last_flag"},
                "last_flag": None if station.last_flag is None else asdict(station.last_flag),
            }
            for station in stations
        ],
        ensure_ascii=False,
        indent=2,
    )
