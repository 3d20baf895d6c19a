"""PACE (ICAO Doc 9303-11 §4.4): ECDH Generic Mapping, AES-128, with the card access
number, the reader's side; and the pieces the card's side computes the same way.

The run, all in GENERAL AUTHENTICATE (86) commands chained under one MSE:Set AT:

1. MSE:Set AT `00 22 C1 A4` {80 protocol OID, 83 password reference (02: the CAN),
   84 domain parameter id} (§4.4.4.1).
2. The card sends its nonce s encrypted: z = E(K_π, s), AES-CBC with a zero IV, K_π =
   KDF(CAN, 3) (§4.4.3.1; the CAN encoded as its ISO 8859-1 digits, §9.7.3).
3. Mapping: both sides exchange mapping keys (81/82); H = SK·PK on both; G' = s·G + H.
4. Key agreement on G': ephemeral keys (83/84); K = x(SK·PK); K_enc, K_mac = KDF(K, 1|2).
5. Tokens (85/86): each side MACs (AES-CMAC, 8 bytes) the other's ephemeral public key
   as a public key data object 7F49 {06 OID, 86 point} (§4.4.3.4, §9.4.2). A card that
   cannot verify the reader's token (a wrong CAN) answers 6300; a card token that does not
   verify ends the run here. Then secure messaging starts with K_enc, K_mac, SSC 0.

The protocol and its domain parameters come from the card's EF.CardAccess (§9.2.1), a
SET OF SecurityInfo readable without any access control: a PACEInfo
SEQUENCE {protocol OID, version INTEGER 2, parameterId INTEGER}.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ._apdu import MAX_SHORT_LE, ApduError, Command, StatusWord
from ._card_access import CAN_REFERENCE
from ._ec import STANDARD_DOMAINS, Curve, PointError, generic_mapping
from ._iso7816 import tlv, tlv_items
from ._secure_messaging import (
    BLOCK,
    KDF_PI,
    SecureChannel,
    SecureMessagingError,
    Send,
    SessionKeys,
    kdf,
    mac,
)

# id-PACE-ECDH-GM-AES-CBC-CMAC-128, 0.4.0.127.0.7.2.2.4.2.2 (9303-11 §9.2.1), as DER.
PACE_ECDH_GM_AES128: Final = bytes.fromhex("04007F00070202040202")
PACE_VERSION: Final = 2
EF_CARD_ACCESS: Final = 0x011C  # under the MF, short EF identifier 1C

_GA: Final = 0x86


class PaceFailed(SecureMessagingError):
    """The PACE run did not end with both sides' tokens verified."""

    def __init__(self, detail: str, *, sw: int | None = None) -> None:
        self.sw = sw
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class PaceInfo:
    protocol: bytes
    parameter_id: int

    @property
    def curve(self) -> Curve:
        return STANDARD_DOMAINS[self.parameter_id]

    def encode(self) -> bytes:
        """One PACEInfo, DER."""
        return tlv(
            0x30,
            tlv(0x06, self.protocol)
            + tlv(0x02, bytes((PACE_VERSION,)))
            + _integer(self.parameter_id),
        )


def card_access(infos: list[PaceInfo]) -> bytes:
    """EF.CardAccess: SecurityInfos, a DER SET OF the PACEInfos."""
    return tlv(0x31, b"".join(info.encode() for info in infos))


def pace_infos(raw: bytes) -> list[PaceInfo]:
    """The PACEInfos of EF.CardAccess that this reader can run (others are skipped: a
    card may offer more than one); ApduError if the file is not SecurityInfos."""
    items = list(tlv_items(raw))
    if len(items) != 1 or items[0][0] != 0x31:
        raise ApduError("EF.CardAccess is not one SET OF SecurityInfo")
    found = []
    for tag, info in tlv_items(items[0][1]):
        fields = list(tlv_items(info)) if tag == 0x30 else []
        if len(fields) != 3 or [t for t, _ in fields] != [0x06, 0x02, 0x02]:
            continue  # another kind of SecurityInfo, or a PACEInfo without its parameterId
        protocol, version, parameter = (value for _, value in fields)
        parameter_id = int.from_bytes(parameter, "big")
        if (
            protocol == PACE_ECDH_GM_AES128
            and version == bytes((PACE_VERSION,))
            and parameter_id in STANDARD_DOMAINS
        ):
            found.append(PaceInfo(protocol, parameter_id))
    return found


def password_key(can: str) -> bytes:
    """K_π: KDF(f(π), 3), f(CAN) being its digits in ISO 8859-1 (9303-11 §9.7.3)."""
    return kdf(can.encode("latin-1"), KDF_PI)


def encrypt_nonce(key: bytes, nonce: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(BLOCK))).encryptor()
    return encryptor.update(nonce) + encryptor.finalize()


def decrypt_nonce(key: bytes, encrypted: bytes) -> bytes:
    if len(encrypted) != BLOCK:
        raise PaceFailed(f"an encrypted nonce of {len(encrypted)} bytes")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(BLOCK))).decryptor()
    return decryptor.update(encrypted) + decryptor.finalize()


def public_key_object(protocol: bytes, point: bytes) -> bytes:
    """The public key data object the tokens MAC: 7F49 {06 OID, 86 point} (§9.4.2)."""
    return tlv(0x7F49, tlv(0x06, protocol) + tlv(0x86, point))


def token(mac_key: bytes, protocol: bytes, point: bytes) -> bytes:
    return mac(mac_key, public_key_object(protocol, point))


@dataclass(frozen=True, slots=True)
class Agreement:
    """What the key agreement leaves: the session, and each side's ephemeral point."""

    session: SessionKeys
    own: bytes
    peer: bytes


def agree(curve: Curve, private: int, peer: bytes) -> SessionKeys:
    """K_enc and K_mac from x(private·peer), peer refused unless on the curve."""
    shared = curve.shared_x(private, curve.decode(peer))
    return SessionKeys.from_secret(shared)


def establish(
    send: Send,
    *,
    password: bytes,
    info: PaceInfo,
    reference: int = CAN_REFERENCE,
    mapping_key: int | None = None,
    ephemeral_key: int | None = None,
) -> SecureChannel:
    """Run PACE with the card through `send` (plain APDUs) and return the secure channel.
    `password` is K_π (`password_key(can)`); `mapping_key` and `ephemeral_key` fix the
    reader's private keys, for known answers.

    PaceFailed with sw 6300 means the card refused the reader's token: the wrong CAN."""
    curve = info.curve
    answer = send(
        Command(
            0x00,
            0x22,
            0xC1,
            0xA4,
            tlv(0x80, info.protocol)
            + tlv(0x83, bytes((reference,)))
            + tlv(0x84, bytes((info.parameter_id,))),
        )
    )
    if not answer.ok:
        raise PaceFailed(f"MSE:Set AT refused: {answer.sw:04X}", sw=answer.sw)
    nonce = decrypt_nonce(password, _step(send, 0x80, b""))
    mapping_key = mapping_key or curve.random_scalar()
    picc_mapping = _step(send, 0x82, tlv(0x81, curve.encode(curve.public_point(mapping_key))))
    try:
        shared = curve.times(curve.decode(picc_mapping), mapping_key)
        generator = generic_mapping(curve, int.from_bytes(nonce, "big"), shared)
    except PointError as error:
        raise PaceFailed(f"mapping: {error}") from None
    ephemeral_key = ephemeral_key or curve.random_scalar()
    own = curve.encode(curve.times(generator, ephemeral_key))
    peer = _step(send, 0x84, tlv(0x83, own))
    if secrets.compare_digest(peer, own):
        raise PaceFailed("the card sent back the reader's own ephemeral key")
    try:
        session = agree(curve, ephemeral_key, peer)
    except (PointError, ValueError) as error:
        raise PaceFailed(f"key agreement: {error}") from None
    card_token = _step(send, 0x86, tlv(0x85, token(session.mac, info.protocol, peer)), last=True)
    if not secrets.compare_digest(card_token, token(session.mac, info.protocol, own)):
        raise PaceFailed("the card's authentication token does not verify")
    return SecureChannel(session)


def _step(send: Send, expected: int, data: bytes, *, last: bool = False) -> bytes:
    """One GENERAL AUTHENTICATE: data in a 7C template, the answer's `expected` object."""
    cla = 0x00 if last else 0x10
    answer = send(Command(cla, _GA, 0x00, 0x00, tlv(0x7C, data), MAX_SHORT_LE))
    if answer.sw == StatusWord.AUTHENTICATION_FAILED or (
        last and answer.sw == StatusWord.SECURITY_NOT_SATISFIED
    ):
        raise PaceFailed("the card refused the reader's token (wrong CAN?)", sw=answer.sw)
    if not answer.ok:
        raise PaceFailed(f"GENERAL AUTHENTICATE refused: {answer.sw:04X}", sw=answer.sw)
    try:
        outer = list(tlv_items(answer.data))
        inner = list(tlv_items(outer[0][1])) if len(outer) == 1 and outer[0][0] == 0x7C else []
    except ApduError:
        inner = []
    value = next((value for tag, value in inner if tag == expected), None)
    if value is None:
        raise PaceFailed(f"GENERAL AUTHENTICATE answer without data object {expected:02X}")
    return value


def _integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return tlv(0x02, body)
