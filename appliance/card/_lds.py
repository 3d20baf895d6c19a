"""The card's files: the logical data structure of ICAO 9303-10 (LDS 1.8), with the KTP-el's
fields in DG1, and the whole card built, signed, read back and verified.

| file   | FID  | tag | holds |
|--------|------|-----|-------|
| EF.COM | 011E | 60  | LDS and Unicode versions, the tags of the data groups present |
| DG1    | 0101 | 61  | the KTP-el fields (see `DG1_TAGS`) |
| DG2    | 0102 | 75  | the face: a biometric template with an ISO/IEC 19794-5 record |
| DG3    | 0103 | 63  | one or two fingers: templates with ISO/IEC 19794-2 records |
| DG7    | 0107 | 67  | the displayed signature (5F43) |
| EF.SOD | 011D | 77  | the security object: every data group's SHA-256, signed |

The short EF identifier of each file is the low byte of its FID (ICAO 9303-10 table 38).
DG1 is encoded in `_lds_dg1.py`; DG2, DG3 and DG7 in `_lds_biometrics.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from cryptography import x509

from ._errors import CardDataError, hash_mismatch, malformed
from ._holder import CardHolder
from ._images import CardImage, card_image
from ._lds_biometrics import (
    DG2_TAG,
    DG3_TAG,
    DG7_TAG,
    FingerTemplateRecord,
    decode_dg2,
    decode_dg3,
    decode_dg7,
    encode_dg2,
    encode_dg3,
    encode_dg7,
)
from ._lds_dg1 import DG1_TAG, decode_dg1, encode_dg1
from ._signer import DocumentSigner
from ._sod import LDS_VERSION, UNICODE_VERSION, parse_sod, sign_sod, verify_sod
from ._tlv import TAG_LIST, check_canonical, decode_fields, decode_tlv, encode_tlv, encode_tlvs

CARD_AID: Final = bytes.fromhex("A0000002471001")
"""The ICAO eMRTD LDS1 application."""

FILE_IDS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "EF.COM": 0x011E,
        "DG1": 0x0101,
        "DG2": 0x0102,
        "DG3": 0x0103,
        "DG7": 0x0107,
        "EF.SOD": 0x011D,
    }
)

_COM_TAG = 0x60
_DG_TAGS: Final[Mapping[int, int]] = MappingProxyType(
    {1: DG1_TAG, 2: DG2_TAG, 3: DG3_TAG, 7: DG7_TAG}
)
"""Data-group number to the tag its file starts with; every KTP-el carries all four."""

# EF.COM
_LDS_VERSION_TAG = 0x5F01
_UNICODE_VERSION_TAG = 0x5F36


@dataclass(frozen=True, slots=True)
class CardContents:
    """What a verified card holds."""

    holder: CardHolder
    face: CardImage
    fingers: tuple[FingerTemplateRecord, ...]
    signature: CardImage
    signer: x509.Certificate


# --------------------------------------------------------------------------- EF.COM


def encode_com(groups: Iterable[int]) -> bytes:
    return encode_tlv(
        _COM_TAG,
        encode_tlvs(
            [
                (_LDS_VERSION_TAG, LDS_VERSION.encode()),
                (_UNICODE_VERSION_TAG, UNICODE_VERSION.encode()),
                (TAG_LIST, bytes(_DG_TAGS[number] for number in sorted(groups))),
            ]
        ),
    )


def decode_com(data: bytes) -> tuple[int, ...]:
    """The data-group numbers EF.COM lists."""
    _, _, tag_list = decode_fields(
        decode_tlv(data, tag=_COM_TAG), (_LDS_VERSION_TAG, _UNICODE_VERSION_TAG, TAG_LIST)
    )
    by_tag = {tag: number for number, tag in _DG_TAGS.items()}
    try:
        groups = tuple(by_tag[tag] for tag in tag_list)
    except KeyError:
        raise CardDataError("EF.COM lists a data group this card does not have") from None
    if len(set(groups)) != len(groups):
        raise CardDataError("EF.COM lists a data group twice")
    check_canonical(encode_com(groups), data, "EF.COM")
    return groups


# --------------------------------------------------------------------------- the card


def build_card_files(
    holder: CardHolder,
    *,
    face_image: bytes,
    finger_templates: Sequence[FingerTemplateRecord],
    signature_image: bytes,
    signer: DocumentSigner,
) -> dict[int, bytes]:
    """Every file of the card, by FID, EF.COM and the signed EF.SOD included.

    The images are stored as JPEG or JPEG 2000; any other format is re-encoded as JPEG.
    Raises `CardDataError` for an image that cannot be read, `ValueError` for a wrong
    number of finger templates.
    """
    groups = {
        1: encode_dg1(holder),
        2: encode_dg2(card_image(face_image, mode="RGB", what="face image")),
        3: encode_dg3(finger_templates),
        7: encode_dg7(card_image(signature_image, mode="L", what="signature image")),
    }
    files = {FILE_IDS[f"DG{number}"]: data for number, data in groups.items()}
    files[FILE_IDS["EF.COM"]] = encode_com(groups)
    files[FILE_IDS["EF.SOD"]] = sign_sod(
        {number: hashlib.sha256(data).digest() for number, data in groups.items()}, signer
    )
    return files


def read_card(files: Mapping[int, bytes], trust: Iterable[x509.Certificate]) -> CardContents:
    """Verify a card read back (passive authentication, ICAO 9303-11) and parse it.

    In this order: the card has exactly the KTP-el's files; EF.SOD parses; its signer is
    one the station trusts (its own certificate, or one a trusted CSCA issued); the
    signature holds; the SOD covers exactly DG1, DG2, DG3 and DG7, as EF.COM says; each
    group's SHA-256 is the signed one; only then is any group parsed. Raises
    `CardVerificationError` with code `malformed`, `untrusted_signer`, `bad_signature` or
    `hash_mismatch` (naming the group).
    """
    expected = set(FILE_IDS.values())
    if set(files) != expected:
        missing = ", ".join(name for name, fid in FILE_IDS.items() if fid not in files)
        extra = ", ".join(f"{fid:04X}" for fid in sorted(set(files) - expected))
        raise malformed(f"files missing: {missing or 'none'}; unexpected: {extra or 'none'}")
    try:
        signer, hashes = _signed_hashes(files, tuple(trust))
    except CardDataError as exc:
        raise malformed(str(exc)) from None
    groups = {number: files[FILE_IDS[f"DG{number}"]] for number in sorted(hashes)}
    for number, data in groups.items():
        if hashlib.sha256(data).digest() != hashes[number]:
            raise hash_mismatch(f"DG{number}")
    try:
        return CardContents(
            holder=decode_dg1(groups[1]),
            face=decode_dg2(groups[2]),
            fingers=decode_dg3(groups[3]),
            signature=decode_dg7(groups[7]),
            signer=signer,
        )
    except CardDataError as exc:
        raise malformed(str(exc)) from None


def _signed_hashes(
    files: Mapping[int, bytes], trust: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, Mapping[int, bytes]]:
    """The signer and the signed hash of each data group, once EF.SOD verifies and both
    it and EF.COM name exactly the KTP-el's groups."""
    sod = parse_sod(files[FILE_IDS["EF.SOD"]])
    hashes = verify_sod(sod, trust)
    if set(hashes) != set(_DG_TAGS):
        raise CardDataError("EF.SOD does not cover exactly DG1, DG2, DG3 and DG7")
    if set(decode_com(files[FILE_IDS["EF.COM"]])) != set(hashes):
        raise CardDataError("EF.COM does not list the signed data groups")
    return sod.certificate, hashes
