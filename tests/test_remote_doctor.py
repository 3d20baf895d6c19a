"""Remote diagnosis over a real broker with the fleet's ACL: the central office's
CommandSender asks a station's real Uplink for its check-up (`cmd/doctor`), the station
runs its doctor in-process and publishes the report, which the central user receives
with no applicant's NIK, KK number, name or address in it, although the station's
register holds several; and what the station refuses (unsigned, another key's, another
station's, replayed, too old), each logged and answered with no report."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from structlog.testing import capture_logs

from appliance._version import __version__
from appliance.central import CommandLog, CommandSender
from appliance.central._database import Database
from appliance.clock import ManualClock
from appliance.config import Config, load_config
from appliance.doctor import StationDoctor
from appliance.domain import Sex, compose_kk, compose_nik
from appliance.keys import init_keys
from appliance.register import EventType, Register, StationKey
from appliance.sync import (
    BrokerSection,
    CentralMessage,
    StationTopics,
    Uplink,
    load_progress,
    parse_topic,
    sign_message,
)
from appliance.sync._doctor_request import DoctorRun
from sim.broker import PrivateMosquitto
from tests.support import SUBMITTED
from tests.sync_rig import CENTRAL_USER, Fleet, running

pytestmark = pytest.mark.timeout(120)

STATION = "kec-sukodono"
OTHER = "kec-taman"
WAIT_S = 30.0


@dataclass(frozen=True)
class Applicant:
    nik: str
    kk: str
    name: str
    address: str


APPLICANTS = tuple(
    Applicant(
        nik=compose_nik(
            region="351506", birth_date=date(1971 + 7 * n, 1 + n, 3 + n), sex=sex, serial=n + 1
        ),
        kk=compose_kk(region="351506", issued=date(2015, 2, 10 + n), serial=n + 1),
        name=name,
        address=address,
    )
    for n, (name, sex, address) in enumerate(
        [
            ("Siti Rahmawati", Sex.PEREMPUAN, "Jl. Raya Sukodono No. 17"),
            ("Bambang Hariyanto", Sex.LAKI_LAKI, "Dusun Kebonagung RT 03"),
            ("Dewi Kusumaningrum", Sex.PEREMPUAN, "Perum Griya Permata Blok C-9"),
        ]
    )
)


# ------------------------------------------------------------------------ the rig


class Listener:
    """The central user's view: every doctor report and every birth, as they arrive."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.reports: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.births = 0
        self._changed = asyncio.Event()

    async def run(self) -> None:
        async for message in self.client.messages:
            topic = parse_topic(str(message.topic))
            payload = message.payload
            assert topic is not None
            assert isinstance(payload, bytes)
            if topic.kind == "doctor":
                self.raw.append(payload)
                self.reports.append(json.loads(payload))
            elif topic.kind == "state" and json.loads(payload).get("online") is True:
                self.births += 1
            self._changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def report_for(self, request: str) -> dict[str, Any]:
        await self.until(lambda: any(r["request"] == request for r in self.reports))
        return next(r for r in self.reports if r["request"] == request)


@dataclass
class Rig:
    fleet: Fleet
    broker: PrivateMosquitto
    config: Config
    register: Register
    key: StationKey
    clock: ManualClock
    listener: Listener
    sender: CommandSender
    uplinks: list[Uplink] = field(default_factory=list)

    def uplink(self, doctor: DoctorRun | None = None) -> Uplink:
        settings = self.fleet.uplink_settings(
            STATION,
            self.broker,
            password_file=self.fleet.station_dir(STATION) / "keys" / "mqtt.password",
        )
        uplink = Uplink(
            settings=settings,
            register=self.register,
            key=self.key,
            resolve=self.config.state_path,
            clock=self.clock,
            seed=1,
            doctor=doctor or StationDoctor(config=self.config, devices=dict, clock=self.clock),
        )
        self.uplinks.append(uplink)
        return uplink

    def signed(self, station: str, args: dict[str, Any], key: StationKey | None = None) -> bytes:
        return sign_message(key or self.fleet.central_key, CentralMessage(station, "doctor", args))

    async def publish(self, payload: bytes, *, station: str = STATION) -> None:
        """As anyone holding the central user's MQTT password could."""
        await self.listener.client.publish(StationTopics(station).command("doctor"), payload, qos=1)


def _station_config(fleet: Fleet, broker: PrivateMosquitto, directory: Path) -> Config:
    directory.mkdir(parents=True)
    config_file = directory / "station.toml"
    config_file.write_text(
        f'[station]\nid = "{STATION}"\noffice = "Kecamatan Sukodono"\n'
        f'[paths]\nstate_dir = "{directory / "state"}"\n[logging]\nlevel = "warning"\n'
        + fleet.uplink_toml(STATION, broker.port),
        encoding="utf-8",
    )
    config = load_config(config_file)
    init_keys(config)
    return config


def _seed_applicants(register: Register) -> None:
    for n, applicant in enumerate(APPLICANTS):
        register.append(
            EventType.APPLICATION_SUBMITTED,
            {
                **SUBMITTED,
                "nik": applicant.nik,
                "kk": applicant.kk,
                "name": applicant.name,
                "biodata": {
                    "birth_place": "Sidoarjo",
                    "address": applicant.address,
                    "rt_rw": "003/007",
                    "village": "Kebonagung",
                    "religion": "ISLAM",
                    "occupation": "Wiraswasta",
                },
                "by": {"role": "petugas_loket", "person": "rina"},
            },
            application_id=f"A-{n + 1:04d}",
        )


def _central_client(broker: PrivateMosquitto, fleet: Fleet, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=CENTRAL_USER,
        password=fleet.password(CENTRAL_USER),
        identifier=name,
        protocol=aiomqtt.ProtocolVersion.V5,
    )


@contextlib.asynccontextmanager
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    fleet = Fleet(tmp_path / "fleet", (STATION, OTHER))
    with fleet.broker() as broker:
        config = _station_config(fleet, broker, tmp_path / "station")
        key = StationKey.load(config.station_key_path)
        register = Register.open(config.register_path, station_id=STATION, key=key)
        _seed_applicants(register)
        database = Database.open(f"sqlite:{tmp_path / 'central' / 'dashboard.sqlite3'}")
        sender = CommandSender(
            broker=BrokerSection(
                host=broker.host,
                port=broker.port,
                username=CENTRAL_USER,
                password_file=fleet.collector_dir / "keys" / "mqtt.password",
            ),
            resolve=lambda path: path,
            signing_key=fleet.central_key,
            database=database,
            client_id="pusat-commands",
        )
        try:
            async with _central_client(broker, fleet, "central-listener") as client:
                await client.subscribe(StationTopics("+").doctor, qos=1)
                await client.subscribe(StationTopics(STATION).state, qos=1)
                listener = Listener(client)
                async with running(listener.run(), "listener"):
                    yield Rig(
                        fleet=fleet,
                        broker=broker,
                        config=config,
                        register=register,
                        key=key,
                        clock=ManualClock(wall_ns=time.time_ns(), synchronised=True),
                        listener=listener,
                        sender=sender,
                    )
        finally:
            await sender.close()
            database.close()
            register.close()


async def _connected(rig: Rig, uplink: Uplink) -> AsyncIterator[None]:
    births = rig.listener.births
    async with running(uplink.run(), "uplink"):
        # The birth follows the uplink's subscriptions: commands reach it from now on.
        await rig.listener.until(lambda: rig.listener.births > births)
        yield


connected = contextlib.asynccontextmanager(_connected)


def _issued(seconds_ago: float = 0.0) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="seconds")


# ------------------------------------------------------------------------ the round trip


async def test_a_doctor_round_trip_returns_a_report_with_nothing_personal(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        # The register does hold the applicants' identity: the report must not.
        held = "".join(event.data_json for event in r.register.events())
        assert all(a.nik in held and a.name in held and a.address in held for a in APPLICANTS)
        uplink = r.uplink()
        async with connected(r, uplink):
            record = await r.sender.send(STATION, "doctor", {}, by="teknisi-budi")
            report = await r.listener.report_for(record.request or "")
        raw = r.listener.raw[0].decode()
        head = r.register.head()[0]
        logged_commands = r.sender.log.recent(STATION)
        by_request = r.sender.log.by_request(record.request or "")
    assert len(r.listener.reports) == 1
    assert report["station"] == STATION
    assert report["version"] == __version__
    assert report["issued_at"] == record.args["issued_at"]
    assert datetime.fromisoformat(report["at"]).tzinfo is not None
    checks = {finding["check"]: finding for finding in report["findings"]}
    assert {"config", "daemon", "broker", "register", "retention", "keys", "disk", "clock"} <= set(
        checks
    )
    # Run inside the daemon: its own view, no device opened, no HTTP to itself.
    assert checks["daemon"]["details"]["in_process"] is True
    assert checks["register"]["level"] == "ok"
    assert checks["register"]["details"]["events"] == head
    assert checks["broker"]["level"] == "ok"
    assert report["level"] in {"ok", "warning"}  # no devices configured: a warning
    for applicant in APPLICANTS:
        for personal in (applicant.nik, applicant.kk, applicant.name, applicant.address):
            assert personal not in raw
        assert applicant.nik[:6] + applicant.nik[6:12] not in raw
        assert applicant.name.split()[0] not in raw
    # The command log says who asked, and that the broker took it.
    (logged,) = logged_commands
    assert logged == record
    assert (logged.by_user, logged.kind, logged.station) == ("teknisi-budi", "doctor", STATION)
    assert logged.request is not None
    assert len(logged.request) == 32
    assert logged.sent_at is not None
    assert by_request == logged


# ------------------------------------------------------------------------ what is refused


async def test_forged_misaddressed_replayed_or_stale_requests_are_refused(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        uplink = r.uplink()
        fresh = {"request": "1" * 32, "issued_at": _issued()}
        refused = {
            "unsigned": json.dumps({**fresh, "station": STATION, "kind": "doctor"}).encode(),
            "another key": r.signed(STATION, fresh, key=StationKey.generate()),
            "another station": r.signed(OTHER, fresh),
            "too old": r.signed(STATION, {"request": "2" * 32, "issued_at": _issued(7200)}),
            "ahead": r.signed(STATION, {"request": "3" * 32, "issued_at": _issued(-3600)}),
            "not an id": r.signed(STATION, {"request": "XYZ", "issued_at": _issued()}),
            "no offset": r.signed(
                STATION, {"request": "4" * 32, "issued_at": "2026-12-07T10:00:00"}
            ),
            "extra": r.signed(STATION, {**fresh, "reboot": True}),
        }
        with capture_logs() as logs:
            async with connected(r, uplink):
                for payload in refused.values():
                    await r.publish(payload)
                first = await r.sender.send(STATION, "doctor", {}, by="teknisi-budi")
                await r.listener.report_for(first.request or "")
                # The genuine request, captured off the broker and sent again.
                replay = r.signed(STATION, first.args)
                await r.publish(replay)
                second = await r.sender.send(STATION, "doctor", {}, by="teknisi-ani")
                await r.listener.report_for(second.request or "")
            # After a restart the replay is refused too: the ids are in uplink.json.
            progress = load_progress(r.config.state_path(Path("uplink.json")))
            assert progress.doctor_requests == (first.request, second.request)
            async with connected(r, r.uplink()):
                await r.publish(replay)
                third = await r.sender.send(STATION, "doctor", {}, by="teknisi-budi")
                await r.listener.report_for(third.request or "")
        senders = [c.by_user for c in r.sender.log.recent(STATION)]
    answered = [report["request"] for report in r.listener.reports]
    assert answered == [first.request, second.request, third.request]
    reasons = [
        log["reason"]
        for log in logs
        if log["event"] == "uplink_command_rejected" and log["command"] == "doctor"
    ]
    assert len(reasons) == len(refused) + 2
    assert reasons[0] == "unsigned"
    assert "not the signer's registered key's" in reasons[1]
    assert f"not addressed to station {STATION!r}" in reasons[2]
    assert "too old" in reasons[3]
    assert "ahead of the station's clock" in reasons[4]
    assert "32 lower-case hex digits" in reasons[5]
    assert "UTC offset" in reasons[6]
    assert "unexpected arguments ['reboot']" in reasons[7]
    assert all("a replay" in reason for reason in reasons[8:])
    assert senders == [
        "teknisi-budi",
        "teknisi-ani",
        "teknisi-budi",
    ]


async def test_without_a_synchronised_clock_only_the_remembered_ids_refuse(
    tmp_path: Path,
) -> None:
    """A Pi after a power cut without network may think it is 1970: the request's time
    then says nothing, and an old request is answered; a replay is still refused."""
    async with rig(tmp_path) as r:
        r.clock.is_synchronised = False
        r.clock.set_wall(0)
        old = {"request": "5" * 32, "issued_at": _issued(7200)}
        with capture_logs() as logs:
            async with connected(r, r.uplink()):
                await r.publish(r.signed(STATION, old))
                report = await r.listener.report_for(old["request"])
                await r.publish(r.signed(STATION, old))
                genuine = await r.sender.send(STATION, "doctor", {}, by="teknisi-budi")
                await r.listener.report_for(genuine.request or "")
    assert report["issued_at"] == old["issued_at"]
    checks = {finding["check"]: finding for finding in report["findings"]}
    assert checks["clock"]["level"] == "problem"  # 1970: plainly wrong
    assert [rep["request"] for rep in r.listener.reports] == [old["request"], genuine.request]
    rejected = [log for log in logs if log["event"] == "uplink_command_rejected"]
    assert len(rejected) == 1
    assert "a replay" in rejected[0]["reason"]


async def test_a_check_up_outlives_a_dropped_link_and_is_published_in_the_next_session(
    tmp_path: Path,
) -> None:
    started, finish = asyncio.Event(), asyncio.Event()
    runs = 0

    async def slow_doctor() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        started.set()
        await finish.wait()
        return {"station": STATION, "level": "ok", "exit_code": 0, "findings": []}

    async with rig(tmp_path) as r, connected(r, r.uplink(slow_doctor)):
        record = await r.sender.send(STATION, "doctor", {}, by="teknisi-budi")
        async with asyncio.timeout(WAIT_S):
            await started.wait()
        births = r.listener.births
        # Another client with the station's id takes its session over: the link drops.
        async with aiomqtt.Client(
            r.broker.host,
            r.broker.port,
            username=STATION,
            password=r.fleet.password(STATION),
            identifier=f"ktpel-station-{STATION}",
            protocol=aiomqtt.ProtocolVersion.V5,
        ):
            pass
        await r.listener.until(lambda: r.listener.births > births)
        finish.set()
        report = await r.listener.report_for(record.request or "")
    assert runs == 1
    assert report["level"] == "ok"
    assert [rep["request"] for rep in r.listener.reports] == [record.request]


# ------------------------------------------------------------------------ the broker


async def test_the_acl_gives_a_station_its_own_doctor_topic_and_the_centre_its_own_root(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path / "fleet", (STATION, OTHER))
    with fleet.broker() as broker:
        async with (
            _central_client(broker, fleet, "central-acl") as central,
            aiomqtt.Client(
                broker.host,
                broker.port,
                username=STATION,
                password=fleet.password(STATION),
                identifier="station-acl",
                protocol=aiomqtt.ProtocolVersion.V5,
            ) as station,
        ):
            await central.subscribe(StationTopics("+").doctor, qos=1)
            await central.subscribe("ktpel/central/#", qos=1)
            await station.subscribe("ktpel/central/#", qos=1)
            await station.subscribe(StationTopics(STATION).commands, qos=1)
            await station.publish(StationTopics(OTHER).doctor, b"forged", qos=1)
            await station.publish("ktpel/central/v1/alerts/x/y", b"forged", qos=1)
            await central.publish("ktpel/central/v1/alerts/kec-taman/offline", b"alert", qos=1)
            await station.publish(StationTopics(STATION).doctor, b"own", qos=1)
            # What the station may read, after the alert it may not.
            await central.publish(StationTopics(STATION).command("x"), b"barrier", qos=1)
            received = []
            async with asyncio.timeout(WAIT_S):
                async for message in central.messages:
                    received.append((str(message.topic), message.payload))
                    if len(received) == 2:
                        break
                message = await anext(aiter(station.messages))
            assert received == [
                ("ktpel/central/v1/alerts/kec-taman/offline", b"alert"),
                (StationTopics(STATION).doctor, b"own"),
            ]
            # Nothing under ktpel/central/ reached the station before the barrier.
            assert (str(message.topic), message.payload) == (
                StationTopics(STATION).command("x"),
                b"barrier",
            )


# ------------------------------------------------------------------------ the log


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_command_log_on_either_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:{tmp_path / 'central.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").fresh_database(f"cmd_{time.time_ns()}")
    database = Database.open(url)
    try:
        log = CommandLog(database=database)
        CommandLog(database=database)  # a second process migrates nothing twice
        for n in range(3):
            log.record(
                station=STATION if n != 1 else OTHER,
                kind="doctor",
                args={"request": f"{n:032x}", "issued_at": "2026-12-07T10:00:00+00:00"},
                by_user=f"user-{n}",
                at="2026-12-07T10:00:00+00:00",
                request=f"{n:032x}",
            )
        resend = log.record(
            station=STATION,
            kind="resend",
            args={"from": 5},
            by_user="user-3",
            at="2026-12-07T10:01:00+00:00",
            request=None,
        )
        confirmed = log.confirm(resend.id, sent_at="2026-12-07T10:01:01+00:00")
        recent = log.recent(STATION)
        assert [(c.kind, c.by_user) for c in recent] == [
            ("resend", "user-3"),
            ("doctor", "user-2"),
            ("doctor", "user-0"),
        ]
        assert recent[0] == confirmed
        assert confirmed.args == {"from": 5}
        assert confirmed.sent_at == "2026-12-07T10:01:01+00:00"
        assert recent[1].sent_at is None
        assert [c.by_user for c in log.recent(STATION, limit=1)] == ["user-3"]
        found = log.by_request(f"{1:032x}")
        assert found is not None
        assert found.station == OTHER
        assert log.by_request("f" * 32) is None
    finally:
        database.close()
