"""The parts of remote diagnosis one at a time: the station's judgement of a request (its
id, its time, replays), the scrubbing of the report, the replay memory in uplink.json,
a failed check inside the daemon naming only its error's type, and the central office's
CommandSender (what it refuses before anything is sent, a broker that is down, the
signature the station checks)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from appliance.central import CommandError, CommandNotSent, CommandSender
from appliance.central._database import Database
from appliance.clock import ManualClock
from appliance.config import load_config
from appliance.doctor import DaemonView, diagnose
from appliance.doctor import _diagnose as diagnose_module
from appliance.doctor._report import Finding
from appliance.keys import init_keys
from appliance.sync import BrokerSection, RejectedMessage, StationTopics, open_message
from appliance.sync._doctor_request import (
    MAX_AGE_S,
    MAX_AHEAD_S,
    REMEMBERED_REQUESTS,
    DoctorRequest,
    doctor_request,
    remembered,
    report_document,
    scrubbed,
)
from appliance.sync._progress import UplinkProgress, load_progress, save_progress
from tests.support import VALID_KK, VALID_NIK
from tests.sync_rig import CENTRAL_USER, Fleet

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
REQUEST = "0123456789abcdef" * 2


def _clock(*, synchronised: bool = True) -> ManualClock:
    return ManualClock(wall_ns=int(NOW.timestamp() * 1e9), synchronised=synchronised)


def _args(*, seconds_ago: float = 0.0, request: str = REQUEST) -> dict[str, Any]:
    issued = NOW - timedelta(seconds=seconds_ago)
    return {"request": request, "issued_at": issued.isoformat()}


# ------------------------------------------------------------------ the station's judgement


def test_a_request_within_its_hour_is_accepted_and_one_past_it_refused() -> None:
    clock = _clock()
    assert doctor_request(_args(seconds_ago=MAX_AGE_S), clock=clock, seen=()) == DoctorRequest(
        REQUEST, (NOW - timedelta(seconds=MAX_AGE_S)).isoformat()
    )
    with pytest.raises(RejectedMessage, match="too old"):
        doctor_request(_args(seconds_ago=MAX_AGE_S + 1), clock=clock, seen=())
    doctor_request(_args(seconds_ago=-MAX_AHEAD_S), clock=clock, seen=())
    with pytest.raises(RejectedMessage, match="ahead of the station's clock"):
        doctor_request(_args(seconds_ago=-MAX_AHEAD_S - 1), clock=clock, seen=())
    # Another offset, the same moment.
    jakarta = (NOW - timedelta(minutes=5)).astimezone().isoformat()
    doctor_request({"request": REQUEST, "issued_at": jakarta}, clock=clock, seen=())


def test_an_unsynchronised_clock_judges_no_time_but_still_refuses_a_replay() -> None:
    clock = _clock(synchronised=False)
    doctor_request(_args(seconds_ago=30 * 86400), clock=clock, seen=())
    doctor_request(_args(seconds_ago=-86400), clock=clock, seen=())
    with pytest.raises(RejectedMessage, match="a replay") as refused:
        doctor_request(_args(), clock=clock, seen=(REQUEST,))
    assert refused.value.forged


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"issued_at": NOW.isoformat()}, "'request'"),
        ({"request": REQUEST.upper(), "issued_at": NOW.isoformat()}, "'request'"),
        ({"request": REQUEST[:-1], "issued_at": NOW.isoformat()}, "'request'"),
        ({"request": 12345, "issued_at": NOW.isoformat()}, "'request'"),
        ({"request": REQUEST}, "'issued_at'"),
        ({"request": REQUEST, "issued_at": 1765100000}, "'issued_at'"),
        ({"request": REQUEST, "issued_at": "kemarin"}, "'issued_at'"),
        ({"request": REQUEST, "issued_at": "2026-12-07T09:30:00"}, "UTC offset"),
        ({**_args(), "from": 1}, "unexpected arguments"),
    ],
)
def test_a_malformed_request_is_refused(args: dict[str, Any], reason: str) -> None:
    with pytest.raises(RejectedMessage, match=reason):
        doctor_request(args, clock=_clock(), seen=())


def test_the_remembered_ids_are_bounded_the_oldest_forgotten() -> None:
    seen: tuple[str, ...] = ()
    ids = [f"{n:032x}" for n in range(REMEMBERED_REQUESTS + 5)]
    for request in ids:
        seen = remembered(seen, request)
    assert seen == tuple(ids[-REMEMBERED_REQUESTS:])


def test_the_replay_memory_survives_in_uplink_json_and_a_damaged_one_costs_only_itself(
    tmp_path: Path,
) -> None:
    path = tmp_path / "uplink.json"
    save_progress(path, UplinkProgress(acked=41, bd_seq=7, doctor_requests=(REQUEST,)))
    assert load_progress(path) == UplinkProgress(acked=41, bd_seq=7, doctor_requests=(REQUEST,))
    # Written before doctor requests existed.
    path.write_text(json.dumps({"acked": 41, "bd_seq": 7}))
    assert load_progress(path) == UplinkProgress(acked=41, bd_seq=7)
    # A damaged list: the acknowledged seq is kept.
    path.write_text(json.dumps({"acked": 41, "bd_seq": 7, "doctor_requests": ["../x", 5]}))
    assert load_progress(path) == UplinkProgress(acked=41, bd_seq=7)


# ------------------------------------------------------------------ nothing personal


def test_scrubbing_masks_identity_numbers_everywhere_and_keeps_the_rest() -> None:
    report = {
        "level": "problem",
        "findings": [
            {
                "check": "register",
                "text": {"id": f"rusak: nik {VALID_NIK}", "en": f"damaged: kk={VALID_KK}."},
                "details": {VALID_NIK: 1, "nik": int(VALID_NIK), "ratio": 0.5, "ok": True},
            }
        ],
    }
    document = report_document(
        report,
        station="kec-sukodono",
        request=DoctorRequest("1234567890123456" * 2, NOW.isoformat()),
        at=NOW.isoformat(),
        version="1.0",
    )
    text = json.dumps(document)
    assert VALID_NIK not in text
    assert VALID_KK not in text
    finding = document["findings"][0]
    assert finding["text"] == {
        "id": "rusak: nik 3508********0001",
        "en": "damaged: kk=3508********0003.",
    }
    assert finding["details"] == {
        "3508********0001": 1,
        "nik": "3508********0001",
        "ratio": 0.5,
        "ok": True,
    }
    # The envelope is not scrubbed: the centre matches the report by its request's id.
    assert document["request"] == "1234567890123456" * 2
    assert (document["station"], document["at"], document["version"]) == (
        "kec-sukodono",
        NOW.isoformat(),
        "1.0",
    )
    assert scrubbed([1, None, "x", 10**15 - 1]) == [1, None, "x", 10**15 - 1]


async def test_inside_the_daemon_a_failed_check_names_only_its_errors_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error's message could quote anything (a row of the register): the station's
    log keeps it, the report that leaves the station names the error's type alone. Run
    by a technician at the station, the doctor shows the message."""
    config_file = tmp_path / "station.toml"
    config_file.write_text(
        '[station]\nid = "s1"\noffice = "Kecamatan Uji"\n[paths]\nstate_dir = "state"\n',
        encoding="utf-8",
    )
    config = load_config(config_file)
    init_keys(config)

    async def failing(*_: object) -> list[Finding]:
        raise ValueError(f"row 7: {{'nik': '{VALID_NIK}', 'name': 'Siti Aminah'}}")

    monkeypatch.setattr(diagnose_module, "_inspect_register", failing)
    remote = await diagnose(config, clock=_clock(), daemon_view=DaemonView(devices={}))
    local = await diagnose(config, clock=_clock())
    (remote_finding,) = [f for f in remote.findings if f.check == "register"]
    (local_finding,) = [f for f in local.findings if f.check == "register"]
    assert remote_finding.text.en == "The register check itself failed: ValueError"
    assert "Siti Aminah" in local_finding.text.en
    assert "Siti Aminah" not in json.dumps(remote.to_json())


# ------------------------------------------------------------------ the sender


def _sender(fleet: Fleet, port: int, database: Database, **options: Any) -> CommandSender:
    return CommandSender(
        broker=BrokerSection(
            host="127.0.0.1",
            port=port,
            username=CENTRAL_USER,
            password_file=Path("keys/mqtt.password"),
            keepalive_s=5,
        ),
        resolve=lambda path: fleet.collector_dir / path,
        signing_key=fleet.central_key,
        database=database,
        client_id="pusat-commands",
        **options,
    )


@pytest.mark.parametrize(
    ("station", "kind", "args", "by", "code"),
    [
        ("s1", "reboot", {}, "budi", "command_unknown"),
        ("s1", "resend", {"from": 0}, "budi", "resend_from_invalid"),
        ("s1", "resend", {"from": "5"}, "budi", "resend_from_invalid"),
        ("s1", "resend", {"from": True}, "budi", "resend_from_invalid"),
        ("s1", "resend", {"from": 2**63}, "budi", "resend_from_invalid"),
        ("s1", "resend", {"from": 5, "to": 9}, "budi", "resend_from_invalid"),
        ("s1", "doctor", {"request": "0" * 32}, "budi", "doctor_args"),
        ("s1/cmd", "doctor", {}, "budi", "station_invalid"),
        ("+", "doctor", {}, "budi", "station_invalid"),
        ("s1", "doctor", {}, " ", "by_missing"),
    ],
)
async def test_the_sender_refuses_a_bad_command_before_logging_or_sending_it(
    tmp_path: Path, station: str, kind: str, args: dict[str, Any], by: str, code: str
) -> None:
    fleet = Fleet(tmp_path / "fleet", ("s1",))
    database = Database.open(f"sqlite:{tmp_path / 'central.sqlite3'}")
    try:
        # Port 9 (discard): nothing is ever connected, the refusal comes first.
        sender = _sender(fleet, 9, database)
        with pytest.raises(CommandError) as refused:
            await sender.send(station, kind, args, by=by)
        assert refused.value.code == code
        assert refused.value.text.id
        assert sender.log.recent(station) == []
    finally:
        database.close()


async def test_a_command_is_logged_even_when_the_broker_is_down_and_sent_once_it_is_back(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path / "fleet", ("s1",))
    database = Database.open(f"sqlite:{tmp_path / 'central.sqlite3'}")
    with fleet.broker() as broker:
        sender = _sender(fleet, broker.port, database, publish_timeout_s=5.0)
        try:
            async with aiomqtt.Client(
                broker.host,
                broker.port,
                username="s1",
                password=fleet.password("s1"),
                identifier="station-s1",
                protocol=aiomqtt.ProtocolVersion.V5,
            ) as station:
                await station.subscribe(StationTopics("s1").commands, qos=1)
                first = await sender.send("s1", "resend", {"from": 3}, by="budi")
                async with asyncio.timeout(10):
                    message = await anext(aiter(station.messages))
            assert str(message.topic) == StationTopics("s1").command("resend")
            assert isinstance(message.payload, bytes)
            args = open_message(
                fleet.central_key.public_key, message.payload, station="s1", kind="resend"
            )
            assert args == {"from": 3}
            broker.stop()
            with pytest.raises(CommandNotSent) as not_sent:
                await sender.send("s1", "doctor", {}, by="ani")
            assert not_sent.value.code == "command_not_sent"
            broker.start()
            third = await sender.send("s1", "doctor", {}, by="budi")
        finally:
            await sender.close()
    try:
        log = sender.log.recent("s1")
    finally:
        database.close()
    assert [(c.kind, c.by_user, c.sent_at is not None) for c in log] == [
        ("doctor", "budi", True),
        ("doctor", "ani", False),
        ("resend", "budi", True),
    ]
    assert log[2] == first
    assert log[0] == third
    assert third.request is not None
    assert third.args == {"request": third.request, "issued_at": third.at}
    issued = datetime.fromisoformat(third.at)
    assert abs(issued.timestamp() - time.time()) < 600


async def test_an_injected_client_is_used_as_it_is(tmp_path: Path) -> None:
    """The dashboard may share a connection it already holds: the sender publishes on it
    and leaves it open."""
    fleet = Fleet(tmp_path / "fleet", ("s1",))
    database = Database.open(f"sqlite:{tmp_path / 'central.sqlite3'}")
    with fleet.broker() as broker:
        client_options: dict[str, Any] = {
            "hostname": broker.host,
            "port": broker.port,
            "protocol": aiomqtt.ProtocolVersion.V5,
        }
        try:
            async with (
                aiomqtt.Client(
                    **client_options,
                    username=CENTRAL_USER,
                    password=fleet.password(CENTRAL_USER),
                    identifier="dashboard",
                ) as shared,
                aiomqtt.Client(
                    **client_options,
                    username="s1",
                    password=fleet.password("s1"),
                    identifier="station-s1",
                ) as station,
            ):
                await station.subscribe(StationTopics("s1").commands, qos=1)
                # Port 9: were the sender to connect by itself, it would fail.
                sender = _sender(fleet, 9, database, client=shared)
                record = await sender.send("s1", "doctor", {}, by="budi")
                async with asyncio.timeout(10):
                    message = await anext(aiter(station.messages))
                await sender.close()
                await shared.publish(StationTopics("s1").command("x"), b"still open", qos=1)
            assert isinstance(message.payload, bytes)
            args = open_message(
                fleet.central_key.public_key, message.payload, station="s1", kind="doctor"
            )
            assert args == record.args
            assert record.sent_at is not None
        finally:
            database.close()
