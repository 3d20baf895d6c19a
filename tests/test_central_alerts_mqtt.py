"""The alert keeper's publications on a private mosquitto with the fleet's ACL: an alert
is retained at ktpel/central/v1/alerts/{station}/{rule} while it is not closed, its
acknowledgement follows, its closing is published once and its retained message cleared;
what changes while the broker is away is at the broker once it is back.

Nothing sleeps: a test waits for the messages a subscriber receives, or for the keeper's
own progress, and shows a message absent by a marker its publisher sends after it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from appliance._secrets import write_secret_file
from appliance.central._alert_keeper import (
    ALERT_TOPIC_ROOT,
    AlertKeeper,
    alert_topic,
    fleet_calendars,
)
from appliance.central._alert_store import AlertStore
from appliance.central._alerts import AlertsSection
from appliance.central._database import Database
from appliance.central._fleet import Fleet
from appliance.central._status import StationStatus, StatusTable
from appliance.clock import ManualClock
from appliance.sync import BrokerSection
from sim.broker import PrivateMosquitto, fleet_acl

from .central_alerts_rig import HOURS, healthy, put_status, text, wib
from .sync_rig import running

WAIT_S = 10.0
PASSWORD = "central-secret"  # noqa: S105 - the private broker's
MARKER = "ktpel/central/v1/test-marker"
SUKODONO = alert_topic("kec-sukodono", "offline")
ABEPURA = alert_topic("kec-abepura", "clock")
FIELDS = {
    "id",
    "station",
    "district",
    "rule",
    "severity",
    "state",
    "opened_at",
    "acknowledged_at",
    "acknowledged_by",
    "closed_at",
    "text",
}


def wall_ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    users = {"central": PASSWORD, "kec-sukodono": "station-secret"}
    with PrivateMosquitto(directory=tmp_path / "broker", users=users, acl=fleet_acl()) as b:
        yield b


@asynccontextmanager
async def observer(broker: PrivateMosquitto, name: str) -> AsyncIterator[aiomqtt.Client]:
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        username="central",
        password=PASSWORD,
        identifier=name,
        protocol=aiomqtt.ProtocolVersion.V5,
    )
    async with client:
        yield client


async def receive(client: aiomqtt.Client, count: int) -> list[aiomqtt.Message]:
    async with asyncio.timeout(WAIT_S):
        return [await anext(client.messages) for _ in range(count)]


def document(message: aiomqtt.Message) -> dict[str, Any]:
    assert isinstance(message.payload, bytes)
    parsed: dict[str, Any] = json.loads(message.payload)
    return parsed


async def retained(broker: PrivateMosquitto, topic: str) -> dict[str, Any] | None:
    """The message retained on `topic`, None if there is none: a retained message is
    delivered at SUBSCRIBE, before the marker published after it."""
    async with observer(broker, "retained-reader") as client:
        await client.subscribe(topic, qos=1)
        await client.subscribe(MARKER, qos=1)
        await client.publish(MARKER, b"marker", qos=1)
        (first,) = await receive(client, 1)
    if first.topic.matches(MARKER):
        return None
    return document(first)


async def in_step(keeper: AlertKeeper, *, after: int) -> None:
    """Until a session later than `after` has put the broker in step with the store."""
    async with asyncio.timeout(WAIT_S):
        await keeper.wait_until(
            lambda: keeper.sessions > after and keeper.synced == keeper.sessions
        )


class Rig:
    """A database with the status table, the alert store, a keeper on the broker, and the
    keeper's clock."""

    def __init__(self, broker: PrivateMosquitto, directory: Path) -> None:
        self.database = Database.open(f"sqlite:{directory / 'central.sqlite3'}")
        self.store = AlertStore(database=self.database)
        password_file = directory / "mqtt.password"
        write_secret_file(password_file, PASSWORD.encode())
        self.clock = ManualClock(wall_ns=wall_ns(wib(7, 9, 20)))
        self.keeper = AlertKeeper(
            # No pass but the first and those poked: each poke is one pass, at its statuses.
            settings=AlertsSection(interval_s=3600),
            store=self.store,
            statuses=StatusTable(self.database),
            calendar=fleet_calendars(Fleet(), HOURS),
            broker=BrokerSection(
                host=broker.host,
                port=broker.port,
                username="central",
                password_file=password_file,
                keepalive_s=5,
            ),
            resolve=lambda path: path,
            identifier="test",
            clock=self.clock,
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
        )

    def at(self, moment: datetime, *statuses: StationStatus) -> None:
        """The statuses change and the clock moves to `moment`; the keeper is told."""
        put_status(self.database, *statuses)
        self.clock.set_wall(wall_ns(moment))
        self.keeper.poke()


@pytest.fixture
def rig(broker: PrivateMosquitto, tmp_path: Path) -> Iterator[Rig]:
    made = Rig(broker, tmp_path)
    put_status(
        made.database,
        healthy(online=False, online_since=text(wib(7, 9))),
        healthy(station="kec-abepura", district="947101"),
    )
    yield made
    made.database.close()


async def test_an_alert_is_retained_while_open_and_cleared_when_closed(
    broker: PrivateMosquitto, rig: Rig
) -> None:
    async with observer(broker, "other-system") as other:
        await other.subscribe(f"{ALERT_TOPIC_ROOT}/#", qos=1)
        async with running(rig.keeper.run(), "alerts"):
            (opened,) = await receive(other, 1)
            assert opened.topic.value == SUKODONO
            alert = document(opened)
            assert set(alert) == FIELDS, "the facts of the alert and nothing else"
            assert alert["state"] == "open"
            assert alert["severity"] == "kritis"
            assert alert["district"] == "350801"
            assert alert["acknowledged_by"] is None
            assert "luring" in alert["text"]["id"].lower()
            assert "offline" in alert["text"]["en"].lower()
            assert await retained(broker, SUKODONO) == alert

            rig.store.acknowledge(alert["id"], by="petugas-3508", at=wib(7, 9, 25), note="Dr.")
            rig.keeper.poke()
            (taken,) = await receive(other, 1)
            assert document(taken)["state"] == "acknowledged"
            assert document(taken)["acknowledged_by"] == "petugas-3508"
            assert "Dr." not in json.dumps(document(taken)), "the note is not published"
            assert (await retained(broker, SUKODONO) or {})["state"] == "acknowledged"

            rig.at(wib(7, 9, 30), healthy(online=True, online_since=text(wib(7, 9, 30))))
            closed, cleared = await receive(other, 2)
            assert closed.topic.value == cleared.topic.value == SUKODONO
            assert document(closed)["state"] == "closed"
            assert document(closed)["closed_at"] == text(wib(7, 9, 30))
            assert cleared.payload == b""
            assert await retained(broker, SUKODONO) is None

            rig.at(wib(7, 9, 40), healthy(station="kec-abepura", clock_synced=False))
            (clock_alert,) = await receive(other, 1)
            assert clock_alert.topic.value == ABEPURA, "one clear, and the next change"


async def test_what_changed_while_the_broker_was_away_is_there_when_it_is_back(
    broker: PrivateMosquitto, rig: Rig
) -> None:
    keeper = rig.keeper
    rig.at(wib(7, 9, 20), healthy(station="kec-abepura", clock_synced=False))
    async with running(keeper.run(), "alerts"):
        await in_step(keeper, after=0)
        assert (await retained(broker, SUKODONO) or {})["state"] == "open"
        assert (await retained(broker, ABEPURA) or {})["state"] == "open"
        first = (await retained(broker, SUKODONO) or {})["id"]

        broker.stop()  # a clean stop: mosquitto keeps its retained messages
        passes = keeper.passes
        # While it is away: abepura's clock is set right, sukodono comes back and goes
        # away again (a new alert).
        rig.at(wib(7, 9, 25), healthy(online=True))
        async with asyncio.timeout(WAIT_S):
            await keeper.wait_until(lambda: keeper.passes > passes)
        rig.at(
            wib(7, 10, 30),
            healthy(station="kec-abepura"),
            healthy(online=False, online_since=text(wib(7, 10))),
        )
        async with asyncio.timeout(WAIT_S):
            await keeper.wait_until(lambda: keeper.passes > passes + 1)
        assert {a.station for a in rig.store.open_alerts()} == {"kec-sukodono"}

        sessions = keeper.sessions
        broker.start()
        await in_step(keeper, after=sessions)
        assert await retained(broker, ABEPURA) is None, "closed while away: cleared"
        back = await retained(broker, SUKODONO)
        assert back is not None
        assert back["state"] == "open"
        assert back["id"] != first
        assert back["opened_at"] == text(wib(7, 10, 30))

        # A broker that lost its store (wiped): everything is published again.
        sessions = keeper.sessions
        broker.stop()
        broker.wipe_persistence()
        broker.start()
        await in_step(keeper, after=sessions)
        assert (await retained(broker, SUKODONO) or {})["id"] == back["id"]
