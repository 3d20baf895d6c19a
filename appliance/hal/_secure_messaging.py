"""Secure messaging with AES-128 (ICAO Doc 9303-11 §9.8), the reader's side, and the
primitives the card's side shares.

Once PACE or a mutual authentication has agreed session keys, every command goes
protected: its data encrypted (AES-CBC, the IV being the send sequence counter encrypted
with K_enc, §9.8.6.1) in DO'87' (even INS, with the padding-content indicator 01) or
DO'85' (odd INS, whose data is itself BER-TLV), the expected length in DO'97', and an
8-byte AES-CMAC (§9.8.6.2) over SSC ‖ the masked, padded header ‖ those objects, in
DO'8E'. The SSC, 16 bytes, starts at zero and counts up before each command and each
response, so a command replayed, dropped or reordered fails the card's MAC check. The
card answers DO'87'/'85' (data), DO'99' (its status word) and DO'8E' (the MAC over
SSC ‖ those); a response whose MAC does not verify is refused, never read.

Padding is ISO/IEC 9797-1 method 2 (80 then 00s to the block), for the MAC input and the
encrypted data alike. Keys come from the 9303-11 KDF (§9.7.1): for AES-128, the first 16
bytes of SHA-1(K ‖ counter), counter 1 for K_enc, 2 for K_mac, 3 for PACE's K_π.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from ._apdu import MAX_EXTENDED_LE, MAX_SHORT_LE, ApduError, Command, Response, StatusWord
from ._iso7816 import tlv, tlv_items

BLOCK: Final = 16
MAC_BYTES: Final = 8
KDF_ENC: Final = 1
KDF_MAC: Final = 2
KDF_PI: Final = 3
SM_CLA: Final = 0x0C  # CLA bits: secure messaging, header authenticated (7816-4 §5.4.1)
DO_ENCRYPTED_ODD: Final = 0x85
DO_ENCRYPTED: Final = 0x87
DO_LE: Final = 0x97
DO_STATUS: Final = 0x99
DO_MAC: Final = 0x8E
SW_SM_MISSING: Final = StatusWord.SM_OBJECTS_MISSING
SW_SM_WRONG: Final = StatusWord.SM_OBJECTS_INCORRECT
# The most plain data one protected APDU carries on a link of short APDUs: a command's
# 87 81 L 01 ‖ cryptogram ‖ 8E 08 MAC within Lc 255; an answer's 87 81 L 01 ‖ cryptogram
# ‖ 99 02 SW ‖ 8E 08 MAC within 256 bytes (padding always adds 1 to 16 bytes).
SHORT_WRITE: Final = 239
SHORT_READ: Final = 223


Send = Callable[[Command], Response]
"""One command to the card and its whole answer."""


class SecureMessagingError(ApduError):
    """A protected answer that does not verify, or a card that dropped secure messaging."""


def kdf(secret: bytes, counter: int) -> bytes:
    """ICAO 9303-11 §9.7.1 for AES-128: SHA-1(secret ‖ counter as 32 bits), 16 bytes."""
    return hashlib.sha1(secret + counter.to_bytes(4, "big")).digest()[:BLOCK]  # noqa: S324 - ICAO's KDF


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2."""
    data += b"\x80"
    return data + bytes(-len(data) % BLOCK)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) % BLOCK:
        raise SecureMessagingError("the decrypted data is not padded by ISO/IEC 9797-1 method 2")
    return stripped[:-1]


def mac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) cut to 8 bytes, as 9303-11 uses it."""
    signer = CMAC(algorithms.AES(key))
    signer.update(data)
    return signer.finalize()[:MAC_BYTES]


def encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    if not data or len(data) % BLOCK:
        raise SecureMessagingError(f"a cryptogram of {len(data)} bytes is not whole blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def le_object(le: int) -> bytes:
    """DO'97': Le in one byte (256 as 00) or two (65536 as 0000)."""
    size = 1 if le <= MAX_SHORT_LE else 2
    return tlv(DO_LE, (le % (MAX_SHORT_LE if size == 1 else MAX_EXTENDED_LE)).to_bytes(size, "big"))


@dataclass(slots=True)
class SessionKeys:
    """One secure messaging session: its keys and its send sequence counter."""

    enc: bytes
    mac: bytes
    ssc: int = 0

    @classmethod
    def from_secret(cls, secret: bytes) -> SessionKeys:
        return cls(enc=kdf(secret, KDF_ENC), mac=kdf(secret, KDF_MAC))

    def step(self) -> bytes:
        """Count up and give the SSC as 16 bytes (before each command and response)."""
        self.ssc = (self.ssc + 1) % (1 << 128)
        return self.ssc.to_bytes(BLOCK, "big")

    def iv(self, ssc: bytes) -> bytes:
        return encrypt(self.enc, bytes(BLOCK), ssc)

    def encrypt_object(self, ssc: bytes, plain: bytes, *, odd: bool) -> bytes:
        cryptogram = encrypt(self.enc, self.iv(ssc), pad(plain))
        if odd:
            return tlv(DO_ENCRYPTED_ODD, cryptogram)
        return tlv(DO_ENCRYPTED, b"\x01" + cryptogram)

    def decrypt_object(self, ssc: bytes, tag: int, value: bytes) -> bytes:
        if tag == DO_ENCRYPTED:
            if not value or value[0] != 0x01:
                raise SecureMessagingError("DO'87' without the padding-content indicator 01")
            value = value[1:]
        return unpad(decrypt(self.enc, self.iv(ssc), value))


class SecureChannel:
    """The reader's side of a secure messaging session: `protect` each command, `open`
    each answer, strictly in turn."""

    def __init__(self, keys: SessionKeys) -> None:
        self.keys = keys

    def protect(self, command: Command, *, extended: bool) -> Command:
        """`command` protected; its Le asks for the whole protected answer, which on a
        link without `extended` length must fit 256 bytes (so reads there ask for at most
        SHORT_READ bytes)."""
        keys = self.keys
        ssc = keys.step()
        cla = command.cla | SM_CLA
        odd = bool(command.ins & 0x01)
        body = b""
        if command.data:
            body += keys.encrypt_object(ssc, command.data, odd=odd)
        if command.le:
            body += le_object(command.le)
        header = pad(bytes((cla, command.ins, command.p1, command.p2)))
        body += tlv(DO_MAC, mac(keys.mac, ssc + pad(header + body)))
        le = MAX_EXTENDED_LE if extended and command.le > SHORT_READ else MAX_SHORT_LE
        return Command(cla, command.ins, command.p1, command.p2, body, le)

    def open(self, command: Command, answer: Response) -> Response:
        """The card's answer to `command` (as it was before `protect`), verified."""
        keys = self.keys
        ssc = keys.step()
        if answer.sw in (SW_SM_MISSING, SW_SM_WRONG) or not answer.data:
            # A card that found fault with the protection answers in plain and ends the
            # session; so does one refusing the command outright. Only its status is kept.
            raise SecureMessagingError(f"the card answered {answer.sw:04X} without protection")
        try:
            objects = list(tlv_items(answer.data))
        except ApduError:
            raise SecureMessagingError("the protected answer is not BER-TLV") from None
        tags = [tag for tag, _ in objects]
        if tags[-2:] != [DO_STATUS, DO_MAC] or len(tags) > 3:
            raise SecureMessagingError(f"the protected answer holds {tags}")
        tag_mac = objects[-1][1]
        if len(tag_mac) != MAC_BYTES or not answer.data.endswith(tlv(DO_MAC, tag_mac)):
            raise SecureMessagingError("DO'8E' is not an 8-byte MAC at the end")
        covered = answer.data[: -len(tlv(DO_MAC, tag_mac))]
        if not secrets.compare_digest(mac(keys.mac, ssc + pad(covered)), tag_mac):
            raise SecureMessagingError("the answer's MAC does not verify")
        status = objects[-2][1]
        if len(status) != 2:
            raise SecureMessagingError("DO'99' is not a status word")
        data = b""
        if len(objects) == 3:
            tag, value = objects[0]
            if tag not in (DO_ENCRYPTED, DO_ENCRYPTED_ODD):
                raise SecureMessagingError(f"unexpected data object {tag:X} in the answer")
            data = keys.decrypt_object(ssc, tag, value)
        if command.le and len(data) > command.le:
            raise SecureMessagingError(f"{len(data)} bytes of answer to Le {command.le}")
        return Response(data, int.from_bytes(status, "big"))
