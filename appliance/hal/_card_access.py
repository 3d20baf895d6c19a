"""Who may do what on the chip: the access rules written into each file, the keys that
open them, and the commands that present those keys.

The card's life cycle (ISO/IEC 7816-4, life cycle status byte, tag 8A; ISO/IEC 7816-9
ACTIVATE FILE):

- a blank leaves its maker in the *initialisation* state (8A 03) with one secret, its
  transport key. Until it is activated only a reader that proves that key (MUTUAL
  AUTHENTICATE, below) may create files, write them, read them, or set reference data;
  everyone else may only read what is free to all (EF.GDO, EF.CardAccess);
- personalisation ends with ACTIVATE FILE on the MF: the card is *operational* (8A 05)
  and from then on each file's own security attributes (tag 8C, written with it) are the
  law, and the transport key opens nothing. The station writes every file with UPDATE
  "never": nothing on an issued chip can be written by anyone.

Security attributes in compact format (ISO/IEC 7816-4, tag 8C): an access mode byte whose
bits name the commands, then one security condition byte per bit set, from b7 down to b1.
For a transparent EF: b2 UPDATE BINARY, b1 READ BINARY; for a DF: b7 DELETE FILE (the DF
itself), b3 CREATE FILE (DF), b2 CREATE FILE (EF). A condition byte is 00 (always), FF
(never), or the conditions that must hold: b7 secure messaging, b6 external (or mutual)
authentication, and b4-b1 the number of the security environment that says with what.
This card's environments: SE 1, secure messaging established by PACE (the CAN); SE 2,
that and then MUTUAL AUTHENTICATE with the reader key inside it.

Mutual authentication (GET CHALLENGE, then MUTUAL AUTHENTICATE `00 82 00 <key>`) is the
BAC protocol of ICAO Doc 9303-11 §4.3 (ISO/IEC 11770-2 key establishment mechanism 6)
with AES-128 in place of 3DES: 16-byte challenges and key halves, S = RND.IFD ‖ RND.IC ‖
K.IFD encrypted AES-CBC (zero IV) under KDF(K, 1) and MACed by AES-CMAC (8 bytes) under
KDF(K, 2); the card answers RND.IC ‖ RND.IFD ‖ K.IC the same way, and the session keys are
KDF(K.IFD ⊕ K.IC, 1 | 2), SSC 0. Done inside a PACE session, its answer is still protected
by PACE's keys and the session goes on under the new ones.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Final

from ._apdu import Command, StatusWord
from ._iso7816 import MF
from ._secure_messaging import (
    BLOCK,
    KDF_ENC,
    KDF_MAC,
    MAC_BYTES,
    SecureMessagingError,
    Send,
    SessionKeys,
    decrypt,
    encrypt,
    kdf,
    mac,
)

# Life cycle status (ISO/IEC 7816-4, tag 8A).
INITIALISATION: Final = 0x03
OPERATIONAL: Final = 0x05

# Security condition bytes (compact format).
ALWAYS: Final = 0x00
NEVER: Final = 0xFF
SE_PACE: Final = 1
SE_READER_KEY: Final = 2
SC_SECURE_MESSAGING: Final = 0x40
SC_AUTHENTICATION: Final = 0x20
SC_ALL: Final = 0x80
PACE_ONLY: Final = SC_SECURE_MESSAGING | SE_PACE
READER_KEY: Final = SC_ALL | SC_SECURE_MESSAGING | SC_AUTHENTICATION | SE_READER_KEY

# Access mode bytes.
EF_UPDATE_READ: Final = 0x03  # b2 UPDATE BINARY, b1 READ BINARY
DF_DELETE_CREATE: Final = 0x46  # b7 DELETE FILE (self), b3 CREATE DF, b2 CREATE EF

# Key references (this card's; ISO/IEC 7816-4 leaves them to the card). The CAN's is the
# one PACE names in MSE:Set AT (9303-11 §4.4.4.1).
TRANSPORT_KEY: Final = 0x0F
READER_KEY_REFERENCE: Final = 0x0A
CAN_REFERENCE: Final = 0x02

KEY_BYTES: Final = 16
CHALLENGE_BYTES: Final = 16
_CRYPTOGRAM: Final = 3 * BLOCK


def ef_security(*, read: int) -> bytes:
    """Tag 8C's value for a transparent EF: never written, read under `read`."""
    return bytes((EF_UPDATE_READ, NEVER, read))


def df_security() -> bytes:
    """Tag 8C's value for the application DF: nothing created in it or deleted, ever."""
    return bytes((DF_DELETE_CREATE, NEVER, NEVER, NEVER))


class AccessDenied(SecureMessagingError):
    """The card did not accept a key: the wrong key, or one it no longer uses."""

    def __init__(self, detail: str, *, sw: int | None = None) -> None:
        self.sw = sw
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class PersonalisationKeys:
    """What personalising one card takes: its transport key (to open the blank), and
    what it will hold: its card access number and its reader key."""

    transport_key: bytes
    can: str
    reader_key: bytes

    def __post_init__(self) -> None:
        check_can(self.can)
        for key in (self.transport_key, self.reader_key):
            if len(key) != KEY_BYTES:
                raise ValueError(f"a card key is {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return "PersonalisationKeys(<secret>)"


@dataclass(frozen=True, slots=True)
class AccessKeys:
    """What reading an issued card takes: its CAN, and its reader key for the files
    behind it (None: a reader without it, which reads the others only)."""

    can: str
    reader_key: bytes | None = None

    def __post_init__(self) -> None:
        check_can(self.can)
        if self.reader_key is not None and len(self.reader_key) != KEY_BYTES:
            raise ValueError(f"a card key is {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return "AccessKeys(<secret>)"


def check_can(can: str) -> None:
    if len(can) != 6 or not can.isascii() or not can.isdigit():
        raise ValueError("a card access number is 6 digits")


# ---------------------------------------------------------------- the commands


def get_challenge() -> Command:
    return Command(0x00, 0x84, 0x00, 0x00, le=CHALLENGE_BYTES)


def mutual_authenticate_command(reference: int, data: bytes) -> Command:
    return Command(0x00, 0x82, 0x00, reference, data, le=_CRYPTOGRAM + MAC_BYTES)


def change_reference_data(reference: int, value: bytes) -> Command:
    """CHANGE REFERENCE DATA with P1 01: the new reference data alone (ISO/IEC 7816-4)."""
    return Command(0x00, 0x24, 0x01, reference, value)


def activate_file(fid: int = MF) -> Command:
    """ACTIVATE FILE (ISO/IEC 7816-9) on the file `fid`, selected as by SELECT P1 00."""
    return Command(0x00, 0x44, 0x00, 0x00, fid.to_bytes(2, "big"))


# ---------------------------------------------------------------- mutual authentication


def authentication_keys(key: bytes) -> tuple[bytes, bytes]:
    return kdf(key, KDF_ENC), kdf(key, KDF_MAC)


def seal(key: bytes, plain: bytes) -> bytes:
    """E ‖ M: the cryptogram of a mutual authentication and its MAC."""
    enc, mac_key = authentication_keys(key)
    cryptogram = encrypt(enc, bytes(BLOCK), plain)
    return cryptogram + mac(mac_key, cryptogram)


def unseal(key: bytes, sealed: bytes) -> bytes | None:
    """The plain text of E ‖ M, or None if the MAC does not verify."""
    if len(sealed) != _CRYPTOGRAM + MAC_BYTES:
        return None
    enc, mac_key = authentication_keys(key)
    cryptogram, tag = sealed[:_CRYPTOGRAM], sealed[_CRYPTOGRAM:]
    if not secrets.compare_digest(mac(mac_key, cryptogram), tag):
        return None
    return decrypt(enc, bytes(BLOCK), cryptogram)


def authenticate(send: Send, key: bytes, reference: int) -> SessionKeys:
    """Prove `key` to the card, and have the card prove it back; the session keys agreed.
    AccessDenied if the card refuses the key or answers with another."""
    challenge = send(get_challenge())
    if not challenge.ok or len(challenge.data) != CHALLENGE_BYTES:
        raise AccessDenied(f"GET CHALLENGE refused: {challenge.sw:04X}", sw=challenge.sw)
    rnd_ifd, k_ifd = os.urandom(CHALLENGE_BYTES), os.urandom(KEY_BYTES)
    answer = send(
        mutual_authenticate_command(reference, seal(key, rnd_ifd + challenge.data + k_ifd))
    )
    if answer.sw != StatusWord.OK:
        raise AccessDenied(f"MUTUAL AUTHENTICATE refused: {answer.sw:04X}", sw=answer.sw)
    plain = unseal(key, answer.data)
    if plain is None or plain[:BLOCK] != challenge.data or plain[BLOCK : 2 * BLOCK] != rnd_ifd:
        raise AccessDenied("the card's answer to MUTUAL AUTHENTICATE does not verify")
    k_ic = plain[2 * BLOCK :]
    return SessionKeys.from_secret(bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True)))
