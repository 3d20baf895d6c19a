"""Two collectors in one MQTT v5 share group on one PostgreSQL, as the national tier runs
them: several stations drain their registers through their real uplinks into a private
mosquitto, the broker deals the messages to both collectors, one collector stops in the
middle and comes back later. Every event ends up stored exactly once, each station's
last acknowledgement is its head (on the station and retained at the broker), and the
collectors' own counts add up to the events stored: nothing counted twice, no ack lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import aiomqtt
import pytest

from appliance.sync import StationTopics
from sim.postgres import PrivatePostgres
from tests.sync_rig import CENTRAL_USER, Fleet, append_events, assert_chain, opened_store, running

pytestmark = pytest.mark.timeout(240)

_STATIONS = ("kec-a", "kec-b", "kec-c", "kec-d")
_EVENTS = 1200
# Small messages and a small window: many messages, so the broker deals each station's
# register to both collectors, and the stations keep sending while one is away.
_UPLINK = {"batch_max_events": 40, "window_events": 400, "max_in_flight": 4}


async def _retained_acks(fleet: Fleet, broker_port: int) -> dict[str, int]:
    """What a station that reconnects now would hear: the retained ack of each."""
    heard: dict[str, int] = {}
    async with aiomqtt.Client(
        "127.0.0.1",
        broker_port,
        username=CENTRAL_USER,
        password=fleet.password(CENTRAL_USER),
        identifier="test-retained-acks",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        for station in fleet.stations:
            await client.subscribe(StationTopics(station).ack, qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                heard[str(message.topic).split("/")[2]] = json.loads(message.payload)["upto"]
                if len(heard) == len(fleet.stations):
                    break
    return heard


async def test_two_collectors_share_the_fleet_without_double_counting(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    url = postgres.fresh_database("sharing")
    fleet = Fleet(tmp_path, _STATIONS, collector_store=url)
    registers = {station: fleet.register(station) for station in _STATIONS}
    heads = {station: append_events(registers[station], _EVENTS - 1) for station in _STATIONS}
    with (
        fleet.broker() as broker,
        opened_store(url) as store_one,
        opened_store(url) as store_two,
        opened_store(url) as reader,
    ):
        one = fleet.collector(broker, store_one, name="c1")
        two = fleet.collector(broker, store_two, name="c2")
        try:
            async with contextlib.AsyncExitStack() as stack:
                first = await stack.enter_async_context(running(one.run(), "c1"))
                await stack.enter_async_context(running(two.run(), "c2"))
                async with asyncio.timeout(10):
                    await one.connected.wait()
                    await two.connected.wait()
                uplinks = {
                    station: fleet.uplink(registers[station], broker, **_UPLINK)
                    for station in _STATIONS
                }
                for station, uplink in uplinks.items():
                    await stack.enter_async_context(running(uplink.run(), station))
                # Both collectors have stored part of the fleet's registers: then c1 stops.
                async with asyncio.timeout(60):
                    await one.wait_until(lambda: one.stored_events >= 200)
                    await two.wait_until(lambda: two.stored_events >= 200)
                first.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await first
                stored_before_stop = one.stored_events
                assert stored_before_stop < sum(heads.values())
                # c2 goes on alone for a while; what the broker queued for c1's session
                # waits for it, and what the stations send again reaches c2.
                async with asyncio.timeout(60):
                    await two.wait_until(lambda: two.stored_events >= stored_before_stop + 400)
                again = fleet.collector(broker, store_one, name="c1")
                stack.callback(again.close)
                await stack.enter_async_context(running(again.run(), "c1-again"))
                async with asyncio.timeout(120):
                    for station, uplink in uplinks.items():
                        await uplink.wait_acked(heads[station])
                statuses = {station: uplink.status() for station, uplink in uplinks.items()}
                retained = await _retained_acks(fleet, broker.port)
                counted = one.stored_events + two.stored_events + again.stored_events
                messages = {
                    name: collector.stats.received.get("register", 0)
                    for name, collector in (("c1", one), ("c2", two), ("c1-again", again))
                }
        finally:
            one.close()
            two.close()
        for station in _STATIONS:
            events = list(reader.events(station))
            assert events == list(registers[station].events())  # each seq once, as sent
            assert_chain(events, fleet.keys[station])
            assert statuses[station].acked == heads[station]
        assert reader.heads() == heads
        assert retained == heads
        # Each row was stored by exactly one collector and counted by it alone.
        assert counted == sum(heads.values())
        # Both collectors were dealt register messages before c1 stopped.
        assert messages["c1"] > 0
        assert messages["c2"] > 0
    for register in registers.values():
        register.close()
