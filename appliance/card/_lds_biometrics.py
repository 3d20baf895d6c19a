"""DG2, DG3 and DG7 of the KTP-el's chip: the face and the fingers as biometric templates
(ICAO 9303-10 section 4.7.2, CBEFF per ISO/IEC 19785) around an ISO/IEC 19794-5 face
record and ISO/IEC 19794-2 minutiae records, and the displayed signature image (5F43).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ._errors import CardDataError
from ._images import CardImage, ImageFormat, card_image, image_format
from ._tlv import check_canonical, decode_fields, decode_tlv, decode_tlvs, encode_tlv, encode_tlvs

# The tags the groups' files start with.
DG2_TAG: Final = 0x75
DG3_TAG: Final = 0x63
DG7_TAG: Final = 0x67

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
        DG2_TAG,
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
    (record,) = _decode_templates(decode_tlv(data, tag=DG2_TAG), kind=_TYPE_FACE, at_most=1)
    face = _parse_face_record(record.data_block)
    check_canonical(encode_dg2(face), data, "DG2")
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
    return encode_tlv(DG3_TAG, encode_tlv(_GROUP_TEMPLATE, body))


def decode_dg3(data: bytes) -> tuple[FingerTemplateRecord, ...]:
    records = _decode_templates(
        decode_tlv(data, tag=DG3_TAG), kind=_TYPE_FINGER, at_most=MAX_FINGERS
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
    check_canonical(canonical, data, "DG3")
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
        DG7_TAG, encode_tlv(_INSTANCES, b"\x01") + encode_tlv(_SIGNATURE_IMAGE, signature.data)
    )


def decode_dg7(data: bytes) -> CardImage:
    _, image = decode_fields(decode_tlv(data, tag=DG7_TAG), (_INSTANCES, _SIGNATURE_IMAGE))
    if image_format(image) is None:
        raise CardDataError("DG7's signature image is neither JPEG nor JPEG 2000")
    signature = card_image(image, mode="L", what="signature image in DG7")
    check_canonical(encode_dg7(signature), data, "DG7")
    return signature
