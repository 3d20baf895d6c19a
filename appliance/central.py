"""`appliance central`: the central office's collector, and its overview of the fleet.

```toml
[central]
id = "pusat-1"                       # this collector; several may share the load
state_dir = "/var/lib/ktpel-central"
store = "sqlite:collector.sqlite3"   # or "postgresql://user@host/db"
[broker]
host = "broker.example"
```
The config is validated as strictly as the station's: unknown keys are errors, and a bad
file exits 2 naming the file, the key and the problem.
"""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from appliance._text import Language, Text
from appliance.config import LoggingSection, read_document, validate_document
from appliance.logs import get_logger
from appliance.register import StationKey
from appliance.sync import (
    BrokerSection,
    Collector,
    CollectorSection,
    StationKeys,
    StationOverview,
    open_store,
)

log = get_logger(__name__)


class CentralConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    central: CollectorSection
    broker: BrokerSection
    logging: LoggingSection = LoggingSection()

    def state_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.central.state_dir / path

    @property
    def store_url(self) -> str:
        url = self.central.store
        if url.startswith("sqlite:"):
            return f"sqlite:{self.state_path(Path(url.removeprefix('sqlite:')))}"
        return url


def load_central_config(file: Path) -> CentralConfig:
    config = validate_document(CentralConfig, read_document(file), file=file)
    state_dir = config.central.state_dir
    if not state_dir.is_absolute():
        state_dir = (file.parent / state_dir).resolve()
    central = config.central.model_copy(update={"state_dir": state_dir})
    return config.model_copy(update={"central": central})


async def run_collector(config: CentralConfig) -> None:
    """Collect until SIGTERM or SIGINT."""
    store = open_store(config.store_url)
    collector = Collector(
        settings=config.central,
        broker=config.broker,
        resolve=config.state_path,
        store=store,
        keys=StationKeys(directory=config.state_path(config.central.stations_dir)),
        signing_key=StationKey.load(config.state_path(config.central.signing_key)),
    )
    loop = asyncio.get_running_loop()
    collecting = asyncio.create_task(collector.run(), name="collector")
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, collecting.cancel)
    try:
        await collecting
    except asyncio.CancelledError:
        log.info("collector_stopped")
    finally:
        collector.close()
        store.close()


def overview(config: CentralConfig) -> list[StationOverview]:
    store = open_store(config.store_url)
    try:
        return store.overview()
    finally:
        store.close()


def init_central_key(config: CentralConfig) -> list[Text]:
    """The central office's signing key, and the public half every station needs."""
    path = config.state_path(config.central.signing_key)
    key = StationKey.generate()
    key.save(path)
    public_path = path.with_suffix(".pub")
    public_path.write_bytes(key.public_key.to_pem())
    return [
        Text("kunci kantor pusat dibuat: {path}", "central office key created: {path}").format(
            path=path
        ),
        Text(
            "salin {pub} ke setiap stasiun ([uplink] central_public_key) — sidik {fp}",
            "copy {pub} to every station ([uplink] central_public_key) — fingerprint {fp}",
        ).format(pub=public_path, fp=key.public_key.fingerprint),
    ]


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
