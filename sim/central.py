"""The central office for a simulated day: a private mosquitto with the fleet's ACL, the
central office's signing key, and one collector storing into SQLite, all in one
directory. The demo's station ships its register here over its real uplink, and the
summary reports what arrived.

With `dashboard`, the whole central office runs instead of the bare collector, as
`appliance central` composes it (`CentralOffice`: the collector, the status and alert
keepers, the dashboard on a loopback port and the command sender), the station
registered in its regency in a fleet file, and a demo user (`dinas`, a technician of
that regency, with a fresh password) to sign in with."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from appliance._secrets import write_secret_file
from appliance.central import CentralOffice, DashboardRole, load_central_config
from appliance.register import GENESIS_HASH, PublicKey, StationKey
from appliance.sync import (
    BrokerSection,
    Collector,
    CollectorSection,
    CollectorStore,
    StationKeys,
    open_store,
)

from .broker import PrivateMosquitto, fleet_acl

_CENTRAL_USER = "central"
DEMO_USER: Final = "dinas"
DEMO_DISTRICT: Final = "350810"
"""Kecamatan Lumajang (35.08.10), in Kabupaten Lumajang."""


@dataclass(frozen=True, slots=True)
class DashboardLogin:
    url: str
    user: str
    password: str
    scope: str
    """The regency the demo user sees (4 digits)."""


@dataclass(frozen=True, slots=True)
class CentralReport:
    stored: int
    """Events of the station stored centrally (the acknowledged head)."""
    verified: bool
    """Every stored event hashed, linked and signed by the station's key."""
    flags: int


class SimulatedCentral:
    def __init__(self, *, directory: Path, station: str, dashboard: bool = False) -> None:
        self._directory = directory
        self._station = station
        self._dashboard = dashboard
        self._office: CentralOffice | None = None
        self.login: DashboardLogin | None = None
        """How to sign in to the dashboard, once it runs."""
        self._passwords = {station: f"{station}-mqtt", _CENTRAL_USER: "central-mqtt"}
        self._broker = PrivateMosquitto(
            directory=directory / "broker", users=self._passwords, acl=fleet_acl()
        )
        self._key = StationKey.generate()
        self._store: CollectorStore | None = None
        self._collector: Collector | None = None
        self._task: asyncio.Task[None] | None = None

    def start_broker(self) -> None:
        """The broker and the central office's keys; the collector waits for the station's
        key (`start_collector`)."""
        self._directory.mkdir(parents=True, exist_ok=True)
        self._key.save(self._directory / "keys" / "central.key")
        (self._directory / "central.pub").write_bytes(self._key.public_key.to_pem())
        for user, password in self._passwords.items():
            write_secret_file(self._password_file(user), password.encode())
        self._broker.start()

    def uplink_table(self) -> dict[str, Any]:
        """The station's `[uplink]`: this broker, as the station's MQTT user."""
        return {
            "host": self._broker.host,
            "port": self._broker.port,
            "username": self._station,
            "password_file": str(self._password_file(self._station)),
            "central_public_key": str(self._directory / "central.pub"),
        }

    def start_collector(self, station_public_key: Path) -> None:
        """Register the station's key, as the regency does before a station goes live,
        and start collecting."""
        stations = self._directory / "stations"
        stations.mkdir(exist_ok=True)
        (stations / f"{self._station}.pem").write_bytes(station_public_key.read_bytes())
        self._store = open_store(f"sqlite:{self._directory / 'collector.sqlite3'}")
        if self._dashboard:
            self._start_office()
            return
        self._collector = Collector(
            settings=CollectorSection(id="demo", state_dir=self._directory),
            broker=BrokerSection(
                host=self._broker.host,
                port=self._broker.port,
                username=_CENTRAL_USER,
                password_file=self._password_file(_CENTRAL_USER),
            ),
            resolve=lambda path: path if path.is_absolute() else self._directory / path,
            store=self._store,
            keys=StationKeys(directory=stations),
            signing_key=self._key,
        )
        self._task = asyncio.create_task(self._collector.run(), name="central-collector")

    def _start_office(self) -> None:
        """The central office as `appliance central --config` runs it, on this directory."""
        port = _free_port()
        (self._directory / "fleet.toml").write_text(
            f'[[station]]\nid = "{self._station}"\ndistrict = "{DEMO_DISTRICT}"\n'
            'name = "Kecamatan Lumajang"\n',
            encoding="utf-8",
        )
        config = self._directory / "central.toml"
        config.write_text(
            "[central]\n"
            'id = "demo"\n'
            f'state_dir = "{self._directory}"\n'
            'store = "sqlite:collector.sqlite3"\n'
            'signing_key = "keys/central.key"\n'
            'stations_dir = "stations"\n'
            "[broker]\n"
            f'host = "{self._broker.host}"\n'
            f"port = {self._broker.port}\n"
            f'username = "{_CENTRAL_USER}"\n'
            f'password_file = "{self._password_file(_CENTRAL_USER)}"\n'
            "[dashboard]\n"
            'host = "127.0.0.1"\n'
            f"port = {port}\n"
            "session_idle_minutes = 480\n"
            "[fleet]\n"
            'file = "fleet.toml"\n',
            encoding="utf-8",
        )
        office = CentralOffice(config=load_central_config(config))
        self._office = office
        self._collector = office.collector
        password = f"dinas-{secrets.token_hex(5)}"
        scope = DEMO_DISTRICT[:4]
        office.users.add(
            name=DEMO_USER,
            display_name="Dinas Dukcapil Lumajang",
            role=DashboardRole.TEKNISI,
            scope=scope,
            password=password,
        )
        self.login = DashboardLogin(
            url=f"http://127.0.0.1:{port}", user=DEMO_USER, password=password, scope=scope
        )
        self._task = asyncio.create_task(office.run(), name="central-office")

    async def wait_stored(self, head: int, *, within_s: float) -> None:
        """Until the collector has acknowledged the station's register up to `head`."""
        if self._collector is None:
            raise RuntimeError("the collector was not started")
        async with asyncio.timeout(within_s):
            await self._collector.wait_acked(self._station, head)

    def report(self, station_key: PublicKey) -> CentralReport:
        if self._store is None:
            raise RuntimeError("the collector was not started")
        events = list(self._store.events(self._station))
        previous = GENESIS_HASH
        verified = True
        for expected, event in enumerate(events, start=1):
            digest = hashlib.sha256(event.body()).digest()
            verified &= (
                event.seq == expected
                and event.prev_hash == previous
                and digest.hex() == event.hash
                and station_key.verify(digest, bytes.fromhex(event.sig))
            )
            previous = event.hash
        return CentralReport(
            stored=self._store.head(self._station),
            verified=verified,
            flags=len(self._store.flags(self._station)),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._office is not None:
            self._office.close()
        elif self._collector is not None:
            self._collector.close()
        if self._store is not None:
            self._store.close()
        self._broker.stop()

    def _password_file(self, user: str) -> Path:
        return self._directory / "keys" / f"{user}.mqtt-password"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
