"""The collector's check of what a station sent: each event belongs to the station whose
topic it came on, its hash is the hash of its content, and its signature is the
station's. The chain (each event's link to the one before) is the store's to check,
since only the store knows the events before a message."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from appliance.register import Event, PublicKey

from ._wire import MalformedMessage, decode_events

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


def check_message(station: str, key: PublicKey, payload: bytes) -> CheckedMessage:
    """Runs in a worker thread: libsodium releases the GIL while it verifies."""
    try:
        events = decode_events(payload)
    except MalformedMessage as exc:
        return CheckedMessage(station, [], [Rejection(MALFORMED, None, str(exc))])
    good: list[Event] = []
    rejections: list[Rejection] = []
    for event in events:
        rejection = _check(station, key, event)
        if rejection is None:
            good.append(event)
        else:
            rejections.append(rejection)
    return CheckedMessage(station, good, rejections)


def _check(station: str, key: PublicKey, event: Event) -> Rejection | None:
    if event.station != station:
        return Rejection(
            WRONG_STATION,
            event.seq,
            f"an event of station {event.station!r} on {station!r}'s topic",
        )
    digest = hashlib.sha256(event.body()).digest()
    if digest.hex() != event.hash:
        return Rejection(ALTERED, event.seq, "the content does not match its hash")
    if not key.verify(digest, bytes.fromhex(event.sig)):
        return Rejection(
            BAD_SIGNATURE, event.seq, "the signature is not this station's registered key's"
        )
    return None


def check_messages(items: Sequence[tuple[str, PublicKey, bytes]]) -> list[CheckedMessage]:
    return [check_message(station, key, payload) for station, key, payload in items]
