"""A station with months of history, shipped to the centre: its register synthesised by
sim/history.py through the real register, its own config (for `appliance report`), and a
collector store that received every event over a private mosquitto from the station's
real uplink, checked and acknowledged by a real Collector."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sim.history import history, write_history
from tests.sync_rig import Fleet, opened_store, running

STATION = "kec-sukodono"
DISTRICT = "350815"
OFFICE = "Kantor Kecamatan Sukodono"


@dataclass(frozen=True, slots=True)
class ShippedStation:
    fleet: Fleet
    config: Path
    """The station's own config: `appliance report --config` reads its register."""
    store_url: str
    head: int


def ship_history(
    directory: Path, *, first: date, last: date, per_day: int, store_url: str | None = None
) -> ShippedStation:
    """The station's months written through its register, then delivered to the centre."""
    fleet = Fleet(directory, (STATION,), collector_store=store_url)
    station_dir = fleet.station_dir(STATION)
    events = history(first=first, last=last, per_day=per_day)
    head = write_history(
        station_dir / "register.sqlite3", fleet.keys[STATION], events, station_id=STATION
    )
    config = station_dir / "station.toml"
    config.write_text(
        f'[station]\nid = "{STATION}"\noffice = "{OFFICE}"\n\n'
        f'[paths]\nstate_dir = "{station_dir}"\n',
        encoding="utf-8",
    )
    asyncio.run(_deliver(fleet, head))
    return ShippedStation(fleet=fleet, config=config, store_url=fleet.store_url(), head=head)


async def _deliver(fleet: Fleet, head: int) -> None:
    register = fleet.register(STATION)
    try:
        with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
            collector = fleet.collector(broker, store)
            uplink = fleet.uplink(register, broker, batch_max_events=500)
            async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
                async with asyncio.timeout(120):
                    await uplink.wait_acked(head)
    finally:
        register.close()
