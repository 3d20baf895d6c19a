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

ICAO's DG1 holds a machine-readable zone (5F1F); the KTP-el has none, so DG1 holds the
printed fields as tagged UTF-8 elements after a tag list (5C), the way ICAO's DG11 and DG12
are built. Their tags are DG11's and DG12's, or ISO/IEC 7816-6's, where one means the
field; the rest, which no standard names, are private-class tags DF01..DF0B.

The short EF identifier of each file is the low byte of its FID (ICAO 9303-10 table 38).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Final, TypeVar

from cryptography import x509
from pydantic import ValidationError

from appliance.domain import MaritalStatus, Sex

from ._errors import CardDataError, hash_mismatch, malformed
from ._holder import LIFETIME, CardHolder
from ._images import CardImage, ImageFormat, card_image, image_format
from ._signer import DocumentSigner
from ._sod import LDS_VERSION, UNICODE_VERSION, parse_sod, sign_sod, verify_sod
from ._tlv import decode_fields, decode_tlv, decode_tlvs, encode_tlv, encode_tlvs, tag_bytes

_K = TypeVar("_K")

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
_DG_TAGS: Final[Mapping[int, int]] = MappingProxyType({1: 0x61, 2: 0x75, 3: 0x63, 7: 0x67})
"""Data-group number to the tag its file starts with; every KTP-el carries all four."""

# EF.COM
_LDS_VERSION_TAG = 0x5F01
_UNICODE_VERSION_TAG = 0x5F36
_TAG_LIST = 0x5C

# DG1: the KTP-el fields, in this order.
DG1_TAGS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "nik": 0x5F10,  # DG11 personal number
        "name": 0x5F0E,  # DG11 full name in national characters
        "birth_place": 0x5F11,  # DG11 place of birth
        "birth_date": 0x5F2B,  # DG11 full date of birth, YYYYMMDD
        "sex": 0x5F35,  # ISO/IEC 7816-6 sex, coded per ISO/IEC 5218: 1 male, 2 female
        "blood_type": 0xDF01,
        "address": 0x5F42,  # DG11 address (the street line; the rest have their own tags)
        "rt_rw": 0xDF02,
        "village": 0xDF03,
        "kecamatan": 0xDF04,
        "regency": 0xDF05,
        "regency_kind": 0xDF06,
        "province": 0xDF07,
        "religion": 0xDF08,
        "marital_status": 0xDF09,
        "occupation": 0x5F13,  # DG11 profession
        "citizenship": 0xDF0A,
        "valid_until": 0xDF0B,  # SEUMUR HIDUP, or YYYYMMDD
        "issue_place": 0x5F19,  # DG12 issuing authority: the place printed by the signature
        "issue_date": 0x5F26,  # DG12 date of issue, YYYYMMDD
    }
)

_ISO_5218: Final[Mapping[Sex, str]] = MappingProxyType({Sex.LAKI_LAKI: "1", Sex.PEREMPUAN: "2"})
_MARITAL: Final[Mapping[MaritalStatus, str]] = MappingProxyType(
    {status: status.label.id.upper() for status in MaritalStatus}
)

# Biometric templates (ICAO 9303-10 section 4.7.2, CBEFF per ISO/IEC 19785).
_GROUP_TEMPLATE = 0x7F61
_INSTANCES = 0x02
_TEMPLATE = 0x7F60
_HEADER = 0xA1
_HEADER_VERSION = 0x80
_BIOMETRIC_TYPE = 0x81
_BIOMETRIC_SUBTYPE = 0x82
_FORMAT_OWNER = 0x87
_FORMAT_TYPE = 0x88
_DATA_BLOCK = 0x5F2E
_SIGNATURE_IMAGE = 0x5F43

_ICAO_HEADER_VERSION = b"\x01\x01"
_JTC1_SC37 = b"\x01\x01"  # CBEFF format owner 257: ISO/IEC JTC 1/SC 37
_TYPE_FACE = b"\x02"
_TYPE_FINGER = b"\x08"
_FORMAT_FACE_IMAGE = b"\x00\x08"  # ISO/IEC 19794-5
_FORMAT_FINGER_MINUTIAE = b"\x00\x02"  # ISO/IEC 19794-2

# ISO/IEC 19794-5:2005 facial record, the version ICAO 9303 requires.
_FACE_FORMAT_ID = b"FAC\x00"
_FACE_VERSION = b"010\x00"
_FACE_HEADER_SIZE = 14
_FACE_INFO_SIZE = 20
_IMAGE_INFO_SIZE = 12
_FULL_FRONTAL = 1
_DIGITAL_STILL = 2
_IMAGE_DATA_TYPES: Final[Mapping[ImageFormat, int]] = MappingProxyType(
    {ImageFormat.JPEG: 0, ImageFormat.JPEG2000: 1}
)

# ISO/IEC 19794-2 finger positions 1-10 to the CBEFF subtype: side (1 right, 2 left) plus
# finger (4 thumb, 8 index, 12 middle, 16 ring, 20 little).
_FINGER_SUBTYPES: Final[Mapping[int, int]] = MappingProxyType(
    {
        position: (1 if position <= 5 else 2) + 4 * ((position - 1) % 5 + 1)
        for position in range(1, 11)
    }
)
_FINGER_POSITIONS: Final[Mapping[int, int]] = MappingProxyType(
    {subtype: position for position, subtype in _FINGER_SUBTYPES.items()}
)
MAX_FINGERS = 2


@dataclass(frozen=True, slots=True)
class FingerTemplateRecord:
    """One finger for DG3: its ISO finger position (1 right thumb ... 10 left little) and
    its ISO/IEC 19794-2 minutiae record, which is opaque here."""

    position: int
    iso_19794_2: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.position not in _FINGER_SUBTYPES:
            raise ValueError(f"finger position must be 1..10, not {self.position}")
        if not self.iso_19794_2:
            raise ValueError("a finger template must not be empty")


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
                (_TAG_LIST, bytes(_DG_TAGS[number] for number in sorted(groups))),
            ]
        ),
    )


def decode_com(data: bytes) -> tuple[int, ...]:
    """The data-group numbers EF.COM lists."""
    _, _, tag_list = decode_fields(
        decode_tlv(data, tag=_COM_TAG), (_LDS_VERSION_TAG, _UNICODE_VERSION_TAG, _TAG_LIST)
    )
    by_tag = {tag: number for number, tag in _DG_TAGS.items()}
    try:
        groups = tuple(by_tag[tag] for tag in tag_list)
    except KeyError:
        raise CardDataError("EF.COM lists a data group this card does not have") from None
    if len(set(groups)) != len(groups):
        raise CardDataError("EF.COM lists a data group twice")
    _canonical(encode_com(groups), data, "EF.COM")
    return groups


# --------------------------------------------------------------------------- DG1


def encode_dg1(holder: CardHolder) -> bytes:
    values = _dg1_values(holder)
    tags = list(DG1_TAGS.values())
    return encode_tlv(
        _DG_TAGS[1],
        encode_tlvs(
            [(_TAG_LIST, b"".join(tag_bytes(tag) for tag in tags))]
            + [(tag, values[name].encode()) for name, tag in DG1_TAGS.items()]
        ),
    )


def decode_dg1(data: bytes) -> CardHolder:
    tags = list(DG1_TAGS.values())
    values = decode_fields(decode_tlv(data, tag=_DG_TAGS[1]), [_TAG_LIST, *tags])
    if values[0] != b"".join(tag_bytes(tag) for tag in tags):
        raise CardDataError("DG1's tag list is not the KTP-el's")
    try:
        text = dict(zip(DG1_TAGS, (value.decode() for value in values[1:]), strict=True))
    except UnicodeDecodeError:
        raise CardDataError("DG1 holds text that is not UTF-8") from None
    try:
        holder = CardHolder.model_validate(
            {
                **text,
                "birth_date": _date(text["birth_date"]),
                "issue_date": _date(text["issue_date"]),
                "valid_until": (
                    text["valid_until"]
                    if text["valid_until"] == LIFETIME
                    else _date(text["valid_until"])
                ),
                "sex": _code(_ISO_5218, text["sex"], "sex"),
                "marital_status": _code(_MARITAL, text["marital_status"], "marital_status"),
            }
        )
    except ValidationError as exc:
        # Name the fields only: the values are personal data.
        fields = ", ".join(sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]}))
        raise CardDataError(f"DG1 holds invalid values: {fields or 'the record'}") from None
    _canonical(encode_dg1(holder), data, "DG1")
    return holder


def _dg1_values(holder: CardHolder) -> dict[str, str]:
    valid_until = holder.valid_until
    return {
        "nik": holder.nik,
        "name": holder.name,
        "birth_place": holder.birth_place,
        "birth_date": holder.birth_date.strftime("%Y%m%d"),
        "sex": _ISO_5218[holder.sex],
        "blood_type": holder.blood_type.value,
        "address": holder.address,
        "rt_rw": holder.rt_rw,
        "village": holder.village,
        "kecamatan": holder.kecamatan,
        "regency": holder.regency,
        "regency_kind": holder.regency_kind.value,
        "province": holder.province,
        "religion": holder.religion.value,
        "marital_status": _MARITAL[holder.marital_status],
        "occupation": holder.occupation,
        "citizenship": holder.citizenship.value,
        "valid_until": valid_until
        if isinstance(valid_until, str)
        else valid_until.strftime("%Y%m%d"),
        "issue_place": holder.issue_place,
        "issue_date": holder.issue_date.strftime("%Y%m%d"),
    }


def _code(codes: Mapping[_K, str], text: str, name: str) -> _K:
    for key, code in codes.items():
        if code == text:
            return key
    raise CardDataError(f"DG1 holds an unknown code for {name}")


def _date(text: str) -> date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise CardDataError("DG1 holds a date that is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise CardDataError("DG1 holds a date that does not exist") from None


# --------------------------------------------------------------------------- DG2


def encode_dg2(face: CardImage) -> bytes:
    header = encode_tlvs(
        [
            (_HEADER_VERSION, _ICAO_HEADER_VERSION),
            (_BIOMETRIC_TYPE, _TYPE_FACE),
            (_FORMAT_OWNER, _JTC1_SC37),
            (_FORMAT_TYPE, _FORMAT_FACE_IMAGE),
        ]
    )
    return encode_tlv(
        _DG_TAGS[2],
        encode_tlv(
            _GROUP_TEMPLATE,
            encode_tlv(_INSTANCES, b"\x01")
            + encode_tlv(
                _TEMPLATE,
                encode_tlv(_HEADER, header) + encode_tlv(_DATA_BLOCK, _face_record(face)),
            ),
        ),
    )


def decode_dg2(data: bytes) -> CardImage:
    (record,) = _decode_templates(decode_tlv(data, tag=_DG_TAGS[2]), kind=_TYPE_FACE, at_most=1)
    face = _parse_face_record(record.data_block)
    _canonical(encode_dg2(face), data, "DG2")
    return face


def _face_record(face: CardImage) -> bytes:
    """A minimal ISO/IEC 19794-5:2005 record: one full-frontal image, no feature points,
    every optional attribute `unspecified`."""
    image_info = (
        bytes((_FULL_FRONTAL, _IMAGE_DATA_TYPES[face.format]))
        + face.width.to_bytes(2, "big")
        + face.height.to_bytes(2, "big")
        + bytes((0, _DIGITAL_STILL))  # colour space unspecified; a digital still camera
        + bytes(4)  # device type and quality: unspecified
    )
    block_length = _FACE_INFO_SIZE + _IMAGE_INFO_SIZE + len(face.data)
    face_info = block_length.to_bytes(4, "big") + bytes(_FACE_INFO_SIZE - 4)
    return (
        _FACE_FORMAT_ID
        + _FACE_VERSION
        + (_FACE_HEADER_SIZE + block_length).to_bytes(4, "big")
        + (1).to_bytes(2, "big")
        + face_info
        + image_info
        + face.data
    )


def _parse_face_record(record: bytes) -> CardImage:
    start = _FACE_HEADER_SIZE + _FACE_INFO_SIZE + _IMAGE_INFO_SIZE
    if len(record) <= start or record[:8] != _FACE_FORMAT_ID + _FACE_VERSION:
        raise CardDataError("DG2 does not hold an ISO/IEC 19794-5:2005 face record")
    info = record[_FACE_HEADER_SIZE + _FACE_INFO_SIZE : start]
    formats = {code: image for image, code in _IMAGE_DATA_TYPES.items()}
    image = record[start:]
    found = formats.get(info[1])
    if found is None or image_format(image) is not found:
        raise CardDataError("DG2's face image is neither JPEG nor JPEG 2000, or not as declared")
    # Every other field is fixed: the re-encoding check in decode_dg2 compares them all.
    return CardImage(
        data=image,
        format=found,
        width=int.from_bytes(info[2:4], "big"),
        height=int.from_bytes(info[4:6], "big"),
    )


# --------------------------------------------------------------------------- DG3


def encode_dg3(templates: Sequence[FingerTemplateRecord]) -> bytes:
    if not 1 <= len(templates) <= MAX_FINGERS:
        raise ValueError(f"DG3 holds 1 to {MAX_FINGERS} finger templates, not {len(templates)}")
    if len({template.position for template in templates}) != len(templates):
        raise ValueError("DG3 holds each finger once")
    body = encode_tlv(_INSTANCES, bytes((len(templates),)))
    for template in templates:
        header = encode_tlvs(
            [
                (_HEADER_VERSION, _ICAO_HEADER_VERSION),
                (_BIOMETRIC_TYPE, _TYPE_FINGER),
                (_BIOMETRIC_SUBTYPE, bytes((_FINGER_SUBTYPES[template.position],))),
                (_FORMAT_OWNER, _JTC1_SC37),
                (_FORMAT_TYPE, _FORMAT_FINGER_MINUTIAE),
            ]
        )
        body += encode_tlv(
            _TEMPLATE,
            encode_tlv(_HEADER, header) + encode_tlv(_DATA_BLOCK, template.iso_19794_2),
        )
    return encode_tlv(_DG_TAGS[3], encode_tlv(_GROUP_TEMPLATE, body))


def decode_dg3(data: bytes) -> tuple[FingerTemplateRecord, ...]:
    records = _decode_templates(
        decode_tlv(data, tag=_DG_TAGS[3]), kind=_TYPE_FINGER, at_most=MAX_FINGERS
    )
    try:
        templates = tuple(
            FingerTemplateRecord(
                position=_FINGER_POSITIONS[record.subtype], iso_19794_2=record.data_block
            )
            for record in records
        )
        canonical = encode_dg3(templates)
    except (KeyError, ValueError):
        raise CardDataError("DG3 holds a finger position or template that is not valid") from None
    _canonical(canonical, data, "DG3")
    return templates


@dataclass(frozen=True, slots=True)
class _Template:
    subtype: int
    data_block: bytes


def _decode_templates(group: bytes, *, kind: bytes, at_most: int) -> list[_Template]:
    """The templates of a biometric information group template (7F61). Only their subtype
    and data block are returned: the caller re-encodes and compares, which checks the rest."""
    items = decode_tlvs(decode_tlv(group, tag=_GROUP_TEMPLATE))
    if not items or items[0].tag != _INSTANCES or len(items[0].value) != 1:
        raise CardDataError("a biometric group template does not start with its count")
    count = items[0].value[0]
    if not 1 <= count <= at_most or len(items) != count + 1:
        raise CardDataError("a biometric group template holds the wrong number of templates")
    templates: list[_Template] = []
    for item in items[1:]:
        if item.tag != _TEMPLATE:
            raise CardDataError(f"expected a biometric template (7F60), found 0x{item.tag:X}")
        header, block = decode_fields(item.value, (_HEADER, _DATA_BLOCK))
        elements = dict(decode_tlvs(header))
        if elements.get(_BIOMETRIC_TYPE) != kind:
            raise CardDataError("a biometric template is of the wrong biometric type")
        subtype = elements.get(_BIOMETRIC_SUBTYPE, b"\x00")
        if len(subtype) != 1:
            raise CardDataError("a biometric template has a malformed subtype")
        templates.append(_Template(subtype=subtype[0], data_block=block))
    return templates


# --------------------------------------------------------------------------- DG7


def encode_dg7(signature: CardImage) -> bytes:
    return encode_tlv(
        _DG_TAGS[7], encode_tlv(_INSTANCES, b"\x01") + encode_tlv(_SIGNATURE_IMAGE, signature.data)
    )


def decode_dg7(data: bytes) -> CardImage:
    _, image = decode_fields(decode_tlv(data, tag=_DG_TAGS[7]), (_INSTANCES, _SIGNATURE_IMAGE))
    if image_format(image) is None:
        raise CardDataError("DG7's signature image is neither JPEG nor JPEG 2000")
    signature = card_image(image, mode="L", what="signature image in DG7")
    _canonical(encode_dg7(signature), data, "DG7")
    return signature


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


def _canonical(encoded: bytes, data: bytes, what: str) -> None:
    if encoded != data:
        raise CardDataError(f"{what} is not in the form this station writes")
