"""What the central office sends a station (`ack`, `cmd/{name}`) is signed with the
central office's Ed25519 key.

The broker's ACL already keeps other stations off these topics; the signature also keeps
off anyone who gets hold of the broker, because an `ack` tells the station what it may
stop sending, and a command makes it act. A signed message names its station and its
kind, so a genuine message cannot be replayed on another station or as another command.
Commands are idempotent (`resend` from a seq), so a replay on the same station is
harmless and no nonce is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from appliance.register import PublicKey, StationKey
from appliance.register._canonical import CANONICAL_ENCODER

# Separates these signatures from the register's (which sign a bare SHA-256 digest).
_DOMAIN: Final = b"ktpel/v1 central\n"
ACK: Final = "ack"
MAX_MESSAGE_BYTES: Final = 4096
RESEND: Final = "resend"


class RejectedMessage(ValueError):
    """A message from the centre that is malformed, unsigned or signed by another key."""


@dataclass(frozen=True, slots=True)
class CentralMessage:
    station: str
    kind: str
    """`ack` or a command's name."""
    args: dict[str, Any]


def _signed_bytes(station: str, kind: str, args: dict[str, Any]) -> bytes:
    body = {"station": station, "kind": kind, **args}
    return _DOMAIN + CANONICAL_ENCODER.encode(body).encode()


def sign_message(key: StationKey, message: CentralMessage) -> bytes:
    """The payload the centre publishes: the arguments, the binding, and the signature."""
    signature = key.sign(_signed_bytes(message.station, message.kind, message.args)).hex()
    return CANONICAL_ENCODER.encode(
        {**message.args, "station": message.station, "kind": message.kind, "sig": signature}
    ).encode()


def open_message(key: PublicKey, payload: bytes, *, station: str, kind: str) -> dict[str, Any]:
    """The arguments of a message for `station` of `kind`, once its signature holds."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise RejectedMessage(f"{len(payload)} bytes; a message from the centre is small")
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, an integer of 5,000 digits, deep nesting
        raise RejectedMessage("not JSON") from None
    if not isinstance(document, dict):
        raise RejectedMessage("not a JSON object")
    signature = document.pop("sig", None)
    if not isinstance(signature, str):
        raise RejectedMessage("unsigned")
    if document.pop("station", None) != station or document.pop("kind", None) != kind:
        raise RejectedMessage(f"not addressed to station {station!r} as {kind!r}")
    try:
        signed = _signed_bytes(station, kind, document)
        valid = key.verify(signed, bytes.fromhex(signature))
    except ValueError:  # a float in the arguments, or a signature that is not hex
        valid = False
    if not valid:
        raise RejectedMessage("the signature is not the central office's")
    return document


def count_arg(args: dict[str, Any], name: str, *, minimum: int) -> int:
    """An integer argument, refused unless present, an int (not a bool) and >= minimum."""
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RejectedMessage(f"{name!r} must be an integer >= {minimum}")
    return value
