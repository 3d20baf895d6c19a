"""A fleet for the uplink's and the collector's tests: keys, a private mosquitto with the
fleet's ACL, stations' registers with their uplinks, and collectors, all in one
directory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance._secrets import write_secret_file
from appliance.clock import ManualClock
from appliance.register import GENESIS_HASH, Event, EventType, Register, StationKey
from appliance.sync import (
    BrokerSection,
    Collector,
    CollectorSection,
    CollectorStore,
    StationKeys,
    Uplink,
    UplinkSection,
    open_store,
)
from sim.broker import PrivateMosquitto, fleet_acl

CENTRAL_USER = "central"


@dataclass
class Fleet:
    directory: Path
    stations: tuple[str, ...]
    central_key: StationKey = field(default_factory=StationKey.generate)
    keys: dict[str, StationKey] = field(default_factory=dict)
    collector_store: str | None = None
    """The collector's store URL; SQLite in the collector's directory by default."""

    def __post_init__(self) -> None:
        central = self.collector_dir
        self.central_key.save(central / "keys" / "central.key")
        (self.directory / "central.pub").write_bytes(self.central_key.public_key.to_pem())
        (central / "stations").mkdir(parents=True)
        write_secret_file(central / "keys" / "mqtt.password", self.password(CENTRAL_USER).encode())
        for station in self.stations:
            key = StationKey.generate()
            self.keys[station] = key
            key.save(self.station_dir(station) / "keys" / "station.key")
            (central / "stations" / f"{station}.pem").write_bytes(key.public_key.to_pem())
            write_secret_file(
                self.station_dir(station) / "keys" / "mqtt.password",
                self.password(station).encode(),
            )

    @staticmethod
    def password(user: str) -> str:
        return f"secret-of-{user}"

    @property
    def collector_dir(self) -> Path:
        return self.directory / "central"

    def station_dir(self, station: str) -> Path:
        return self.directory / station

    def broker(self, **options: Any) -> PrivateMosquitto:
        users = {user: self.password(user) for user in (*self.stations, CENTRAL_USER)}
        return PrivateMosquitto(
            directory=self.directory / "broker", users=users, acl=fleet_acl(), **options
        )

    def register(self, station: str, clock: ManualClock | None = None) -> Register:
        return Register.open(
            self.station_dir(station) / "register.sqlite3",
            station_id=station,
            key=self.keys[station],
            clock=clock or ManualClock(),
        )

    def uplink_settings(
        self, station: str, broker: PrivateMosquitto, **overrides: Any
    ) -> UplinkSection:
        settings: dict[str, Any] = {
            "host": broker.host,
            "port": broker.port,
            "username": station,
            "password_file": Path("keys/mqtt.password"),
            "central_public_key": self.directory / "central.pub",
            "ack_timeout_s": 3.0,
            "publish_timeout_s": 3.0,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.5,
            "telemetry_interval_s": 3600.0,
            "keepalive_s": 5,
        }
        settings.update(overrides)
        return UplinkSection.model_validate(settings)

    def uplink_toml(self, station: str, port: int, **settings: float) -> str:
        """A station config file's `[uplink]` section for this fleet's broker on `port`,
        `settings` (e.g. `telemetry_interval_s=3600`) after the connection's keys."""
        lines = [
            "[uplink]",
            'host = "127.0.0.1"',
            f"port = {port}",
            f'username = "{station}"',
            f'password_file = "{self.station_dir(station)}/keys/mqtt.password"',
            f'central_public_key = "{self.directory}/central.pub"',
            *(f"{key} = {value}" for key, value in settings.items()),
        ]
        return "\n".join(lines) + "\n"

    def uplink(self, register: Register, broker: PrivateMosquitto, **overrides: Any) -> Uplink:
        station_dir = self.station_dir(register.station_id)
        return Uplink(
            settings=self.uplink_settings(register.station_id, broker, **overrides),
            register=register,
            key=self.keys[register.station_id],
            resolve=lambda path: path if path.is_absolute() else station_dir / path,
            seed=1,
        )

    def store_url(self) -> str:
        return self.collector_store or f"sqlite:{self.collector_dir / 'collector.sqlite3'}"

    def collector(
        self,
        broker: PrivateMosquitto,
        store: CollectorStore,
        *,
        name: str = "c1",
        connection: BrokerSection | None = None,
        records_store: CollectorStore | None = None,
        **overrides: Any,
    ) -> Collector:
        central = self.collector_dir
        settings = CollectorSection.model_validate(
            {
                "id": name,
                "state_dir": central,
                "resend_interval_s": 0.5,
                "reconnect_min_s": 0.05,
                "reconnect_max_s": 0.5,
                **overrides,
            }
        )
        broker_section = connection or BrokerSection(
            host=broker.host,
            port=broker.port,
            username=CENTRAL_USER,
            password_file=Path("keys/mqtt.password"),
            keepalive_s=5,
        )
        return Collector(
            settings=settings,
            broker=broker_section,
            resolve=lambda path: path if path.is_absolute() else central / path,
            store=store,
            keys=StationKeys(directory=central / "stations", rescan_s=0.1),
            signing_key=self.central_key,
            records_store=records_store,
        )


def append_events(register: Register, count: int) -> int:
    """`count` blank-card deliveries, in transactions of up to 500; returns the head."""
    done = 0
    while done < count:
        with register.transaction() as txn:
            for _ in range(min(500, count - done)):
                done += 1
                txn.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": f"BAST-{done}"})
    return register.head()[0]


@contextlib.asynccontextmanager
async def running(
    coroutine: Coroutine[Any, Any, None], name: str
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `coroutine` as a task for the block; cancel it (and surface its error) after."""
    task = asyncio.create_task(coroutine, name=name)
    try:
        yield task
    finally:
        await stop(task)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.contextmanager
def opened_store(url: str) -> Iterator[CollectorStore]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def assert_chain(events: list[Event], key: StationKey) -> None:
    """Every seq once from 1, each linked to the one before, hashed and signed right."""
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(events, start=1):
        assert event.seq == expected_seq
        assert event.prev_hash == prev
        digest = hashlib.sha256(event.body()).digest()
        assert digest.hex() == event.hash
        assert key.public_key.verify(digest, bytes.fromhex(event.sig))
        prev = event.hash
