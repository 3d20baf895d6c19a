"""Messages outside the register that carry a signature: what the central office sends a
station (`ack`, `cmd/{name}`), signed with the central office's Ed25519 key, and what a
station says of its sessions on `state` (birth, death), signed with the station's own.

The broker's ACL already keeps other stations off these topics; the signature also keeps
off anyone who gets hold of the broker or of one station's MQTT password: an `ack` tells
the station what it may stop sending, a command makes it act, and a state message tells
the operations room whether a station is up. A signed message names its station and its
kind, and each signer has its own domain prefix, so a genuine message cannot be replayed
on another station, as another kind, or as the other side's. `ack` and `resend` are
idempotent and a state message is ordered by its `bd_seq`, so they carry no nonce; a
`doctor` request carries its own id and time, which the station judges
(`_doctor_request.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from appliance.register import PublicKey, StationKey
from appliance.register._canonical import CANONICAL_ENCODER

from ._bounds import MAX_INT, check_figures, is_count
from ._errors import MalformedMessage, RejectedMessage

# Separate these signatures from each other and from the register's (which sign a bare
# SHA-256 digest).
FROM_CENTRAL: Final = b"ktpel/v1 central\n"
FROM_STATION: Final = b"ktpel/v1 station\n"
ACK: Final = "ack"
DOCTOR: Final = "doctor"
"""The command asking a station for its check-up (`appliance doctor`), once per request."""
MAX_MESSAGE_BYTES: Final = 4096
RESEND: Final = "resend"
STATE: Final = "state"


@dataclass(frozen=True, slots=True)
class CentralMessage:
    station: str
    kind: str
    """`ack` or a command's name."""
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StationState:
    """A station's birth (`online`) or death message, its signature checked."""

    online: bool
    bd_seq: int
    document: dict[str, Any]
    """Everything the station said, as it said it (the signature included)."""


def _signed_bytes(domain: bytes, station: str, kind: str, args: dict[str, Any]) -> bytes:
    body = {"station": station, "kind": kind, **args}
    return domain + CANONICAL_ENCODER.encode(body).encode()


def sign_message(
    key: StationKey, message: CentralMessage, *, domain: bytes = FROM_CENTRAL
) -> bytes:
    """The payload to publish: the arguments, the binding, and the signature."""
    signed = _signed_bytes(domain, message.station, message.kind, message.args)
    return CANONICAL_ENCODER.encode(
        {
            **message.args,
            "station": message.station,
            "kind": message.kind,
            "sig": key.sign(signed).hex(),
        }
    ).encode()


def open_message(
    key: PublicKey, payload: bytes, *, station: str, kind: str, domain: bytes = FROM_CENTRAL
) -> dict[str, Any]:
    """The arguments of a message for `station` of `kind`, once its signature holds."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise RejectedMessage(f"{len(payload)} bytes; a signed message is small")
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, an integer of 5,000 digits, deep nesting
        raise RejectedMessage("not JSON") from None
    if not isinstance(document, dict):
        raise RejectedMessage("not a JSON object")
    signature = document.pop("sig", None)
    if not isinstance(signature, str):
        raise RejectedMessage("unsigned", forged=True)
    if document.pop("station", None) != station or document.pop("kind", None) != kind:
        raise RejectedMessage(f"not addressed to station {station!r} as {kind!r}", forged=True)
    try:
        signed = _signed_bytes(domain, station, kind, document)
        valid = key.verify(signed, bytes.fromhex(signature))
    except ValueError:  # a float in the arguments, or a signature that is not hex
        valid = False
    if not valid:
        raise RejectedMessage("the signature is not the signer's registered key's", forged=True)
    return document


def count_arg(args: dict[str, Any], name: str, *, minimum: int) -> int:
    """An integer argument, refused unless present, an int (not a bool) and within
    [minimum, MAX_INT]: a store keeps 64 bits."""
    value = args.get(name)
    if not is_count(value, minimum=minimum):
        raise RejectedMessage(f"{name!r} must be an integer from {minimum} to {MAX_INT}")
    assert isinstance(value, int)
    return value


def sign_state(key: StationKey, station: str, *, online: bool, bd_seq: int, **facts: Any) -> bytes:
    """A birth (`online`, with `facts` such as the boot id and the acked seq) or a death.

    A death is also the session's Last Will, which the broker publishes when the
    connection is lost: it can be signed in advance because it says nothing but its
    `bd_seq`, which is fixed when the session opens.
    """
    args = {**facts, "online": online, "bd_seq": bd_seq}
    return sign_message(key, CentralMessage(station, STATE, args), domain=FROM_STATION)


def open_state(key: PublicKey, payload: bytes, *, station: str) -> StationState:
    """A state message of `station`, signed by `key`, with its figures in bounds.

    Raises RejectedMessage (`forged` when it is well formed but not the station's own).
    """
    args = open_message(key, payload, station=station, kind=STATE, domain=FROM_STATION)
    online, bd_seq = args.get("online"), args.get("bd_seq")
    if type(online) is not bool:
        raise RejectedMessage("'online' must be true or false")
    bd_seq = count_arg(args, "bd_seq", minimum=0)
    try:
        check_figures(args, where="")  # the caller names the topic
    except MalformedMessage as exc:
        raise RejectedMessage(str(exc)) from None
    document = json.loads(payload)
    return StationState(online=online, bd_seq=bd_seq, document=document)
