"""A national fleet's load on the collector tier, built cheaply enough for thousands of
stations: what each station would publish after an outage (its signed birth, its
devices' status, its telemetry and its register's backlog), made before a benchmark or a
test starts timing.

Sealing an office's day with `sim.fleet.SimStation` checks every payload against the
register's catalogue, which costs milliseconds an event; 7,277 stations' days would take
longer than the drain they feed. So one station's day is sealed that way once (the
template: real event types and payloads, ~100 events), and every station gets the same
events re-sealed as its own: its id, its boot, chained and signed by its own key
(`reseal`), which is what the collector checks. `build` does that for a list of station
ids in a worker process; `LoadFleet` spreads the stations over the cores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from appliance.register import GENESIS_HASH, Event, StationKey
from appliance.sync import encode_event, encode_events, sign_state

from .fleet import BATCH, SimStation


@dataclass(frozen=True, slots=True)
class LoadStation:
    id: str
    seed: bytes
    """The station's Ed25519 private seed (StationKey(seed=...))."""
    register: tuple[bytes, ...]
    """Its `register` messages, in order, BATCH events each."""
    birth: bytes
    events: int

    @property
    def key(self) -> StationKey:
        return StationKey(seed=self.seed)


def template(events: int) -> list[Event]:
    """About `events` events of one office's day, sealed (and checked) as a register
    seals them: applicants until there are enough."""
    station = SimStation(id="template", district="350801")
    day = date(2026, 12, 7)
    per_day = max(1, events // 30)
    while True:
        station.events.clear()
        station.add_days(first=day, last=day, per_day=per_day, seed=20)
        if len(station.events) >= events:
            return station.events[:events]
        per_day += 1


def reseal(events: Sequence[Event], station: str, key: StationKey) -> list[Event]:
    """The same events as `station`'s own: its id and boot, chained and signed by `key`."""
    boot = str(uuid.uuid4())
    previous = GENESIS_HASH
    sealed = []
    for event in events:
        draft = dataclasses.replace(event, station=station, boot_id=boot, prev_hash=previous)
        digest = hashlib.sha256(draft.body()).digest()
        previous = digest.hex()
        sealed.append(dataclasses.replace(draft, hash=previous, sig=key.sign(digest).hex()))
    return sealed


def build(ids: Sequence[str], events: Sequence[Event]) -> list[LoadStation]:
    """Each station of `ids` with its own key and the template's events as its own."""
    stations = []
    for station in ids:
        seed = os.urandom(32)
        key = StationKey(seed=seed)
        sealed = reseal(events, station, key)
        messages = tuple(
            encode_events(encode_event(e) for e in sealed[i : i + BATCH])
            for i in range(0, len(sealed), BATCH)
        )
        birth = sign_state(
            key, station, online=True, bd_seq=1, boot_id=sealed[0].boot_id, acked=0,
            head=len(sealed), version="1.0.0",
        )  # fmt: skip
        stations.append(LoadStation(station, seed, messages, birth, len(sealed)))
    return stations


class LoadFleet:
    """`count` stations named `{prefix}-00001`..., each with ~`events` events."""

    def __init__(self, *, count: int, events: int, prefix: str = "kec", processes: int = 0):
        self.template = template(events)
        ids = [f"{prefix}-{number:05d}" for number in range(1, count + 1)]
        workers = processes or os.cpu_count() or 1
        shares = [ids[index::workers] for index in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            built = pool.map(build, shares, [self.template] * workers)
            by_id = {station.id: station for share in built for station in share}
        self.stations = [by_id[station] for station in ids]
        probe = SimStation(id="probe", district="350801")
        self._devices = probe.device_statuses()
        self._telemetry = probe.telemetry(datetime(2026, 12, 7, 3, tzinfo=UTC))

    @property
    def events(self) -> int:
        return sum(station.events for station in self.stations)

    def write_keys(self, stations_dir: Path) -> None:
        """Each station's public key as the central office registers it."""
        stations_dir.mkdir(parents=True, exist_ok=True)
        for station in self.stations:
            path = stations_dir / f"{station.id}.pem"
            path.write_bytes(station.key.public_key.to_pem())

    def devices(self) -> dict[str, bytes]:
        """Each device's status message (`device/{name}`), every station's the same."""
        return {name: json.dumps(status).encode() for name, status in self._devices.items()}

    def telemetry(self, station: LoadStation, *, number: int = 0) -> bytes:
        """The station's `telemetry`, its head acknowledged or not as `number` goes."""
        document: dict[str, Any] = json.loads(json.dumps(self._telemetry))
        document["station"] = station.id
        document["wall_ns"] = number
        uplink = document.get("uplink")
        if isinstance(uplink, dict):
            uplink["head"] = station.events
            uplink["backlog"] = station.events if number == 0 else 0
        return json.dumps(document).encode()
