"""The chip's keys: three master keys in the station's key store, and what each card gets
from them.

- **Transport master**: each blank's transport key is derived from it and the card's
  serial. It is shared with the blanks' maker, who loads every blank with its own derived
  key; the station needs it to open a blank for personalisation, no one else does.
- **Reader master** (the DG3 key): each card's reader key is derived from it and the
  serial. Any reader that must see fingerprints (this station's activation desk; in the
  KTP-el's model, the SAM in every authorised reader) holds this master, never a card's
  key alone.
- **CAN master**: each card's card access number, the 6 digits printed on its face, is
  derived from it and the serial. The station can give a card's CAN again (to verify,
  activate or reprint it) without storing any, and nothing that leaves the station (the
  register, the uplink, the logs) ever holds one. It stays on the station: a reader that
  had it could open any card it can reach without seeing its face.

Derivation is NIST SP 800-108 in counter mode with AES-CMAC as the PRF (`cryptography`'s
KBKDFCMAC), keyed by the 32-byte master, with a label per purpose and the card's serial as
the context. A CAN is the derived 128-bit number modulo 10^6 (the bias, below 2^-100, is
nothing). Master files are 32 random bytes, 0600, created by `appliance keys init` and
never overwritten (`appliance._secrets`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

from appliance._secrets import SecretFileError, read_secret_file, write_secret_file

MASTER_BYTES: Final = 32
CARD_KEY_BYTES: Final = 16
CAN_DIGITS: Final = 6
TRANSPORT_LABEL: Final = b"KTP-el transport key"
READER_LABEL: Final = b"KTP-el reader key"
CAN_LABEL: Final = b"KTP-el card access number"


def diversify(master: bytes, label: bytes, serial: str, *, length: int = CARD_KEY_BYTES) -> bytes:
    """SP 800-108 counter-mode KDF with AES-CMAC: `length` bytes for the card `serial`."""
    if not serial:
        raise ValueError("a card key needs the card's serial")
    kdf = KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=length,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=label,
        context=serial.encode("utf-8"),
        fixed=None,
    )
    return kdf.derive(master)


@dataclass(frozen=True, slots=True)
class CardSecrets:
    """One card's keys and card access number."""

    transport_key: bytes
    reader_key: bytes
    can: str

    def __repr__(self) -> str:
        return "CardSecrets(<secret>)"


@dataclass(frozen=True, slots=True)
class CardKeys:
    """The three master keys, loaded."""

    transport: bytes
    reader: bytes
    can: bytes

    @classmethod
    def load(cls, paths: tuple[Path, Path, Path]) -> CardKeys:
        """From the files of the transport, reader and CAN masters, in that order."""
        transport, reader, can = (_master(path) for path in paths)
        return cls(transport=transport, reader=reader, can=can)

    @staticmethod
    def create(paths: tuple[Path, Path, Path]) -> None:
        """Write three new master keys (refused if any exists)."""
        for path in paths:
            write_secret_file(path, os.urandom(MASTER_BYTES))

    @classmethod
    def generate(cls) -> CardKeys:
        """Masters that live in memory only: for tests and the simulator."""
        return cls(*(os.urandom(MASTER_BYTES) for _ in range(3)))

    def for_card(self, serial: str) -> CardSecrets:
        number = int.from_bytes(diversify(self.can, CAN_LABEL, serial), "big")
        return CardSecrets(
            transport_key=diversify(self.transport, TRANSPORT_LABEL, serial),
            reader_key=diversify(self.reader, READER_LABEL, serial),
            can=f"{number % 10**CAN_DIGITS:0{CAN_DIGITS}d}",
        )

    def __repr__(self) -> str:
        return "CardKeys(<secret>)"


def load_transport_master(path: Path) -> bytes:
    """The transport master alone: what the blanks' maker holds."""
    return _master(path)


def _master(path: Path) -> bytes:
    master = read_secret_file(path)
    if len(master) != MASTER_BYTES:
        raise SecretFileError(f"{path}: a card master key is {MASTER_BYTES} bytes")
    return master
