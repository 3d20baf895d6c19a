"""Register events on the `register` topic: a JSON array of events, each in the form of
`Event.to_wire()` (the export's form too).

Encoding splices each event's stored canonical payload into the message instead of
parsing and re-encoding it: a drain of a long backlog spends its time on the link, not
here. Decoding is strict about every field's type, because the other side of the topic
is a network: a message that is not exactly a list of events is refused whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from appliance.register import Event, Register
from appliance.register._canonical import CANONICAL_ENCODER

from ._bounds import MAX_INT, is_count
from ._errors import MalformedMessage

_string = CANONICAL_ENCODER.encode
_HEX: Final = re.compile(r"[0-9a-f]+")
_FIELDS: Final = frozenset(
    {
        "station",
        "seq",
        "ts",
        "mono_ns",
        "boot_id",
        "clock_synced",
        "type",
        "app",
        "data",
        "prev_hash",
        "hash",
        "sig",
    }
)


def encode_event(event: Event) -> str:
    app = "null" if event.app is None else _string(event.app)
    return (
        f'{{"station":{_string(event.station)},"seq":{event.seq:d},"ts":{_string(event.ts)},'
        f'"mono_ns":{event.mono_ns:d},"boot_id":{_string(event.boot_id)},'
        f'"clock_synced":{"true" if event.clock_synced else "false"},'
        f'"type":{_string(event.type)},"app":{app},"data":{event.data_json},'
        f'"prev_hash":"{event.prev_hash}","hash":"{event.hash}","sig":"{event.sig}"}}'
    )


def encode_events(encoded: Iterable[str]) -> bytes:
    """One `register` message from events already passed through `encode_event`."""
    return ("[" + ",".join(encoded) + "]").encode()


@dataclass(frozen=True, slots=True)
class Batch:
    """One `register` message: events `first` to `last`, encoded."""

    first: int
    last: int
    payload: bytes


def read_batch(register: Register, first: int, *, max_events: int, max_bytes: int) -> Batch | None:
    """The events from `first` on, as many as fit in `max_events` and `max_bytes` (one
    at least); None when there is none yet."""
    encoded: list[str] = []
    size = 2
    last = first - 1
    for event in register.events(after=first - 1, limit=max_events):
        text = encode_event(event)
        if encoded and size + len(text) + 1 > max_bytes:
            break
        encoded.append(text)
        size += len(text) + 1
        last = event.seq
    if not encoded:
        return None
    return Batch(first=first, last=last, payload=encode_events(encoded))


def decode_events(payload: bytes) -> list[Event]:
    """The events of one `register` message, in the order sent.

    Each event's payload is re-encoded canonically, which gives back the exact bytes the
    station hashed; a payload that was altered, or is not canonical (a float), then fails
    its hash, not this function.
    """
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # also a huge integer, deep nesting
        raise MalformedMessage(f"not JSON: {type(exc).__name__}") from None
    items = [document] if isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise MalformedMessage("not an event or a non-empty list of events")
    return [_event(item, index) for index, item in enumerate(items)]


def _event(item: Any, index: int) -> Event:
    # One pass of plain comparisons for the common, well-formed event; the itemised
    # diagnosis is built only for a bad one. A drain checks hundreds of thousands.
    if type(item) is not dict or item.keys() != _FIELDS:
        raise MalformedMessage(f"[{index}]: {_shape_problem(item)}")
    seq, mono_ns, app, data = item["seq"], item["mono_ns"], item["app"], item["data"]
    if not (
        type(seq) is int
        and 0 < seq <= MAX_INT
        and type(mono_ns) is int
        and 0 <= mono_ns <= MAX_INT
        and type(item["clock_synced"]) is bool
        and (app is None or type(app) is str)
        and type(data) is dict
        and type(item["station"]) is str
        and type(item["ts"]) is str
        and type(item["boot_id"]) is str
        and type(item["type"]) is str
        and _hex(item["prev_hash"], 64)
        and _hex(item["hash"], 64)
        and _hex(item["sig"], 128)
    ):
        raise MalformedMessage(f"[{index}]: bad {', '.join(_field_problems(item))}")
    try:
        data_json = CANONICAL_ENCODER.encode(data)
    except (ValueError, RecursionError) as exc:  # NaN or infinity, deep nesting
        raise MalformedMessage(f"[{index}]: data: {type(exc).__name__}") from None
    return Event(
        station=item["station"],
        seq=seq,
        ts=item["ts"],
        mono_ns=mono_ns,
        boot_id=item["boot_id"],
        clock_synced=item["clock_synced"],
        type=item["type"],
        app=app,
        data_json=data_json,
        prev_hash=item["prev_hash"],
        hash=item["hash"],
        sig=item["sig"],
    )


def _shape_problem(item: object) -> str:
    if not isinstance(item, dict):
        return "not an object"
    missing = sorted(_FIELDS - item.keys())
    extra = sorted(item.keys() - _FIELDS)
    # The unknown names come from the network: a few, shortened, are enough to say what.
    shown = [name[:32] for name in extra[:5]]
    return f"missing fields {missing}, {len(extra)} unknown fields {shown}"


def _field_problems(item: dict[str, Any]) -> list[str]:
    app = item["app"]
    checks = {
        "seq": is_count(item["seq"], minimum=1),
        "mono_ns": is_count(item["mono_ns"]),
        "clock_synced": isinstance(item["clock_synced"], bool),
        "app": app is None or isinstance(app, str),
        "data": isinstance(item["data"], dict),
        **{name: isinstance(item[name], str) for name in ("station", "ts", "boot_id", "type")},
        "prev_hash": _hex(item["prev_hash"], 64),
        "hash": _hex(item["hash"], 64),
        "sig": _hex(item["sig"], 128),
    }
    return [name for name, ok in checks.items() if not ok]


def _hex(value: object, length: int) -> bool:
    return type(value) is str and len(value) == length and _HEX.fullmatch(value) is not None
