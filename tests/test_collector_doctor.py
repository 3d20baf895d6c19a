"""The collector takes each station's doctor report (`ktpel/v1/{station}/doctor`) and
keeps the latest, bounded like telemetry; and `Collector.stats` counts what it did."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from appliance.sync import StationTopics
from appliance.sync._bounds import MAX_DOCUMENT_BYTES
from appliance.sync._collector_stats import CollectorStats
from tests.sync_rig import CENTRAL_USER, Fleet, append_events, opened_store, running

pytestmark = pytest.mark.timeout(120)


def _report(request: str, status: str) -> dict[str, object]:
    return {
        "request": request,
        "station": "kec-a",
        "checks": [{"name": "disk", "status": status, "detail": "ok"}],
    }


async def test_the_latest_doctor_report_is_kept_and_a_bad_one_flagged(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ("kec-a",))
    register = fleet.register("kec-a")
    head = append_events(register, 4)
    topics = StationTopics("kec-a")
    with (
        fleet.broker() as broker,
        opened_store(fleet.store_url()) as store,
        opened_store(fleet.store_url()) as records_store,
    ):
        # The records on a connection of their own, as `appliance central` has them.
        collector = fleet.collector(broker, store, records_store=records_store)
        try:
            async with running(collector.run(), "collector"):
                async with asyncio.timeout(10):
                    await collector.connected.wait()
                async with aiomqtt.Client(
                    broker.host,
                    broker.port,
                    username="kec-a",
                    password=fleet.password("kec-a"),
                    identifier="test-kec-a",
                    protocol=aiomqtt.ProtocolVersion.V5,
                ) as station:
                    await station.publish(topics.doctor, json.dumps(_report("r1", "ok")), qos=1)
                    async with asyncio.timeout(20):
                        await collector.wait_until(
                            lambda: (
                                (report := store.latest_doctor("kec-a")) is not None
                                and report.payload["request"] == "r1"
                            )
                        )
                    # Out of bounds: refused whole and flagged, the kept report stays.
                    for bad in (
                        b"not json",
                        json.dumps({"deep": _deep(40)}).encode(),
                        b'{"pad": "' + b"x" * MAX_DOCUMENT_BYTES + b'"}',
                        json.dumps({"count": 2**64}).encode(),
                    ):
                        await station.publish(topics.doctor, bad, qos=1)
                    await station.publish(
                        topics.doctor, json.dumps(_report("r2", "warning")), qos=1
                    )
                async with asyncio.timeout(20):
                    await collector.wait_until(
                        lambda: (
                            (report := store.latest_doctor("kec-a")) is not None
                            and report.payload["request"] == "r2"
                        )
                    )
                    await collector.wait_until(lambda: len(store.flags("kec-a")) >= 4)
                # A station without a registered key: flagged, nothing kept.
                async with aiomqtt.Client(
                    broker.host,
                    broker.port,
                    username=CENTRAL_USER,
                    password=fleet.password(CENTRAL_USER),
                    identifier="test-central",
                    protocol=aiomqtt.ProtocolVersion.V5,
                ) as central:
                    stranger = StationTopics("kec-stranger")
                    await central.publish(stranger.doctor, json.dumps(_report("r9", "ok")), qos=1)
                async with asyncio.timeout(20):
                    await collector.wait_until(lambda: len(store.flags("kec-stranger")) >= 1)
                # The register, through the real uplink, for the acks' counters.
                uplink = fleet.uplink(register, broker)
                async with running(uplink.run(), "uplink"), asyncio.timeout(20):
                    await collector.wait_acked("kec-a", head)
                    await collector.wait_until(lambda: collector.stats.queue_messages == 0)
                stats = collector.stats
        finally:
            collector.close()
    with opened_store(fleet.store_url()) as again:
        store_report = again.latest_doctor("kec-a")
        kinds = [flag.kind for flag in again.flags("kec-a")]
        strangers = [flag.kind for flag in again.flags("kec-stranger")]
        assert again.latest_doctor("kec-stranger") is None
    assert store_report is not None
    report = store_report.payload
    assert report == _report("r2", "warning")
    assert kinds == ["malformed"] * 4
    assert strangers == ["unknown_station"]
    _assert_counted(stats, head)
    register.close()


def _assert_counted(stats: CollectorStats, head: int) -> None:
    # The counters: every message by its kind, each flag, the events and the acks.
    assert stats.received["doctor"] == 7
    assert stats.received["register"] >= 1
    assert stats.received["state"] >= 1
    assert stats.flags == {"malformed": 4, "unknown_station": 1}
    assert stats.events_stored == head
    assert stats.events_rejected == 0
    assert stats.acks_published >= 1
    assert stats.store_latency.count >= 3
    assert stats.store_latency.buckets()[-1] == (float("inf"), stats.store_latency.count)
    assert stats.queue_messages == 0
    assert stats.queue_bytes == 0
    assert stats.connected


def _deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": [value]}
    return value
