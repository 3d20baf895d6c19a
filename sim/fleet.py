"""Many simulated stations in one process, cheaply: no register file, no daemon, no
uplink, only what a station says on MQTT, said as the station says it.

Each `SimStation` has its own Ed25519 key. Its register events are an office's days from
`sim.history` (tickets' applications submitted, advanced, returned and completed, cards
issued and spoiled, keypad presses and questionnaires, complaints), with a breach for
each person's step that ran past the SOP's minutes and a Surat Keterangan for some
handovers, each payload checked by the register's own catalogue and sealed as the
register seals it (canonical data, hashed, chained, signed). It publishes through
appliance.sync's wire functions: the signed birth (and death, and the death as its Last
Will) with `bd_seq`, the register in batches, the telemetry in the documented shape and
each device's status, retained.

Scenario knobs per station (`Scenario`): offline (a birth, then its death), behind (the
last events held back, the telemetry's backlog says so), a device in ERROR, the blank
stock, the clock not synchronised, the disk low or refusing.

`SimFleet` connects each station as its own MQTT user (the fleet ACL lets a station
write only its own topics), writes the stations' public keys into a collector's
stations_dir and the fleet file the central office keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import aiomqtt

from appliance.domain import SOP_STEPS, EventType, Step
from appliance.register import GENESIS_HASH, Event, StationKey, format_ts
from appliance.register._events import canonical_data, validate_payload
from appliance.sync import StationTopics, encode_event, encode_events, sign_state
from appliance.sync._mqtt import CancelSafeClient

from .history import COUNTER, HistoryEvent, Mix, history

DEVICES: Final = ("card_printer", "card_encoder", "fingerprint", "ticket_printer")
BATCH: Final = 200
"""Events per `register` message (the uplink sends up to 500)."""
_SOP_MS: Final = {spec.step.value: spec.minutes * 60_000 for spec in SOP_STEPS}
_PERSON_STEPS: Final = frozenset(
    s.value for s in (Step.SUBMIT, Step.CHECK, Step.VALIDATE, Step.BIOMETRIC, Step.HANDOVER)
)


@dataclass(frozen=True, slots=True)
class Scenario:
    offline: bool = False
    """Born, then dead: its death is the last state the centre hears."""
    behind: int = 0
    """The last `behind` events are held back; the telemetry's backlog counts them."""
    device_error: str | None = None
    """This device reports ERROR (with a code and a reason)."""
    blanks: int = 300
    """Blank cards available, as the telemetry reports the stock."""
    clock_synced: bool = True
    disk_low: bool = False
    disk_refusing: bool = False
    version: str = "1.0.0"


@dataclass(slots=True)
class SimStation:
    id: str
    district: str
    scenario: Scenario = field(default_factory=Scenario)
    name: str | None = None
    key: StationKey = field(default_factory=StationKey.generate)
    events: list[Event] = field(default_factory=list)
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    bd_seq: int = 0

    def seal(self, kind: str, data: dict[str, Any], app: str | None, at: datetime) -> Event:
        """One event, its payload checked by the register's catalogue and sealed as the
        register seals it, chained after the last one."""
        payload = validate_payload(kind, data, app)
        seq = len(self.events) + 1
        wall_ns = _ns(at)
        draft = Event(
            station=self.id,
            seq=seq,
            ts=format_ts(wall_ns),
            mono_ns=seq * 1_000_000,
            boot_id=self.boot_id,
            clock_synced=self.scenario.clock_synced,
            type=payload.type.value,
            app=app,
            data_json=canonical_data(payload),
            prev_hash=self.events[-1].hash if self.events else GENESIS_HASH,
            hash="",
            sig="",
        )
        digest = hashlib.sha256(draft.body()).digest()
        event = Event(
            **{name: getattr(draft, name) for name in _EVENT_FIELDS},
            hash=digest.hex(),
            sig=self.key.sign(digest).hex(),
        )
        self.events.append(event)
        return event

    def add_history(self, planned: Iterable[HistoryEvent], *, certificates_every: int = 7) -> None:
        """An office's events (`sim.history`), with the breaches of the steps that ran
        past their SOP minutes and a Surat Keterangan every `certificates_every`th
        handover, sealed in time order."""
        handovers = 0
        for event in planned:
            at = datetime.fromisoformat(event.ts)
            data = json.loads(json.dumps(event.data))
            if event.type == EventType.STEP_FINISHED and data["step"] in _PERSON_STEPS:
                budget = _SOP_MS[data["step"]]
                if data["duration_ms"] > budget:
                    # Recorded here at the step's end, not when its budget passed, so
                    # the register's times stay in seq order as a station's do.
                    breach = {"step": data["step"], "budget_ms": budget, "by": data.get("by")}
                    self.seal(EventType.STEP_BREACHED, breach, event.app, at)
            if event.type == EventType.APPLICATION_COMPLETED:
                handovers += 1
                if handovers % certificates_every == 0:
                    self.seal(
                        EventType.SURAT_KETERANGAN_ISSUED,
                        {"number": f"SK/{self.id}/{handovers}", "by": COUNTER},
                        event.app,
                        at,
                    )
            self.seal(event.type, data, event.app, at)

    def add_days(
        self,
        *,
        first: date,
        last: date,
        per_day: int,
        seed: int | None = None,
        mix: Mix | None = None,
    ) -> None:
        """`per_day` applicants every working day from `first` to `last` (about 30
        events each), the station's own random draw unless `seed` is given."""
        seed = (
            seed if seed is not None else int(hashlib.sha256(self.id.encode()).hexdigest()[:8], 16)
        )
        self.add_history(history(first=first, last=last, per_day=per_day, seed=seed, mix=mix))

    @property
    def published(self) -> list[Event]:
        """The events the station has sent: all but the held-back ones."""
        held = self.scenario.behind
        return self.events[: len(self.events) - held] if held else list(self.events)

    def birth(self) -> bytes:
        return sign_state(
            self.key,
            self.id,
            online=True,
            bd_seq=self.bd_seq,
            boot_id=self.boot_id,
            version=self.scenario.version,
            acked=0,
            head=len(self.events),
        )

    def death(self) -> bytes:
        return sign_state(self.key, self.id, online=False, bd_seq=self.bd_seq)

    def register_messages(self) -> list[bytes]:
        events = self.published
        return [
            encode_events(encode_event(e) for e in events[i : i + BATCH])
            for i in range(0, len(events), BATCH)
        ]

    def device_statuses(self) -> dict[str, dict[str, Any]]:
        statuses: dict[str, dict[str, Any]] = {}
        for name in DEVICES:
            if name == self.scenario.device_error:
                statuses[name] = {
                    "state": "ERROR",
                    "code": "jam",
                    "reason": {"id": "Kartu macet di printer", "en": "Card jammed in the printer"},
                }
            else:
                statuses[name] = {"state": "READY", "code": None, "reason": None}
        return statuses

    def telemetry(self, now: datetime) -> dict[str, Any]:
        """The `telemetry` topic's document (docs/uplink.md), from the station's events
        and its scenario."""
        scenario = self.scenario
        head = len(self.events)
        acked = len(self.published)
        backlog = head - acked
        reserve = 256 * 1024 * 1024
        free = (
            reserve // 2
            if scenario.disk_refusing
            else reserve * (3 if not scenario.disk_low else 1)
        )
        return {
            "station": self.id,
            "day": now.date().isoformat(),
            "queue": {
                "waiting": 0,
                "called": 0,
                "served": 0,
                "no_show": 0,
                "mean_wait_s": None,
                "max_wait_s": None,
            },
            "applications": {},
            "steps": {},
            "blanks": {
                "received": scenario.blanks,
                "issued": 0,
                "spoiled": 0,
                "in_process": 0,
                "available": scenario.blanks,
            },
            "devices": {
                n: {"state": s["state"], "code": s["code"]}
                for n, s in self.device_statuses().items()
            },
            "uplink": {
                "connected": True,
                "acked": acked,
                "sent": acked,
                "published": acked,
                "head": head,
                "backlog": backlog,
                "oldest_unacked_ts": self.events[acked].ts if backlog else None,
                "reconnects": 0,
                "last_error": None,
                "last_ack_at": format_ts(_ns(now)),
            },
            "disk": {
                "path": "/var/lib/ktpel-station",
                "free_bytes": free,
                "total_bytes": 32 * 1024**3,
                "reserve_bytes": reserve,
                "low": free < 2 * reserve,
                "refusing": free <= reserve,
                "error": None,
            },
            "disk_free_bytes": free,
            "clock_synced": scenario.clock_synced,
            "wall_ns": _ns(now),
        }


_EVENT_FIELDS: Final = (
    "station",
    "seq",
    "ts",
    "mono_ns",
    "boot_id",
    "clock_synced",
    "type",
    "app",
    "data_json",
    "prev_hash",
)


class SimFleet:
    """The stations, each connected as its own MQTT user (`password(station)`)."""

    def __init__(
        self,
        *,
        stations: Sequence[SimStation],
        host: str,
        port: int,
        password: Callable[[str], str],
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        self.stations = list(stations)
        self._host = host
        self._port = port
        self._password = password
        self._now = now

    def register_keys(self, stations_dir: Path) -> None:
        """Each station's public key as `<id>.pem`, as the regency registers a station."""
        stations_dir.mkdir(parents=True, exist_ok=True)
        for station in self.stations:
            (stations_dir / f"{station.id}.pem").write_bytes(station.key.public_key.to_pem())

    def write_fleet_file(self, path: Path, *, only: Collection[str] | None = None) -> None:
        """The central office's fleet file (`appliance.central` `Fleet.load` reads it), of
        every station or `only` these (the others have a key but no region)."""
        lines = []
        for station in self.stations:
            if only is not None and station.id not in only:
                continue
            lines += ["[[station]]", f'id = "{station.id}"', f'district = "{station.district}"']
            if station.name:
                lines.append(f"name = {json.dumps(station.name)}")
            lines.append("")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")

    def _client(self, station: SimStation, *, will: bool) -> CancelSafeClient:
        topics = StationTopics(station.id)
        return CancelSafeClient(
            self._host,
            self._port,
            username=station.id,
            password=self._password(station.id),
            identifier=f"sim-{station.id}-{station.bd_seq}",
            protocol=aiomqtt.ProtocolVersion.V5,
            will=aiomqtt.Will(topics.state, station.death(), qos=1, retain=True) if will else None,
            keepalive=30,
        )

    async def publish_station(self, station: SimStation) -> None:
        """One session of the station: birth (its death as the will), devices, the
        register (less what it holds back), a telemetry; an offline station then
        publishes its death. The session ends cleanly, so a living station stays born."""
        station.bd_seq += 1
        topics = StationTopics(station.id)
        async with self._client(station, will=True) as client:
            await client.publish(topics.state, station.birth(), qos=1, retain=True)
            for name, status in station.device_statuses().items():
                await client.publish(
                    topics.device(name), json.dumps(status).encode(), qos=1, retain=True
                )
            for message in station.register_messages():
                await client.publish(topics.register, message, qos=1)
            await self.publish_telemetry_with(client, station)
            if station.scenario.offline:
                await client.publish(topics.state, station.death(), qos=1, retain=True)

    async def publish_telemetry_with(self, client: aiomqtt.Client, station: SimStation) -> None:
        payload = json.dumps(station.telemetry(self._now())).encode()
        await client.publish(StationTopics(station.id).telemetry, payload, qos=1)

    async def publish(self, *, concurrency: int = 50) -> None:
        """Every station's session, `concurrency` at a time."""
        slots = asyncio.Semaphore(concurrency)

        async def one(station: SimStation) -> None:
            async with slots:
                await self.publish_station(station)

        async with asyncio.TaskGroup() as group:
            for station in self.stations:
                group.create_task(one(station))

    async def telemetry(self, station: SimStation) -> None:
        """One telemetry of `station` in a session of its own (a new scenario shown)."""
        async with self._client(station, will=False) as client:
            await self.publish_telemetry_with(client, station)

    async def device(self, station: SimStation, name: str, status: dict[str, Any]) -> None:
        async with self._client(station, will=False) as client:
            topic = StationTopics(station.id).device(name)
            await client.publish(topic, json.dumps(status).encode(), qos=1, retain=True)

    async def forge_death(self, station: SimStation) -> None:
        """A death of `station` signed by another key, sent with the station's own MQTT
        credentials (a stolen password): the centre must flag it, never apply it."""
        forged = sign_state(
            StationKey.generate(), station.id, online=False, bd_seq=station.bd_seq + 1
        )
        async with self._client(station, will=False) as client:
            await client.publish(StationTopics(station.id).state, forged, qos=1)

    @contextlib.asynccontextmanager
    async def live(self, *, interval_s: float = 60.0) -> AsyncIterator[None]:
        """The fleet published, then telemetry every `interval_s` while the block runs."""
        await self.publish()

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval_s)
                for station in self.stations:
                    if not station.scenario.offline:
                        await self.telemetry(station)

        task = asyncio.create_task(beat(), name="sim-fleet-telemetry")
        try:
            yield
        finally:
            task.cancel()
            # Bounded: a cancel that lands while aiomqtt connects must not hang the caller.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(10):
                    await task


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def demo_fleet(
    *,
    first: date,
    last: date,
    per_day: int = 3,
    districts: Sequence[str] = ("350801", "350802", "350803", "350804", "351501"),
) -> list[SimStation]:
    """A regency's handful of stations, one per scenario the dashboard must show: all well,
    offline, behind, its card printer in ERROR, low on blanks."""
    scenarios = [
        Scenario(),
        Scenario(offline=True),
        Scenario(behind=40),
        Scenario(device_error="card_printer"),
        Scenario(blanks=4),
    ]
    stations = []
    for district, scenario in zip(districts, scenarios, strict=False):
        station = SimStation(id=f"kec-{district}", district=district, scenario=scenario)
        station.add_days(first=first, last=last, per_day=per_day)
        stations.append(station)
    return stations


__all__ = ["BATCH", "DEVICES", "Scenario", "SimFleet", "SimStation", "demo_fleet"]
