"""DG1 of the KTP-el's chip: the fields printed on the card.

ICAO's DG1 holds a machine-readable zone (5F1F); the KTP-el has none, so DG1 holds the
printed fields as tagged UTF-8 elements after a tag list (5C), the way ICAO's DG11 and DG12
are built. Their tags are DG11's and DG12's, or ISO/IEC 7816-6's, where one means the
field; the rest, which no standard names, are private-class tags DF01..DF0B.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final, TypeVar

from pydantic import ValidationError

from appliance.domain import MaritalStatus, Sex

from ._errors import CardDataError
from ._holder import LIFETIME, CardHolder
from ._tlv import (
    TAG_LIST,
    check_canonical,
    decode_fields,
    decode_tlv,
    encode_tlv,
    encode_tlvs,
    tag_bytes,
)

_K = TypeVar("_K")

DG1_TAG: Final = 0x61
"""The tag DG1's file starts with."""

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


def encode_dg1(holder: CardHolder) -> bytes:
    values = _dg1_values(holder)
    tags = list(DG1_TAGS.values())
    return encode_tlv(
        DG1_TAG,
        encode_tlvs(
            [(TAG_LIST, b"".join(tag_bytes(tag) for tag in tags))]
            + [(tag, values[name].encode()) for name, tag in DG1_TAGS.items()]
        ),
    )


def decode_dg1(data: bytes) -> CardHolder:
    tags = list(DG1_TAGS.values())
    values = decode_fields(decode_tlv(data, tag=DG1_TAG), [TAG_LIST, *tags])
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
    check_canonical(encode_dg1(holder), data, "DG1")
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
