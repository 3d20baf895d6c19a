"""What the centre refuses: events forged or altered on their way, a station's chain that
breaks, and commands or acknowledgements the central office did not sign."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from pathlib import Path

import aiomqtt
import pytest
from structlog.testing import capture_logs

from appliance.register import Event, StationKey
from appliance.sync import (
    CentralMessage,
    Collector,
    CollectorStore,
    StationTopics,
    check_message,
    encode_event,
    encode_events,
    sign_message,
    sign_state,
)
from sim.broker import PrivateMosquitto
from tests.sync_rig import (
    CENTRAL_USER,
    Fleet,
    append_events,
    assert_chain,
    opened_store,
    running,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return Fleet(tmp_path, ("s1", "s2"))


def _sealed(event: Event, key: StationKey, **changes: object) -> Event:
    """`event` with `changes`, re-hashed and signed by `key`: a well-formed forgery."""
    changed = dataclasses.replace(event, **changes)  # type: ignore[arg-type]
    digest = hashlib.sha256(changed.body()).digest()
    return dataclasses.replace(changed, hash=digest.hex(), sig=key.sign(digest).hex())


def _client(fleet: Fleet, broker: PrivateMosquitto, user: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=user,
        password=fleet.password(user),
        identifier=f"attacker-{user}",
        protocol=aiomqtt.ProtocolVersion.V5,
    )


async def _wait_flags(
    collector: Collector, store: CollectorStore, station: str, count: int
) -> list[str]:
    async with asyncio.timeout(20):
        await collector.wait_until(lambda: len(store.flags(station)) >= count)
    return [flag.kind for flag in store.flags(station)]


@pytest.mark.parametrize("every_signature", [True, False])
async def test_forged_and_altered_events_are_refused_and_flagged(
    fleet: Fleet, every_signature: bool
) -> None:
    register = fleet.register("s1")
    append_events(register, 9)
    genuine = list(register.events())
    first = genuine[0]
    other_key = fleet.keys["s2"]
    forged = {
        # The signature of another event pasted on.
        "bad_signature": dataclasses.replace(genuine[1], sig=genuine[2].sig),
        # Signed with another station's key, claiming to be s1's.
        "bad_signature_other_key": _sealed(genuine[3], other_key),
        # The content changed, the hash left as it was.
        "altered": dataclasses.replace(
            genuine[1], data_json=genuine[1].data_json.replace("BAST-1", "BAST-9")
        ),
        # s2's event on s1's topic.
        "wrong_station": _sealed(first, other_key, station="s2"),
    }
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store, every_signature=every_signature)
        async with running(collector.run(), "collector"):
            async with asyncio.timeout(10):
                await collector.connected.wait()
            topic = StationTopics("s1").register
            async with _client(fleet, broker, "s1") as attacker:
                for event in forged.values():
                    await attacker.publish(topic, encode_events([encode_event(event)]), qos=1)
                await attacker.publish(topic, b"\x00not json", qos=1)
                await attacker.publish(topic, b'[{"seq": 1}]', qos=1)
                await attacker.publish(topic, b"[" * 3000 + b"]" * 3000, qos=1)
                state = StationTopics("s1").state
                await attacker.publish(state, b'{"online": true, "bd_seq": true}', qos=1)
                await attacker.publish(state, b'{"online": true, "bd_seq": ' + b"9" * 30 + b"}")
            # The two bad states are unsigned, one flag: the same fault, within its minute.
            kinds = await _wait_flags(collector, store, "s1", 8)
            assert sorted(kinds) == sorted(
                ["bad_signature"] * 3 + ["altered", "wrong_station"] + ["malformed"] * 3
            )
            assert store.head("s1") == 0
            # The genuine register still arrives whole.
            uplink = fleet.uplink(register, broker)
            async with running(uplink.run(), "uplink"):
                async with asyncio.timeout(30):
                    await uplink.wait_acked(len(genuine))
        stored = list(store.events("s1"))
    assert stored == genuine
    assert_chain(stored, fleet.keys["s1"])


async def test_a_chain_that_breaks_is_flagged_and_not_acknowledged(fleet: Fleet) -> None:
    """A well-signed event that does not link to the one before: the station's key signed
    two histories (a restored backup, a cloned SD card). The centre stores up to the
    break, acknowledges no further, and flags the station."""
    register = fleet.register("s2")
    head = append_events(register, 5)
    events = list(register.events())
    fork = _sealed(events[-1], fleet.keys["s2"], seq=head + 1, prev_hash="ab" * 32)
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        async with running(collector.run(), "collector"):
            async with asyncio.timeout(10):
                await collector.connected.wait()
            uplink = fleet.uplink(register, broker)
            async with running(uplink.run(), "uplink"):
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)
            async with _client(fleet, broker, "s2") as forger:
                payload = encode_events([encode_event(fork)])
                await forger.publish(StationTopics("s2").register, payload, qos=1)
            assert await _wait_flags(collector, store, "s2", 1) == ["chain_break"]
            assert store.head("s2") == head
            assert collector.acked["s2"] == head


async def test_unsigned_or_malformed_commands_are_rejected_without_harm(fleet: Fleet) -> None:
    register = fleet.register("s1")
    head = append_events(register, 20)
    wrong_key = StationKey.generate()
    central = fleet.central_key
    resend = StationTopics("s1").command("resend")
    bad_commands = [
        (resend, b"garbage"),
        (resend, b'{"from": ' + b"9" * 5000 + b"}"),  # past Python's integer limit
        (resend, b"[" * 3000 + b"]" * 3000),  # deeper than the parser's recursion
        (resend, b" " * 5000),  # bigger than any message from the centre
        (resend, json.dumps({"from": 1}).encode()),  # unsigned
        (resend, sign_message(wrong_key, CentralMessage("s1", "resend", {"from": 1}))),
        (resend, sign_message(central, CentralMessage("s2", "resend", {"from": 1}))),
        (resend, sign_message(central, CentralMessage("s1", "ack", {"upto": 1}))),
        (resend, sign_message(central, CentralMessage("s1", "resend", {"from": "1"}))),
        (resend, sign_message(central, CentralMessage("s1", "resend", {"from": 0}))),
        (
            StationTopics("s1").command("reboot"),
            sign_message(central, CentralMessage("s1", "reboot", {})),
        ),
    ]
    bad_acks = [
        json.dumps({"upto": 10**9}).encode(),
        b'{"upto": ' + b"9" * 5000 + b"}",
        sign_message(wrong_key, CentralMessage("s1", "ack", {"upto": head})),
    ]
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        uplink = fleet.uplink(register, broker)
        async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
            async with asyncio.timeout(30):
                await uplink.wait_acked(head)
            with capture_logs() as logs:
                async with _client(fleet, broker, CENTRAL_USER) as attacker:
                    for topic, payload in bad_commands:
                        await attacker.publish(topic, payload, qos=1)
                    for payload in bad_acks:
                        await attacker.publish(StationTopics("s1").ack, payload, qos=1)
                    # A genuine command after them all: once it is obeyed, the uplink has
                    # seen (and refused) everything before it.
                    await attacker.publish(
                        resend,
                        sign_message(central, CentralMessage("s1", "resend", {"from": head})),
                        qos=1,
                    )
                async with asyncio.timeout(20):
                    await collector.wait_until(lambda: collector.duplicates >= 1)
            rejected = [log for log in logs if log["event"] == "uplink_command_rejected"]
            assert len(rejected) == len(bad_commands)
            assert [log["event"] for log in logs].count("uplink_ack_rejected") == len(bad_acks)
            assert collector.duplicates == 1  # only the genuine resend re-sent anything
            assert uplink.status().acked == head
            # ...and the uplink still works.
            head = append_events(register, 5)
            async with asyncio.timeout(30):
                await uplink.wait_acked(head)
        stored = list(store.events("s1"))
    assert stored == list(register.events())


def test_a_linked_run_is_proven_by_its_last_signature_and_a_forged_tail_is_found(
    fleet: Fleet,
) -> None:
    register = fleet.register("s1")
    append_events(register, 9)
    genuine = list(register.events())
    key = fleet.keys["s1"].public_key
    payload = encode_events(encode_event(event) for event in genuine)
    for every in (True, False):
        checked = check_message("s1", key, payload, every_signature=every)
        assert checked.events == genuine
        assert checked.rejections == []
    # A tail re-hashed by someone without the key: the run's anchor fails, and the
    # events are then checked one by one, which clears all but the forged one.
    forged_tail = _sealed(
        genuine[-1], StationKey.generate(), data_json='{"count":5,"reference":"X"}'
    )
    payload = encode_events(encode_event(event) for event in [*genuine[:-1], forged_tail])
    checked = check_message("s1", key, payload, every_signature=False)
    assert checked.events == genuine[:-1]
    assert [(r.kind, r.seq) for r in checked.rejections] == [("bad_signature", genuine[-1].seq)]


async def test_one_event_with_a_huge_seq_does_not_stop_the_collector(fleet: Fleet) -> None:
    """Defect 7 of issue 16: an unsigned event with seq >= 2**63 and a bad hash used to
    end `appliance central` with an OverflowError while its flag was stored."""
    register = fleet.register("s1")
    head = append_events(register, 3)
    wire = next(register.events()).to_wire()
    hostile = []
    for field, value in (("seq", 2**63), ("seq", 2**64 + 5), ("mono_ns", 2**63)):
        forged = {**wire, field: value, "hash": "00" * 32, "sig": "00" * 64}
        hostile.append(json.dumps([forged]).encode())
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        async with running(collector.run(), "collector") as collecting:
            async with asyncio.timeout(10):
                await collector.connected.wait()
            async with _client(fleet, broker, "s1") as attacker:
                for payload in hostile:
                    await attacker.publish(StationTopics("s1").register, payload, qos=1)
            # Both bad seqs are one flag: the same fault, within its minute.
            assert await _wait_flags(collector, store, "s1", 2) == ["malformed"] * 2
            assert [flag.detail for flag in store.flags("s1")] == [
                "[0]: bad seq",
                "[0]: bad mono_ns",
            ]
            assert all(flag.seq is None for flag in store.flags("s1"))
            assert not collecting.done()
            uplink = fleet.uplink(register, broker)
            async with running(uplink.run(), "uplink"):
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)


async def _wait_online(store: CollectorStore, collector: Collector, bd_seq: int) -> None:
    async with asyncio.timeout(20):
        await collector.wait_until(lambda: _state(store) == (True, bd_seq))


async def test_the_state_topic_takes_only_what_the_station_signed(fleet: Fleet) -> None:
    """Defect 8a of issue 16: an unsigned `{"online": false, "bd_seq": ...}` marked a
    station offline until its next birth. Births and deaths (the Last Will too, signed
    when the session opens) are signed by the station's key; anything else is flagged
    and changes nothing, and a genuine death of an earlier session stays ignored."""
    register = fleet.register("s1")
    append_events(register, 2)
    s1, other = fleet.keys["s1"], fleet.keys["s2"]
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        async with running(collector.run(), "collector"):
            async with asyncio.timeout(10):
                await collector.connected.wait()
            # Two sessions, so that a genuine death of the first one is stale.
            for session in (1, 2):
                uplink = fleet.uplink(register, broker)
                async with running(uplink.run(), "uplink"):
                    await _wait_online(store, collector, session)
            async with asyncio.timeout(20):
                await collector.wait_until(lambda: _state(store) == (False, 2))
            bd_seq = 3
            uplink = fleet.uplink(register, broker)
            async with running(uplink.run(), "uplink"):
                await _wait_online(store, collector, bd_seq)
                forged = [
                    json.dumps({"online": False, "bd_seq": bd_seq}).encode(),
                    json.dumps({"online": False, "bd_seq": bd_seq + 1}).encode(),
                    sign_state(other, "s1", online=False, bd_seq=bd_seq + 1),
                    sign_state(s1, "s2", online=False, bd_seq=bd_seq + 1),
                    _resigned(sign_state(s1, "s1", online=False, bd_seq=bd_seq)),
                    sign_message(
                        s1, CentralMessage("s1", "state", {"online": False, "bd_seq": bd_seq})
                    ),
                ]
                stale = sign_state(s1, "s1", online=False, bd_seq=bd_seq - 1)
                async with _client(fleet, broker, "s1") as attacker:
                    for payload in [*forged, stale, b"not JSON"]:
                        await attacker.publish(StationTopics("s1").state, payload, qos=1)
                # The same fault again within its minute is one flag; the last message
                # (malformed) is flagged once everything before it was handled.
                kinds = await _wait_flags(collector, store, "s1", 4)
                assert kinds == ["bad_signature"] * 3 + ["malformed"]
                await _wait_online(store, collector, bd_seq)
            # The station's own clean stop is a signed death, and it counts.
            async with asyncio.timeout(20):
                await collector.wait_until(lambda: _state(store) == (False, bd_seq))


def _state(store: CollectorStore) -> tuple[bool | None, int | None]:
    view = {station.station: station for station in store.overview()}.get("s1")
    return (None, None) if view is None else (view.online, view.bd_seq)


def _resigned(payload: bytes) -> bytes:
    """`payload` with one bit of its signature flipped."""
    document = json.loads(payload)
    signature = bytearray.fromhex(document["sig"])
    signature[0] ^= 1
    return json.dumps({**document, "sig": signature.hex()}).encode()
