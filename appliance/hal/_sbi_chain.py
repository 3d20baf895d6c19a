"""The hash chain that ties an SBI capture's biometrics together.

The SBI specification (docs/biometrics/mds-specification.md, "hash" and "bio.previousHash")
defines each biometric's `hash` as SHA-256, in upper-case hex, of the previous hash
followed by the SHA-256 of the biometric's ISO record (for an Auth capture, the record
before encryption); the first capture's previous hash is the SHA-256 of the empty string,
and each later capture starts from the last hash of the one before. MockMDS computes it the
same way (SBIServiceResponse.getBiometricData): the 32 bytes of the previous hash (its hex
decoded; an empty previous hash counts as SHA-256 of "") then the record's 32-byte digest.
Inside one answer each biometric follows the one before it; an entry that failed carries
no hash, and the next one starts again from the empty string's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ._errors import DeviceFault

EMPTY_HASH: Final = hashlib.sha256(b"").hexdigest().upper()
"""SHA-256 of the empty string: the `previousHash` of the first capture of a chain."""


def chain_hash(previous: str, record: bytes) -> str:
    """The `hash` of `record` following `previous` (hex; empty: the chain's start)."""
    previous_digest = bytes.fromhex(previous) if previous else hashlib.sha256(b"").digest()
    return hashlib.sha256(previous_digest + hashlib.sha256(record).digest()).hexdigest().upper()


@dataclass(frozen=True, slots=True)
class Link:
    """One biometric of an answer as the chain sees it: its hash, and its record when the
    station can read it (None: failed, or sealed for someone else)."""

    chain_hash: str
    record: bytes | None
    failed: bool = False


def verify_chain(previous: str, links: Iterable[Link], *, device: str) -> str:
    """Check each link against the one before, starting from the request's `previous`;
    return the last hash, the next capture's `previousHash`."""
    for position, link in enumerate(links, start=1):
        if link.failed:
            previous = link.chain_hash  # empty: the next starts from the empty string's
            continue
        if link.record is not None:
            try:
                expected = chain_hash(previous, link.record)
            except ValueError:
                raise DeviceFault(device, "garbage", "previous hash is not hex") from None
            if link.chain_hash.upper() != expected:
                raise DeviceFault(
                    device,
                    "untrusted",
                    f"hash chain broken at biometric {position}: the record is not the one "
                    "the device chained",
                )
        previous = link.chain_hash.upper()
    return previous
