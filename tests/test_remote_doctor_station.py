"""Remote diagnosis of a whole station: the daemon composed as `appliance run` does it, on
simulated devices, with its uplink to a private mosquitto under the fleet's ACL. The
central office's CommandSender asks for a check-up; the daemon runs its doctor inside
itself, reports its devices as its supervisor sees them without opening any, and the
report the central user receives names no applicant although the register holds one."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from appliance.central import CommandSender
from appliance.central._database import Database
from appliance.domain import EventType
from appliance.hal import DeviceState
from appliance.sync import BrokerSection, StationTopics
from sim.pcscd import PrivatePcscd
from tests.office_rig import office
from tests.support import SUBMITTED, VALID_KK, VALID_NIK
from tests.sync_rig import CENTRAL_USER, Fleet

pytestmark = pytest.mark.timeout(120)

STATION = "lumajang-test"
"""The office rig's station id."""
APPLICANT = "Wahyuningsih Purbaningrum"
ADDRESS = "Jl. Kapten Kyai Ilyas No. 44"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


def _opened_devices(logs: Iterable[Mapping[str, Any]]) -> set[str]:
    """The devices opened in this process, as their drivers log it."""
    return {log["device"] for log in logs if log["event"].endswith(("_opened", ".connected"))}


@pytest.mark.asyncio(loop_scope="module")
async def test_the_daemon_answers_a_doctor_request_with_its_devices_and_nothing_personal(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    fleet = Fleet(tmp_path / "fleet", (STATION,))
    with fleet.broker() as broker:
        database = Database.open(f"sqlite:{tmp_path / 'central' / 'dashboard.sqlite3'}")
        sender = CommandSender(
            broker=BrokerSection(
                host=broker.host,
                port=broker.port,
                username=CENTRAL_USER,
                password_file=Path("keys/mqtt.password"),
            ),
            resolve=lambda path: fleet.collector_dir / path,
            signing_key=fleet.central_key,
            database=database,
            client_id="pusat-commands",
        )
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(database.close)
            stack.push_async_callback(sender.close)
            central = await stack.enter_async_context(
                aiomqtt.Client(
                    broker.host,
                    broker.port,
                    username=CENTRAL_USER,
                    password=fleet.password(CENTRAL_USER),
                    identifier="central-listener",
                    protocol=aiomqtt.ProtocolVersion.V5,
                )
            )
            await central.subscribe(StationTopics(STATION).doctor, qos=1)
            await central.subscribe(StationTopics(STATION).state, qos=1)
            rig = await stack.enter_async_context(
                office(
                    tmp_path / "office",
                    pcscd,
                    extra_config=fleet.uplink_toml(
                        STATION,
                        broker.port,
                        telemetry_interval_s=3600,
                        reconnect_min_s=0.05,
                        reconnect_max_s=0.5,
                    ),
                )
            )
            station = rig.station
            station.register.append(
                EventType.APPLICATION_SUBMITTED,
                {
                    **SUBMITTED,
                    "name": APPLICANT,
                    "biodata": {
                        "birth_place": "Lumajang",
                        "address": ADDRESS,
                        "rt_rw": "001/002",
                        "village": "Ditotrunan",
                        "religion": "ISLAM",
                        "occupation": "Guru",
                    },
                    "by": {"role": "petugas_loket", "person": "siti"},
                },
                application_id="A-9001",
            )
            messages = aiter(central.messages)
            async with asyncio.timeout(30):
                # The birth follows the uplink's subscriptions: it hears commands now.
                while not json.loads((await anext(messages)).payload).get("online"):
                    pass
            with capture_logs() as logs:
                record = await sender.send(STATION, "doctor", {}, by="teknisi-eko")
                async with asyncio.timeout(60):
                    message = await anext(messages)
                    while str(message.topic) != StationTopics(STATION).doctor:
                        message = await anext(messages)
            assert isinstance(message.payload, bytes)
            raw = message.payload.decode()
            report = json.loads(raw)
            held = "".join(event.data_json for event in station.register.events())
            devices = {name: d.status for name, d in station.supervisor.devices.items()}
    # The register holds the applicant; the report does not.
    for personal in (VALID_NIK, VALID_KK, APPLICANT, ADDRESS):
        assert personal in held
        assert personal not in raw
    assert APPLICANT.split(maxsplit=1)[0] not in raw
    assert report["request"] == record.request
    assert report["station"] == STATION
    findings = {finding["check"]: finding for finding in report["findings"]}
    daemon = findings["daemon"]
    assert daemon["level"] == "ok"
    assert daemon["details"]["in_process"] is True
    # Every device as the supervisor sees it, none opened by the doctor.
    assert {check for check in findings if check.startswith("device:")} == {
        f"device:{name}" for name in devices
    }
    for name, status in devices.items():
        assert status.state is DeviceState.READY
        assert findings[f"device:{name}"]["level"] == "ok"
        assert findings[f"device:{name}"]["details"]["state"] == "READY"
    assert _opened_devices(logs) == set()
    assert findings["register"]["level"] == "ok"
    assert findings["broker"]["level"] == "ok"
    assert [log["event"] for log in logs].count("doctor_request_running") == 1
