"""BER-TLV as ISO/IEC 7816-4 and ICAO 9303-10 use it: tags of one to three bytes, definite
lengths of up to four bytes, nothing else.

Strict on purpose: the chip's files are hashed and signed byte for byte, so each value has
exactly one encoding. Decoding refuses the padding bytes 00 and FF where a tag belongs, tag
numbers with leading zero bits, tags longer than three bytes, indefinite and non-minimal
lengths, values that run past the end and, where one element is expected, trailing bytes.
Whatever decodes re-encodes to the same bytes.

Tags are the integers of their bytes as written (`0x5F0E`, `0x7F61`), as ICAO prints them.
ICAO writes small tag numbers in the long form (`5F01` is application tag 1), which X.690's
DER would forbid; ISO 7816-4 allows it, so it is accepted, and it is the only latitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

from ._errors import CardDataError

MAX_TAG_BYTES = 3
"""ISO/IEC 7816-4 tags are at most three bytes."""

MAX_LENGTH_BYTES = 4
"""Long-form lengths of up to four bytes (`84 xx xx xx xx`); no card file comes near."""

TAG_LIST = 0x5C
"""ISO/IEC 7816-4's tag list: the tags of the elements present (EF.COM) or that follow (DG1)."""

_MULTI_BYTE_TAG = 0x1F
_MORE_TAG_BYTES = 0x80
_LONG_LENGTH = 0x80
_PADDING = frozenset({0x00, 0xFF})


class Tlv(NamedTuple):
    tag: int
    value: bytes


@cache
def tag_bytes(tag: int) -> bytes:
    """The bytes of a tag; `ValueError` if the integer is not a well-formed tag."""
    if tag <= 0:
        raise ValueError(f"{tag} is not a BER-TLV tag")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    try:
        parsed = _read_tag(raw, 0)
    except CardDataError:
        parsed = None
    if parsed != (tag, len(raw)):
        raise ValueError(f"0x{tag:X} is not a BER-TLV tag")
    return raw


def encode_length(length: int) -> bytes:
    if length < _LONG_LENGTH:
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > MAX_LENGTH_BYTES:
        raise ValueError(f"a value of {length} bytes is too long for a card file")
    return bytes((_LONG_LENGTH | len(raw),)) + raw


def encode_tlv(tag: int, value: bytes) -> bytes:
    return tag_bytes(tag) + encode_length(len(value)) + value


def encode_tlvs(items: Sequence[tuple[int, bytes]]) -> bytes:
    return b"".join(encode_tlv(tag, value) for tag, value in items)


def decode_tlvs(data: bytes) -> list[Tlv]:
    """Every element in `data`, which they must fill exactly."""
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        tag, pos = _read_tag(data, pos)
        length, pos = _read_length(data, pos)
        end = pos + length
        if end > len(data):
            raise CardDataError(
                f"truncated: tag 0x{tag:X} declares {length} bytes, {len(data) - pos} remain"
            )
        items.append(Tlv(tag, data[pos:end]))
        pos = end
    return items


def decode_tlv(data: bytes, *, tag: int) -> bytes:
    """The value of the one element `data` holds, which must have this tag."""
    items = decode_tlvs(data)
    if len(items) != 1:
        raise CardDataError(f"expected one element with tag 0x{tag:X}, found {len(items)}")
    if items[0].tag != tag:
        raise CardDataError(f"expected tag 0x{tag:X}, found 0x{items[0].tag:X}")
    return items[0].value


def decode_fields(data: bytes, tags: Sequence[int]) -> list[bytes]:
    """The values of exactly these elements, in this order, nothing missing, nothing else."""
    items = decode_tlvs(data)
    found = [item.tag for item in items]
    if found != list(tags):
        raise CardDataError(
            "expected tags "
            + " ".join(f"{tag:X}" for tag in tags)
            + ", found "
            + (" ".join(f"{tag:X}" for tag in found) or "none")
        )
    return [item.value for item in items]


def check_canonical(encoded: bytes, data: bytes, what: str) -> None:
    """Refuse a file that decoded but is not byte for byte the form this station writes
    (`encoded`, the decoded value encoded again): what is hashed and signed has one form."""
    if encoded != data:
        raise CardDataError(f"{what} is not in the form this station writes")


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise CardDataError("truncated: a tag was expected")
    first = data[pos]
    if first in _PADDING:
        raise CardDataError(f"byte 0x{first:02X} at offset {pos} is not a tag")
    end = pos + 1
    if first & _MULTI_BYTE_TAG == _MULTI_BYTE_TAG:
        # X.690 8.1.2.4.2: the tag number has no leading zero bits.
        if end < len(data) and data[end] == _MORE_TAG_BYTES:
            raise CardDataError(f"tag at offset {pos} has a leading zero byte")
        while True:
            if end >= len(data):
                raise CardDataError(f"truncated: the tag at offset {pos} is not complete")
            more = data[end] & _MORE_TAG_BYTES
            end += 1
            if end - pos > MAX_TAG_BYTES:
                raise CardDataError(f"tag at offset {pos} is longer than {MAX_TAG_BYTES} bytes")
            if not more:
                break
    return int.from_bytes(data[pos:end], "big"), end


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise CardDataError("truncated: a length was expected")
    first = data[pos]
    if first < _LONG_LENGTH:
        return first, pos + 1
    count = first - _LONG_LENGTH
    if count == 0:
        raise CardDataError(f"indefinite length at offset {pos}")
    if count > MAX_LENGTH_BYTES:
        raise CardDataError(f"length at offset {pos} has {count} bytes, at most 4 allowed")
    end = pos + 1 + count
    if end > len(data):
        raise CardDataError(f"truncated: the length at offset {pos} is not complete")
    if data[pos + 1] == 0 or (count == 1 and data[pos + 1] < _LONG_LENGTH):
        raise CardDataError(f"length at offset {pos} is not in its shortest form")
    return int.from_bytes(data[pos + 1 : end], "big"), end
