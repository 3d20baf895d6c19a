"""Hostile payloads on every topic the collector subscribes to (`register`, `state`,
`telemetry`, `device/+`) never stop it: huge and negative integers, floats, deep nesting,
wrong types, text no database takes. Each is refused, flagged, and the collector goes on
storing and acknowledging a genuine register. The decoders are also driven directly,
where hypothesis can try many more shapes quickly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.central import overview_rows
from appliance.register import Register, StationKey
from appliance.sync import (
    MalformedMessage,
    RejectedMessage,
    StationOverview,
    StationTopics,
    check_message,
    open_state,
    sign_state,
)
from appliance.sync._bounds import MAX_INT, decode_document
from tests.sync_rig import Fleet, append_events, assert_chain, opened_store, running

pytestmark = pytest.mark.timeout(180)

_HOSTILE_NUMBERS: list[Any] = [2**63, 2**64 + 1, -(2**63) - 1, -1, 10**30, 1.5, 1e308, True, None]
_HOSTILE_TEXT: list[Any] = ["\ud800", "a\x00b", "", "9" * 5000]


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": [value]}
    return value


def _hostile_events(wire: dict[str, Any], rng: random.Random) -> list[bytes]:
    """An event of the register with each field replaced by something hostile."""
    values = [*_HOSTILE_NUMBERS, *_HOSTILE_TEXT, [], {}, _deep(40)]
    payloads = [json.dumps([{**wire, field: value}]).encode() for field in wire for value in values]
    payloads += [
        json.dumps({**wire, "data": {"count": 2**70}}).encode(),
        json.dumps({**wire, "data": {"x": "\ud800"}}).encode(),
        json.dumps({**wire, "type": "\ud800", "seq": MAX_INT}).encode(),
        b"[" + b",".join([json.dumps(wire).encode()] * 50) + b"]",
        b"[NaN]",
        b'{"seq": Infinity}',
    ]
    rng.shuffle(payloads)
    return payloads


def _hostile_documents(genuine: dict[str, Any]) -> list[bytes]:
    """Telemetry, device status and state documents that must be refused."""
    documents: list[Any] = [
        *[{**genuine, "bd_seq": value} for value in _HOSTILE_NUMBERS],
        *[{**genuine, "online": value} for value in [1, "false", None]],
        {**genuine, "queue": {"waiting": 2**63}},
        {**genuine, "queue": {"mean_wait_s": float("nan")}},
        {**genuine, "deep": _deep(40)},
        {**genuine, "name\ud800": 1},
        {**genuine, "note": "a\x00b"},
        [genuine],
        "text",
        2**64,
        # In bounds, and the wrong shape for the overview's reading of telemetry.
        {"steps": 5},
        {"steps": {"check": 5}},
        {"steps": {"check": {"breaches": "many"}}},
        {"uplink": [], "blanks": "none", "devices": {"camera": 1}},
        {"devices": ["camera"], "uplink": {"backlog": {"x": 1}}},
    ]
    payloads = [json.dumps(document).encode() for document in documents]
    return [*payloads, b"\xff\xfe", b"{" * 5000, b"[" * 3000 + b"]" * 3000, b" " * 300_000]


async def test_hostile_payloads_on_every_topic_never_stop_the_collector(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ("s1",))
    register = fleet.register("s1")
    head = append_events(register, 5)
    wire = next(register.events()).to_wire()
    topics = StationTopics("s1")
    rng = random.Random(16)
    genuine_state = {"online": False, "bd_seq": 1}
    documents = _hostile_documents(genuine_state)
    hostile = [(topics.register, payload) for payload in _hostile_events(wire, rng)]
    hostile += [
        (topic, payload)
        for topic in (topics.state, topics.telemetry, topics.device("camera"))
        for payload in documents
    ]
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        async with running(collector.run(), "collector") as collecting:
            async with asyncio.timeout(10):
                await collector.connected.wait()
            async with aiomqtt.Client(
                broker.host,
                broker.port,
                username="s1",
                password=fleet.password("s1"),
                identifier="hostile-s1",
                protocol=aiomqtt.ProtocolVersion.V5,
            ) as attacker:
                for topic, payload in hostile:
                    await attacker.publish(topic, payload, qos=1)
                # Last, one of each topic with a fault of its own: once these are
                # flagged, every message before them was handled.
                the_end = {"the_end": 2**64}
                for topic in (topics.telemetry, topics.device("last")):
                    await attacker.publish(topic, json.dumps(the_end).encode(), qos=1)
                signed = sign_state(fleet.keys["s1"], "s1", online=True, bd_seq=1, **the_end)
                await attacker.publish(topics.state, signed, qos=1)
            async with asyncio.timeout(60):
                await collector.wait_until(
                    lambda: sum("the_end" in flag.detail for flag in store.flags("s1")) >= 3
                )
            assert not collecting.done()
            flags = store.flags("s1")
            assert {flag.kind for flag in flags} <= {
                "malformed",
                "bad_signature",
                "altered",
                "wrong_station",
            }
            # No state was taken (none was signed in bounds); what telemetry and device
            # status were kept are in bounds, and the overview still reads them.
            (view,) = store.overview()
            assert view.online is None
            rows = overview_rows([view], "id")
            assert rows[1][0] == "s1"
            # ...and the collector still does its work.
            uplink = fleet.uplink(register, broker)
            async with running(uplink.run(), "uplink"):
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)
            assert not collecting.done()
        stored = list(store.events("s1"))
    assert stored == list(register.events())
    assert_chain(stored, fleet.keys["s1"])


def test_the_overview_reads_any_telemetry_in_bounds() -> None:
    """Telemetry is not signed: the overview must read whatever shape passed its bounds."""
    shown = 0
    for payload in _hostile_documents({"online": False, "bd_seq": 1}):
        try:
            document = decode_document(payload, where="telemetry")
        except MalformedMessage:
            continue
        view = StationOverview(
            station="s1",
            head=0,
            stored_max=0,
            last_seen=None,
            online=None,
            bd_seq=None,
            telemetry=document,
            telemetry_at=None,
            devices={"camera": document},
            flags=0,
            last_flag=None,
        )
        rows = overview_rows([view], "en")
        assert rows[1][0] == "s1"
        shown += 1
    assert shown >= 5


# -- the decoders, directly ----------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_json = st.recursive(
    _json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=30,
)


def _dumped(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@settings(max_examples=300, deadline=None)
@given(_json)
def test_a_document_is_refused_or_within_bounds(value: Any) -> None:
    try:
        document = decode_document(_dumped(value), where="telemetry")
    except MalformedMessage:
        return
    # Whatever passes can be kept by any store: 64-bit integers, finite floats, UTF-8.
    text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    text.encode()
    for number in _numbers(document):
        assert -(2**63) <= number <= MAX_INT


def _numbers(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [value] if type(value) is int else []


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["online", "bd_seq", "head", "x"]), _json, max_size=4))
def test_a_state_is_refused_unless_signed_and_in_bounds(fields: dict[str, Any]) -> None:
    station_key = StationKey.generate()
    with contextlib.suppress(RejectedMessage):
        state = open_state(station_key.public_key, _dumped(fields), station="s1")
        pytest.fail(f"an unsigned state was taken: {state}")
    online, bd_seq = fields.get("online"), fields.get("bd_seq")
    try:
        payload = sign_state(
            station_key,
            "s1",
            online=online,  # type: ignore[arg-type]
            bd_seq=bd_seq,  # type: ignore[arg-type]
            head=fields.get("head"),
        )
    except (TypeError, ValueError):  # a float, NaN: nothing the station would sign
        return
    try:
        state = open_state(station_key.public_key, payload, station="s1")
    except RejectedMessage:
        return
    assert type(state.online) is bool
    assert 0 <= state.bd_seq <= MAX_INT


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=10), _json, max_size=12), max_size=3))
def test_register_messages_never_escape_the_check(items: list[dict[str, Any]]) -> None:
    key = StationKey.generate().public_key
    checked = check_message("s1", key, _dumped(items))
    assert checked.events == []
    for rejection in checked.rejections:
        assert rejection.seq is None or 0 < rejection.seq <= MAX_INT


def test_every_field_of_an_event_is_bounded(register: Register) -> None:
    append_events(register, 1)
    wire = next(register.events()).to_wire()
    public = StationKey.generate().public_key
    for payload in _hostile_events(wire, random.Random(7)):
        checked = check_message("s1", public, payload)
        assert checked.events == []
        for rejection in checked.rejections:
            assert rejection.seq is None or 0 < rejection.seq <= MAX_INT
