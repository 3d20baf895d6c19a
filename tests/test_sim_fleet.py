"""sim/fleet.py: simulated stations say what a station says, as a station says it: events
sealed, chained and signed as the register does, valid payloads, signed births and
deaths, telemetry in the documented shape, and the scenario knobs."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt

from appliance.central._fleet import Fleet
from appliance.central._overview_text import overview_rows
from appliance.domain import EventType
from appliance.register import GENESIS_HASH, PublicKey, Register
from appliance.register._events import validate_payload
from appliance.sync import StationOverview, decode_events, open_state
from sim.broker import PrivateMosquitto, fleet_acl
from sim.fleet import DEVICES, Scenario, SimFleet, SimStation, demo_fleet

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 8, 16, 0, tzinfo=JAKARTA)


def test_events_are_sealed_chained_and_signed_as_the_register_does(tmp_path: Path) -> None:
    station = SimStation(id="kec-a", district="350801")
    station.add_days(first=date(2026, 11, 23), last=date(2026, 12, 4), per_day=4)
    events = station.events
    assert 1000 < len(events) < 1800  # about 30 events an applicant
    previous = GENESIS_HASH
    for seq, event in enumerate(events, start=1):
        assert event.seq == seq
        assert event.prev_hash == previous
        digest = hashlib.sha256(event.body()).digest()
        assert digest.hex() == event.hash
        assert station.key.public_key.verify(digest, bytes.fromhex(event.sig))
        previous = event.hash
        # Each payload is one the register's catalogue takes, in its canonical form.
        validate_payload(event.type, event.data, event.app)
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    kinds = {e.type for e in events}
    for kind in (
        EventType.APPLICATION_SUBMITTED,
        EventType.APPLICATION_COMPLETED,
        EventType.APPLICATION_RETURNED,
        EventType.STEP_BREACHED,
        EventType.SURAT_KETERANGAN_ISSUED,
        EventType.BLANK_ISSUED,
        EventType.SURVEY_QUESTIONNAIRE_ANSWERED,
        EventType.COMPLAINT_RECEIVED,
    ):
        assert kind in kinds, kind
    # The wire form decodes to the same events.
    decoded = [e for message in station.register_messages() for e in decode_events(message)]
    assert decoded == events
    # The register itself takes the same history, through its projections, and stores
    # the same canonical payloads.
    with Register.open(
        tmp_path / "register.sqlite3", station_id="kec-a", key=station.key
    ) as register:
        with register.transaction() as txn:
            written = [
                txn.append(event.type, event.data, application_id=event.app)
                for event in events[:200]
            ]
        assert [e.data_json for e in written] == [e.data_json for e in events[:200]]


def test_births_deaths_and_telemetry_say_the_scenario() -> None:
    station = SimStation(
        id="kec-b",
        district="350802",
        scenario=Scenario(
            behind=7,
            device_error="card_printer",
            blanks=5,
            clock_synced=False,
            disk_refusing=True,
            version="9.9",
        ),
    )
    station.add_days(first=date(2026, 12, 7), last=date(2026, 12, 8), per_day=2)
    station.bd_seq = 3
    birth = open_state(station.key.public_key, station.birth(), station="kec-b")
    assert (birth.online, birth.bd_seq, birth.document["version"]) == (True, 3, "9.9")
    death = open_state(station.key.public_key, station.death(), station="kec-b")
    assert (death.online, death.bd_seq) == (False, 3)
    assert len(station.published) == len(station.events) - 7
    assert all(e.clock_synced is False for e in station.events)
    telemetry = station.telemetry(NOW)
    assert telemetry["uplink"]["backlog"] == 7
    assert telemetry["uplink"]["oldest_unacked_ts"] == station.events[-7].ts
    assert telemetry["uplink"]["head"] == len(station.events)
    assert telemetry["blanks"]["available"] == 5
    assert telemetry["clock_synced"] is False
    assert telemetry["disk"]["refusing"] is True
    assert telemetry["disk"]["low"] is True
    assert set(telemetry) >= {"station", "day", "queue", "blanks", "devices", "uplink", "disk"}
    statuses = station.device_statuses()
    assert set(statuses) == set(DEVICES)
    assert statuses["card_printer"]["state"] == "ERROR"
    assert statuses["ticket_printer"]["state"] == "READY"
    # The text overview, a reader written before sim/fleet.py, reads it as a station's.
    overview = StationOverview(
        station="kec-b",
        head=len(station.published),
        stored_max=len(station.published),
        last_seen=None,
        online=True,
        bd_seq=3,
        telemetry=telemetry,
        telemetry_at=None,
        devices=statuses,
        flags=0,
        last_flag=None,
    )
    row = overview_rows([overview], "en")[1]
    assert row[4] == "7"  # backlog
    assert row[6] == "5"  # blanks
    assert row[7] == "card_printer"


def test_keys_and_fleet_file_register_the_stations(tmp_path: Path) -> None:
    stations = demo_fleet(first=date(2026, 12, 7), last=date(2026, 12, 7), per_day=1)
    assert [s.scenario for s in stations][1].offline
    fleet = SimFleet(stations=stations, host="127.0.0.1", port=1, password=lambda user: user)
    fleet.register_keys(tmp_path / "stations")
    for station in stations:
        key = PublicKey.load(tmp_path / "stations" / f"{station.id}.pem")
        assert key.raw == station.key.public_key.raw
    fleet.write_fleet_file(tmp_path / "fleet.toml", only=[s.id for s in stations[:4]])
    loaded = Fleet.load(tmp_path / "fleet.toml")
    assert [s.id for s in loaded.stations] == [s.id for s in stations[:4]]
    assert loaded.stations[0].district == stations[0].district


async def test_a_live_fleet_keeps_sending_telemetry_over_mqtt(tmp_path: Path) -> None:
    stations = [
        SimStation(id="kec-up", district="350801"),
        SimStation(id="kec-down", district="350802", scenario=Scenario(offline=True)),
    ]
    for station in stations:
        station.add_days(first=date(2026, 12, 8), last=date(2026, 12, 8), per_day=1)
    users = {s.id: f"pw-{s.id}" for s in stations} | {"central": "pw-central"}
    with PrivateMosquitto(directory=tmp_path / "broker", users=users, acl=fleet_acl()) as broker:
        fleet = SimFleet(
            stations=stations, host=broker.host, port=broker.port, password=users.__getitem__
        )
        heard: dict[str, list[dict[str, Any]]] = {"kec-up": [], "kec-down": []}
        states: dict[str, bool] = {}
        async with aiomqtt.Client(
            broker.host, broker.port, username="central", password=users["central"]
        ) as central:
            await central.subscribe("ktpel/v1/+/telemetry", qos=1)
            await central.subscribe("ktpel/v1/+/state", qos=1)
            async with fleet.live(interval_s=0.05), asyncio.timeout(30):
                async for message in central.messages:
                    sender = str(message.topic).split("/")[2]
                    assert isinstance(message.payload, bytes | bytearray)
                    document = json.loads(message.payload)
                    if str(message.topic).endswith("/state"):
                        states[sender] = document["online"]
                    else:
                        heard[sender].append(document)
                    if len(heard["kec-up"]) >= 3:
                        break
        assert states == {"kec-up": True, "kec-down": False}
        assert len(heard["kec-down"]) == 1  # its one session, then silence
        assert all(t["station"] == "kec-up" for t in heard["kec-up"])
