"""The framing of the station's serial peripherals: NMEA-style checksummed ASCII lines.

    $KIND,field,field*CS\\r\\n      CS = XOR of the bytes between '$' and '*', two hex digits

Cheap serial pads and keypads speak framings like this; the checksum is what lets the
driver tell a noisy or confused device from a valid answer instead of acting on garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Final

MAX_LINE: Final = 256
_ALLOWED: Final = frozenset(range(0x20, 0x7F)) - {ord("$"), ord("*")}


class FrameError(ValueError):
    """A line that is not a valid frame: the device sent garbage."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: str
    fields: tuple[str, ...]

    def int_field(self, index: int, *, low: int, high: int) -> int:
        try:
            value = int(self.fields[index])
        except (IndexError, ValueError):
            raise FrameError(f"{self.kind}: field {index} is not an integer") from None
        if not low <= value <= high:
            raise FrameError(f"{self.kind}: field {index} = {value} outside {low}..{high}")
        return value


def _checksum(body: bytes) -> int:
    return reduce(lambda acc, byte: acc ^ byte, body, 0)


def encode(kind: str, *fields: str | int) -> bytes:
    body = ",".join([kind, *map(str, fields)]).encode("ascii")
    if not set(body) <= _ALLOWED:
        raise ValueError(f"cannot frame {body!r}")
    return b"$" + body + b"*" + f"{_checksum(body):02X}".encode() + b"\r\n"


def decode(line: bytes) -> Frame:
    """Parse one line (with or without its CR LF); raises FrameError on anything else."""
    line = line.rstrip(b"\r\n")
    if len(line) > MAX_LINE:
        raise FrameError(f"line of {len(line)} bytes exceeds {MAX_LINE}")
    if len(line) < 4 or line[:1] != b"$" or line[-3:-2] != b"*":
        raise FrameError("not a $...*CS frame")
    body, given = line[1:-3], line[-2:]
    if not set(body) <= _ALLOWED:
        raise FrameError("non-printable or reserved bytes in the frame")
    try:
        expected = int(given, 16)
    except ValueError:
        raise FrameError("checksum is not hexadecimal") from None
    if _checksum(body) != expected:
        raise FrameError("checksum mismatch")
    kind, *fields = body.decode("ascii").split(",")
    if not kind:
        raise FrameError("empty frame kind")
    return Frame(kind, tuple(fields))
