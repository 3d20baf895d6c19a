"""The collector's check of what a station sent: each event belongs to the station whose
topic it came on, its hash is the hash of its content, and its signature is the
station's. The chain (each event's link to the one before) is the store's to check,
since only the store knows the events before a message."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from appliance.register import Event, PublicKey

from ._errors import MalformedMessage
from ._wire import decode_events

MALFORMED: Final = "malformed"
WRONG_STATION: Final = "wrong_station"
ALTERED: Final = "altered"
BAD_SIGNATURE: Final = "bad_signature"


@dataclass(frozen=True, slots=True)
class Rejection:
    kind: str
    seq: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class CheckedMessage:
    station: str
    events: list[Event]
    """The events that passed, in the order sent."""
    rejections: list[Rejection]


def check_message(
    station: str, key: PublicKey, payload: bytes, *, every_signature: bool = True
) -> CheckedMessage:
    """Runs in a worker thread: libsodium releases the GIL while it verifies.

    With `every_signature` false, a run of events that link to each other (each one's
    `prev_hash` is the hash of the one before it in the message) is proven by the
    signature of its last event alone: that signature covers its hash, which covers the
    link to the one before, and so back to the first. Only when that signature fails is
    each event's own checked, to find which. The signatures of the other events are
    stored as sent, for an auditor to check. It is four to five times cheaper.
    """
    try:
        events = decode_events(payload)
    except MalformedMessage as exc:
        return CheckedMessage(station, [], [Rejection(MALFORMED, None, str(exc))])
    hashed: list[tuple[Event, bytes]] = []
    rejections: list[Rejection] = []
    for event in events:
        rejection, digest = _check_content(station, event)
        if rejection is None:
            hashed.append((event, digest))
        else:
            rejections.append(rejection)
    runs = [[item] for item in hashed] if every_signature else _linked_runs(hashed)
    good: list[Event] = []
    for run in runs:
        last, digest = run[-1]
        if len(run) > 1 and _signed(key, last, digest):
            good.extend(event for event, _ in run)
            continue
        for event, own in run:  # one by one: exactly which signatures fail
            if _signed(key, event, own):
                good.append(event)
            else:
                detail = "the signature is not this station's registered key's"
                rejections.append(Rejection(BAD_SIGNATURE, event.seq, detail))
    return CheckedMessage(station, good, rejections)


def _check_content(station: str, event: Event) -> tuple[Rejection | None, bytes]:
    if event.station != station:
        detail = f"an event of station {event.station!r} on {station!r}'s topic"
        return Rejection(WRONG_STATION, event.seq, detail), b""
    try:
        body = event.body()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") parses, and cannot be hashed
        return Rejection(MALFORMED, event.seq, "text that is not UTF-8"), b""
    digest = hashlib.sha256(body).digest()
    if digest.hex() != event.hash:
        return Rejection(ALTERED, event.seq, "the content does not match its hash"), b""
    return None, digest


def _signed(key: PublicKey, event: Event, digest: bytes) -> bool:
    return key.verify(digest, bytes.fromhex(event.sig))


def _linked_runs(hashed: list[tuple[Event, bytes]]) -> list[list[tuple[Event, bytes]]]:
    runs: list[list[tuple[Event, bytes]]] = []
    for item in hashed:
        event = item[0]
        previous = runs[-1][-1][0] if runs else None
        if previous and previous.hash == event.prev_hash and previous.seq + 1 == event.seq:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def check_messages(
    items: Sequence[tuple[str, PublicKey, bytes]], *, every_signature: bool = True
) -> list[CheckedMessage]:
    return [
        check_message(station, key, payload, every_signature=every_signature)
        for station, key, payload in items
    ]


WireItem = tuple[str, bytes, bytes]
"""What a check process is handed per message: station, the key's 32 raw bytes, payload."""
WireResult = tuple[str, list[tuple[Any, ...]], list[tuple[str, int | None, str]]]
"""What it hands back: station, the good events as rows without their station (seq, ts,
mono_ns, boot_id, clock_synced, type, app, data_json, prev_hash, hash, sig), rejections."""


def check_wire(items: Sequence[WireItem], *, every_signature: bool) -> list[WireResult]:
    """`check_messages` in a check process: plain tuples in and out, because pickling
    them costs a fifth of pickling Event and Rejection objects, and the collector's own
    process, which unpickles them, is the one with the least time to spare."""
    results: list[WireResult] = []
    for station, raw_key, payload in items:
        key = PublicKey(raw_key)
        checked = check_message(station, key, payload, every_signature=every_signature)
        rows = [
            (
                e.seq,
                e.ts,
                e.mono_ns,
                e.boot_id,
                e.clock_synced,
                e.type,
                e.app,
                e.data_json,
                e.prev_hash,
                e.hash,
                e.sig,
            )
            for e in checked.events
        ]
        rejections = [(r.kind, r.seq, r.detail) for r in checked.rejections]
        results.append((station, rows, rejections))
    return results


def from_wire(result: WireResult) -> CheckedMessage:
    """A check process's result as the store takes it."""
    station, rows, rejections = result
    return CheckedMessage(
        station,
        [Event(station, *row) for row in rows],
        [Rejection(kind, seq, detail) for kind, seq, detail in rejections],
    )
