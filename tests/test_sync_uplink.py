"""The uplink and the collector together, against a private mosquitto: the register
arrives at the centre complete, in order, once, and provably unaltered."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from appliance.sync import BrokerSection, load_progress
from sim.broker import PrivateMosquitto, fleet_acl
from sim.broker_pki import make_test_pki
from sim.postgres import PrivatePostgres
from tests.sync_rig import CENTRAL_USER, Fleet, append_events, assert_chain, opened_store, running

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet(tmp_path: Path, request: pytest.FixtureRequest) -> Fleet:
    """The fleet, its collector storing into SQLite or into a throwaway PostgreSQL."""
    store_url = None
    if request.param == "postgresql":
        server: PrivatePostgres = request.getfixturevalue("postgres")
        store_url = server.fresh_database(f"fleet_{uuid.uuid4().hex[:12]}")
    return Fleet(tmp_path, ("s1", "s2"), collector_store=store_url)


async def test_a_backlog_arrives_complete_and_the_station_learns_it(fleet: Fleet) -> None:
    register = fleet.register("s1")
    head = append_events(register, 1200)
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        uplink = fleet.uplink(register, broker, batch_max_events=100)
        async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
            async with asyncio.timeout(60):
                await uplink.wait_acked(head)
            assert uplink.status().backlog == 0
        stored = list(store.events("s1"))
    assert_chain(stored, fleet.keys["s1"])
    assert stored == list(register.events())
    assert load_progress(fleet.station_dir("s1") / "uplink.json").acked == head


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_broker_and_collector_outages_lose_nothing(fleet: Fleet, outage: str) -> None:
    """Events produced while the broker is down (stopped, or SIGKILLed), while the
    collector is down, and while both are: at the end the centre holds every seq once,
    the chain verifies and the station's backlog is zero."""
    register = fleet.register("s1")
    uplink = fleet.uplink(register, fleet_broker := fleet.broker(), batch_max_events=50)
    with fleet_broker as broker:
        async with running(uplink.run(), "uplink"):
            with opened_store(fleet.store_url()) as store:
                async with running(fleet.collector(broker, store).run(), "collector"):
                    head = append_events(register, 100)
                    async with asyncio.timeout(30):
                        await uplink.wait_acked(head)
                    getattr(broker, outage)()
                    head = append_events(register, 300)
                    assert uplink.status().backlog == 300
                    broker.start()
                    async with asyncio.timeout(30):
                        await uplink.wait_acked(head)
            # The collector is down (its process gone, its store closed).
            head = append_events(register, 300)
            async with asyncio.timeout(30):
                await uplink.wait_published(head)
            assert uplink.status().acked == head - 300
            with opened_store(fleet.store_url()) as store:
                async with running(fleet.collector(broker, store).run(), "collector"):
                    async with asyncio.timeout(30):
                        await uplink.wait_acked(head)
            # Both down at once.
            getattr(broker, outage)()
            head = append_events(register, 200)
            broker.start()
            with opened_store(fleet.store_url()) as store:
                async with running(fleet.collector(broker, store).run(), "collector"):
                    async with asyncio.timeout(30):
                        await uplink.wait_acked(head)
                    assert uplink.status().backlog == 0
                stored = list(store.events("s1"))
    assert_chain(stored, fleet.keys["s1"])
    assert stored == list(register.events())


async def test_a_broker_restarted_without_its_store_loses_nothing(fleet: Fleet) -> None:
    """Events the broker confirmed and queued for the collector die with the broker's
    store; the station still has them, since it forgets only what the centre acknowledged."""
    register = fleet.register("s1")
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        uplink = fleet.uplink(register, broker, batch_max_events=50)
        async with running(uplink.run(), "uplink"):
            collector = fleet.collector(broker, store)
            async with running(collector.run(), "collector"):
                head = append_events(register, 100)
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)
            # Queued at the broker for the collector's persistent session, then lost.
            head = append_events(register, 400)
            async with asyncio.timeout(30):
                await uplink.wait_published(head)
            broker.stop()
            broker.wipe_persistence()
            broker.start()
            assert load_progress(fleet.station_dir("s1") / "uplink.json").acked == head - 400
            collector = fleet.collector(broker, store)
            async with running(collector.run(), "collector"):
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)
        stored = list(store.events("s1"))
    assert_chain(stored, fleet.keys["s1"])
    assert [event.seq for event in stored] == list(range(1, head + 1))


async def test_a_station_killed_in_a_drain_resumes_from_the_acknowledged_seq(
    fleet: Fleet,
) -> None:
    register = fleet.register("s1")
    head = append_events(register, 8000)
    register.close()
    station_dir = fleet.station_dir("s1")
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        # A small window keeps the station well behind the end when it is killed.
        settings = fleet.uplink_settings(
            "s1", broker, batch_max_events=100, max_in_flight=4, window_events=2000
        )
        command = [sys.executable, "-m", "tests.uplink_child", str(station_dir), "s1"]
        command.append(settings.model_dump_json())
        collector = fleet.collector(broker, store)
        async with running(collector.run(), "collector"):
            child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
            try:
                assert child.stdout is not None
                async with asyncio.timeout(30):
                    async for line in child.stdout:  # the station has persisted this ack
                        if line.startswith(b"acked ") and int(line.split()[1]) >= 1000:
                            break
            finally:
                child.kill()
                await child.wait()
            acked_at_kill = load_progress(station_dir / "uplink.json").acked
            stored_at_kill = store.head("s1")
            assert 1000 <= acked_at_kill <= stored_at_kill
            assert acked_at_kill < head
            child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
            try:
                async with asyncio.timeout(60):
                    await collector.wait_acked("s1", head)
            finally:
                child.kill()
                await child.wait()
        stored = list(store.events("s1"))
    assert_chain(stored, fleet.keys["s1"])
    assert [event.seq for event in stored] == list(range(1, head + 1))
    # The restarted station sent again at most what the centre had not acknowledged to it
    # (less, once the retained ack reached it), and the collector absorbed those
    # duplicates. What it stored after `stored_at_kill` was read (messages the broker
    # still held) counts too, so the bound is the window: the station never runs further
    # ahead of the acknowledged seq than that.
    assert collector.duplicates <= settings.window_events


async def test_mutual_tls_carries_the_register(fleet: Fleet, tmp_path: Path) -> None:
    """With TLS configured, the station and the collector prove who they are by client
    certificates (the broker takes the certificate's name as the username for the ACL)."""
    pki = make_test_pki(tmp_path / "pki")
    station_cert, station_key = pki.client("s1")
    central_cert, central_key = pki.client(CENTRAL_USER)
    register = fleet.register("s1")
    head = append_events(register, 300)
    broker = PrivateMosquitto(
        directory=tmp_path / "tls-broker", acl=fleet_acl(), tls=pki.broker_tls()
    )
    with broker, opened_store(fleet.store_url()) as store:
        tls = {"ca_certificate": pki.ca_certificate, "password_file": None, "username": None}
        uplink = fleet.uplink(register, broker, **tls, certificate=station_cert, key=station_key)
        connection = BrokerSection(
            host=broker.host,
            port=broker.port,
            ca_certificate=pki.ca_certificate,
            certificate=central_cert,
            key=central_key,
            keepalive_s=5,
        )
        collector = fleet.collector(broker, store, connection=connection)
        async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
            async with asyncio.timeout(30):
                await uplink.wait_acked(head)
        assert list(store.events("s1")) == list(register.events())


async def test_a_hung_broker_does_not_hang_the_uplink(fleet: Fleet) -> None:
    """A broker that keeps its connections open but answers nothing (SIGSTOP): aiomqtt's
    QoS 1 publish would wait for its PUBACK forever; the uplink's bound declares the link
    dead, reconnects, and delivers everything once the broker answers again."""
    register = fleet.register("s1")
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        uplink = fleet.uplink(register, broker, publish_timeout_s=1.0)
        collector = fleet.collector(broker, store)
        async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
            head = append_events(register, 10)
            async with asyncio.timeout(30):
                await uplink.wait_acked(head)
            assert broker.pid is not None
            with capture_logs() as logs:
                os.kill(broker.pid, signal.SIGSTOP)
                try:
                    head = append_events(register, 50)
                    async with asyncio.timeout(30):
                        await uplink.wait_disconnected()
                finally:
                    os.kill(broker.pid, signal.SIGCONT)
                async with asyncio.timeout(60):
                    await uplink.wait_acked(head)
        stored = list(store.events("s1"))
    failures = [log["error"] for log in logs if log["event"] == "uplink_disconnected"]
    assert failures[0] == "the broker did not confirm a publish within 1.0 s"
    assert stored == list(register.events())
