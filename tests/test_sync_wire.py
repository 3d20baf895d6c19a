"""The `register` topic's messages: what the station encodes decodes to the same events,
and anything else is refused whole, naming what is wrong."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.register import Event, Register
from appliance.sync import MalformedMessage, decode_events, encode_event, encode_events
from tests.sync_rig import append_events


@pytest.fixture
def events(register: Register) -> list[Event]:
    append_events(register, 3)
    register.append("blank.received", {"count": 2, "reference": "BAST/Ü-ß 🙂"})
    return list(register.events())


def test_encoded_events_decode_to_themselves(events: list[Event]) -> None:
    payload = encode_events(encode_event(event) for event in events)
    assert decode_events(payload) == events
    assert json.loads(payload) == [event.to_wire() for event in events]
    # A single object is one event.
    assert decode_events(encode_event(events[0]).encode()) == events[:1]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 0),
        ("seq", True),
        ("seq", "1"),
        ("seq", 2**63),  # past SQLite's INTEGER and PostgreSQL's BIGINT (issue 16, defect 7)
        ("mono_ns", -1),
        ("mono_ns", 2**63),
        ("clock_synced", 1),
        ("app", 7),
        ("data", []),
        ("station", None),
        ("ts", 5),
        ("type", None),
        ("prev_hash", "AB" * 32),
        ("hash", "ab" * 31),
        ("sig", "zz" * 64),
    ],
)
def test_a_bad_field_is_named(events: list[Event], field: str, value: object) -> None:
    wire: dict[str, Any] = events[1].to_wire()
    wire[field] = value
    payload = json.dumps([events[0].to_wire(), wire]).encode()
    with pytest.raises(MalformedMessage, match=rf"^\[1\]: bad .*\b{field}\b"):
        decode_events(payload)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[]", "non-empty list"),
        (b'"text"', "non-empty list"),
        (b"[1]", r"\[0\]: not an object"),
        (b'[{"seq": 1}]', r"\[0\]: missing fields"),
        (b'{"NaN": NaN}', "missing fields"),
        (b"[" * 3000 + b"]" * 3000, "not JSON: RecursionError"),
        (b'[{"seq": ' + b"9" * 5000 + b"}]", "not JSON: ValueError"),
    ],
)
def test_a_message_that_is_not_events_is_refused(payload: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        decode_events(payload)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_escapes_as_another_error(payload: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        decode_events(payload)


def test_a_payload_with_nan_is_refused(events: list[Event]) -> None:
    text = encode_event(events[0]).replace('"data":{', '"data":{"x":NaN,', 1)
    with pytest.raises(MalformedMessage, match="data"):
        decode_events(text.encode())
