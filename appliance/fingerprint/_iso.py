"""ISO/IEC 19794-2:2005 finger minutiae records: the template format of the card chip.

One record holds one finger view:

    general header (24 bytes)
      "FMR\\0", " 20\\0", record length (4, big-endian), capture equipment (2: 4 bits
      certification flag, 12 bits device type), image width, height, x and y resolution
      in pixels per cm (2 each), number of finger views (1), reserved (1)
    finger view header (4 bytes)
      finger position (1), view number (4 bits) | impression type (4 bits),
      finger quality (1), number of minutiae (1)
    minutiae (6 bytes each)
      type (2 bits: 01 ending, 10 bifurcation, 00 other) | x (14 bits),
      reserved (2 bits, zero) | y (14 bits), angle (1, units of 360/256 degrees,
      counter-clockwise from the x axis, y pointing down the image), quality (1, 0-100)
    extended data block length (2), then that many bytes of extended data

Decoding trusts nothing: a chip may hold a damaged or foreign record, and whatever is wrong
with it surfaces as `TemplateError` (a `ValueError`), never as another exception.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

_MAGIC: Final = b"FMR\x00"
_VERSION: Final = b" 20\x00"
_HEADER: Final = struct.Struct(">4s4sIHHHHHBB")
_VIEW: Final = struct.Struct(">BBBB")
_MINUTIA: Final = struct.Struct(">HHBB")
_EXTENDED: Final = struct.Struct(">H")
_COORDINATE_MAX: Final = (1 << 14) - 1
ANGLE_UNITS: Final = 256
"""Minutia angles are stored in 1/256 of a turn (1.40625 degrees)."""
PPCM_500_DPI: Final = 197
"""500 dpi in the pixels per centimetre the record stores."""


class TemplateError(ValueError):
    """A minutiae record that is malformed or holds values the format does not allow."""


class MinutiaKind(IntEnum):
    OTHER = 0
    ENDING = 1
    BIFURCATION = 2


class ImpressionType(IntEnum):
    LIVE_SCAN_PLAIN = 0
    LIVE_SCAN_ROLLED = 1
    NONLIVE_SCAN_PLAIN = 2
    NONLIVE_SCAN_ROLLED = 3
    SWIPE = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Minutia:
    x: int
    y: int
    angle: int
    """In units of 360/256 degrees, counter-clockwise, as the record stores it."""
    kind: MinutiaKind
    quality: int

    def __post_init__(self) -> None:
        if not (0 <= self.x <= _COORDINATE_MAX and 0 <= self.y <= _COORDINATE_MAX):
            raise TemplateError(f"minutia at ({self.x}, {self.y}) is outside 0-{_COORDINATE_MAX}")
        if not 0 <= self.angle < ANGLE_UNITS:
            raise TemplateError(f"minutia angle {self.angle} is not 0-255")
        if not 0 <= self.quality <= 100:
            raise TemplateError(f"minutia quality {self.quality} is not 0-100")

    @property
    def radians(self) -> float:
        return self.angle * (2 * math.pi / ANGLE_UNITS)


@dataclass(frozen=True, slots=True, kw_only=True)
class FingerTemplate:
    width: int
    height: int
    resolution_ppcm: int = PPCM_500_DPI
    finger_position: int
    """ISO/IEC 19794-2 finger position: 1-5 right thumb to little finger, 6-10 left."""
    impression_type: ImpressionType = ImpressionType.LIVE_SCAN_PLAIN
    quality: int
    minutiae: tuple[Minutia, ...]

    def __post_init__(self) -> None:
        if not (1 <= self.width <= 0xFFFF and 1 <= self.height <= 0xFFFF):
            raise TemplateError(f"image size {self.width}x{self.height} is not 1-65535")
        if not 1 <= self.resolution_ppcm <= 0xFFFF:
            raise TemplateError(f"resolution {self.resolution_ppcm} ppcm is not 1-65535")
        if not 1 <= self.finger_position <= 10:
            raise TemplateError(f"finger position {self.finger_position} is not 1-10")
        if not 0 <= self.quality <= 100:
            raise TemplateError(f"finger quality {self.quality} is not 0-100")
        if len(self.minutiae) > 255:
            raise TemplateError(f"{len(self.minutiae)} minutiae do not fit a record (255)")
        for minutia in self.minutiae:
            if minutia.x >= self.width or minutia.y >= self.height:
                raise TemplateError(
                    f"minutia at ({minutia.x}, {minutia.y}) is outside the "
                    f"{self.width}x{self.height} image"
                )


def encode_iso19794_2(template: FingerTemplate) -> bytes:
    """The ISO/IEC 19794-2:2005 record of one finger view, without extended data."""
    length = _HEADER.size + _VIEW.size + _MINUTIA.size * len(template.minutiae) + _EXTENDED.size
    parts = [
        _HEADER.pack(
            _MAGIC,
            _VERSION,
            length,
            0,  # capture equipment: no certification, device type unreported
            template.width,
            template.height,
            template.resolution_ppcm,
            template.resolution_ppcm,
            1,
            0,
        ),
        _VIEW.pack(
            template.finger_position,
            template.impression_type,  # view number 0 in the high nibble
            template.quality,
            len(template.minutiae),
        ),
    ]
    parts.extend(
        _MINUTIA.pack(m.kind << 14 | m.x, m.y, m.angle, m.quality) for m in template.minutiae
    )
    parts.append(_EXTENDED.pack(0))
    return b"".join(parts)


def decode_iso19794_2(record: bytes) -> FingerTemplate:
    """Read a single-view ISO/IEC 19794-2:2005 record; `TemplateError` if it is not one."""
    if len(record) < _HEADER.size + _VIEW.size + _EXTENDED.size:
        raise TemplateError(f"{len(record)} bytes are too short for a minutiae record")
    magic, version, length, _, width, height, x_res, y_res, views, _ = _HEADER.unpack_from(record)
    if magic != _MAGIC:
        raise TemplateError("not a finger minutiae record (no 'FMR' identifier)")
    if version != _VERSION:
        raise TemplateError(f"unsupported record version {version!r} (expected ' 20')")
    if length != len(record):
        raise TemplateError(f"record says {length} bytes long, but {len(record)} were given")
    if x_res != y_res:
        raise TemplateError(f"non-square pixels ({x_res} x {y_res} ppcm) are not supported")
    if views != 1:
        raise TemplateError(f"{views} finger views: exactly one is supported")
    position, view_and_impression, quality, count = _VIEW.unpack_from(record, _HEADER.size)
    try:
        impression = ImpressionType(view_and_impression & 0x0F)
    except ValueError:
        raise TemplateError(f"unknown impression type {view_and_impression & 0x0F}") from None
    offset = _HEADER.size + _VIEW.size
    end_of_minutiae = offset + _MINUTIA.size * count
    if end_of_minutiae + _EXTENDED.size > len(record):
        raise TemplateError(f"record too short for its {count} minutiae")
    minutiae = []
    for index in range(count):
        kind_and_x, reserved_and_y, angle, minutia_quality = _MINUTIA.unpack_from(
            record, offset + index * _MINUTIA.size
        )
        if kind_and_x >> 14 == 3:
            raise TemplateError(f"minutia {index} has the reserved type 11")
        if reserved_and_y >> 14:
            raise TemplateError(f"minutia {index} has reserved bits set")
        minutiae.append(
            Minutia(
                x=kind_and_x & _COORDINATE_MAX,
                y=reserved_and_y,
                angle=angle,
                kind=MinutiaKind(kind_and_x >> 14),
                quality=minutia_quality,
            )
        )
    (extended,) = _EXTENDED.unpack_from(record, end_of_minutiae)
    if end_of_minutiae + _EXTENDED.size + extended != len(record):
        raise TemplateError("extended data length does not match the record length")
    # Extended data (ridge counts, core and delta) is optional and not used for matching.
    return FingerTemplate(
        width=width,
        height=height,
        resolution_ppcm=x_res,
        finger_position=position,
        impression_type=impression,
        quality=quality,
        minutiae=tuple(minutiae),
    )
