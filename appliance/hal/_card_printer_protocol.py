"""The Evolis printer language, as the Evolis Programming Guide A5013 (Rev. D2 and E) has it.

What goes to the printer: commands framed `ESC name;param;... CR` (Rev. E p. 4) and the
black panel of a card front, compressed line by line and downloaded with `Dbc` (p. 5-6,
p. 15). What comes back: one answer per command. The guide defines only the ACK/NACK
protocol's answers (p. 7: ACK, or NACK and a code); the standard protocol's answers, a
line of text ("OK", a value, an error), and how an answer ends (CR, or NUL as libevolis
and dpavlin/Printer-EVOLIS read them) come from integrators' code. Every table below
names its source; docs/devices/card_printer.md has them all in its conformance table.

No I/O here: the driver (`_card_printer.py`) sends what this module frames and reads
answers with `read_answer`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from PIL import Image

# The front of a card as the caller composes it: CR80 at 300 dpi, landscape.
PANEL_WIDTH: Final = 1016
PANEL_HEIGHT: Final = 648
# As the head prints it (Rev. E p. 4): 1016 lines of 648 dots, 81 bytes a line.
LINE_BYTES: Final = PANEL_HEIGHT // 8
PANEL_BYTES: Final = PANEL_WIDTH * LINE_BYTES

ESC: Final = b"\x1b"
CR: Final = b"\r"
# An answer ends at CR or at NUL; either may pad it, or the gap before the next one.
TERMINATORS: Final = frozenset(b"\r\x00")
ACK: Final = 0x06
NACK: Final = 0x15
MAX_ANSWER_CHARS: Final = 128

_WHITE_LINE: Final = 0x00
_BLACK_LINE: Final = 0xFF
_FULL_LINE: Final = b"\xff" * LINE_BYTES
_INVERT: Final = bytes(255 - value for value in range(256))


class DbcParameters(IntEnum):
    """The two forms of `Dbc` the guide shows (docs/devices/card_printer.md says why
    THREE is the default)."""

    THREE = 3  # Dbc;panel;levels;bytes - Rev. D2 p. 6, Rev. E p. 6
    FOUR = 4  # Dbc;panel;levels;first line;bytes - Rev. E p. 15


def command_bytes(name: str, *parameters: str) -> bytes:
    """`ESC name;p1;...;pn CR` (Rev. E p. 4)."""
    return ESC + ";".join((name, *parameters)).encode("ascii") + CR


def bitmap_command(panel: bytes, *, form: DbcParameters = DbcParameters.THREE) -> bytes:
    """Download the black panel (`k`, 2 levels), compressed (`front_panel`), as `Dbc`."""
    header = ["k", "2", str(len(panel))]
    if form is DbcParameters.FOUR:
        header.insert(2, "0")  # the first line to print: the whole panel
    return ESC + ";".join(("Dbc", *header, "")).encode("ascii") + panel + CR


def front_panel(image: Image.Image | bytes) -> bytes:
    """The front of a card (a 1016x648 Pillow image or PNG) as compressed `Dbc` data.

    Dithered to one bit, turned 270 degrees (as dpavlin/Printer-EVOLIS turns a face with
    `pnmflip -rotate270`) so that each line runs along the card's short edge as the head
    prints it, first dot in the high bit, 1 for ink; then compressed (`compress_panel`).
    """
    from PIL import Image  # noqa: PLC0415 - Pillow loads with the first card printed

    if isinstance(image, bytes):
        image = _png(image)
    if image.size != (PANEL_WIDTH, PANEL_HEIGHT):
        raise ValueError(f"the front panel must be {PANEL_WIDTH}x{PANEL_HEIGHT}, not {image.size}")
    if "A" in image.getbands():  # transparent means blank card, not black
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    mono = image.convert("L").convert("1").transpose(Image.Transpose.ROTATE_270)
    return compress_panel(mono.tobytes().translate(_INVERT))


def compress_panel(lines: bytes) -> bytes:
    """The K and O panel compression (Rev. D2 and E p. 5-6), line by line: 0x00 a white
    line, 0xFF a black one, else N (1..81), the index of the line's last useful byte,
    and the line's first N bytes."""
    if len(lines) != PANEL_BYTES:
        raise ValueError(f"a panel is {PANEL_BYTES} bytes, not {len(lines)}")
    packed = bytearray()
    for start in range(0, PANEL_BYTES, LINE_BYTES):
        line = lines[start : start + LINE_BYTES]
        kept = line.rstrip(b"\x00")
        if not kept:
            packed.append(_WHITE_LINE)
        elif line == _FULL_LINE:
            packed.append(_BLACK_LINE)
        else:
            packed.append(len(kept))
            packed += kept
    return bytes(packed)


def _png(data: bytes) -> Image.Image:
    from PIL import Image  # noqa: PLC0415 - see front_panel

    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not an image: {exc}") from None
    if image.format != "PNG":
        raise ValueError(f"the front panel must be a PNG, not {image.format}")
    return image


# -- answers

# NACK codes (Rev. D2 and E p. 7), as the fault codes of appliance.hal._errors. "T" is a
# time-out or mechanical error; the driver asks where the card is to tell a jam.
NACK_CODES: Final = {
    "1": "device_error",  # command error
    "2": "device_error",  # parameter error
    "T": "device_error",  # time-out error, mechanical error
    "C": "cover_open",
    "F": "feeder_empty",
    "R": "ribbon_out",
    "K": "device_error",  # magnetic checksum error
    "D": "device_error",  # magnetic data error
    "W": "device_error",  # writing magnetic data error
}
# The standard protocol's error answers. "ERR CARD" and "NO CARD" are the guide's own
# (Rev. E p. 34), "ERR RIB DETECTION" leithergit/Z390's (QEvolisPrinter.cpp), the rest
# the table of Evolis's VB.NET sample vendored in ecquinosa/acc-afpslai-cardPrinting
# (AFPSLAI_EVOLISPRIMACY/Evolis/Printer/CPrinter.vb). Any other answer beginning with
# "ERR" (which "ERROR" does too) is a device_error.
ERROR_ANSWERS: Final = {
    "ERR CARD": "card_in_printer",
    "NO CARD": "no_card",
    "ERR RIB DETECTION": "ribbon_out",
    "ERROR RIBBON": "ribbon_out",
    "COVER OPEN": "cover_open",
    "FEEDER EMPTY": "feeder_empty",
    "CARD JAM": "card_jam",
    "NEED CLEANING": "device_error",
    "HOPPER FULL": "device_error",
    "HOPPER DOOR": "device_error",
    "OPT NOT AVAILABLE": "device_error",
}

_UNSUPPORTED: Final = frozenset({"ERROR CDE", "ERROR PARAMETRES", "OPT NOT AVAILABLE"})


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer: a line of text (standard protocol), or ACK, or NACK and its code."""

    text: str = ""
    ack: bool = False
    nack: str | None = None

    @property
    def ok(self) -> bool:
        """The command was done: "OK", or ACK."""
        return self.ack or self.text == "OK"

    @property
    def unsupported(self) -> bool:
        """The printer does not know the command or its parameter: NACK 1 or 2 (p. 7),
        or the standard protocol's "ERROR CDE", "ERROR PARAMETRES", "OPT NOT AVAILABLE"
        (the Evolis sample above)."""
        return self.nack in {"1", "2"} or self.text in _UNSUPPORTED

    @property
    def refusal(self) -> str | None:
        """The fault code if this is an error answer, else None."""
        if self.nack is not None:
            return NACK_CODES[self.nack]
        code = ERROR_ANSWERS.get(self.text)
        if code is None and self.text.startswith("ERR"):
            return "device_error"
        return code

    def __str__(self) -> str:
        if self.ack:
            return "ACK"
        return f"NACK {self.nack}" if self.nack is not None else self.text


def read_answer(received: bytes) -> Answer | None:
    """The answer in `received`, the bytes read so far; None if it has not ended yet.

    CR or NUL bytes before an answer (padding, or the end of the one before) are
    skipped, and after it allowed. Raises ValueError for bytes no printer could send:
    text that is not printable ASCII or runs past MAX_ANSWER_CHARS, a NACK without a
    known code, or anything else after the answer.
    """
    data = received.lstrip(CR + b"\x00")
    if not data:
        return None
    first = data[0]
    if first == ACK:
        answer, rest = Answer(ack=True), data[1:]
    elif first == NACK:
        if len(data) < 2:
            return None
        code = chr(data[1])
        if code not in NACK_CODES:
            raise ValueError(f"NACK with an unknown code: {data[:2].hex()}")
        answer, rest = Answer(nack=code), data[2:]
    else:
        end = next((i for i, byte in enumerate(data) if byte in TERMINATORS), None)
        line = data if end is None else data[:end]
        if any(not 0x20 <= byte <= 0x7E for byte in line):
            raise ValueError(f"not an answer: {data[:MAX_ANSWER_CHARS].hex()}")
        if len(line) > MAX_ANSWER_CHARS:
            raise ValueError("an answer without end")
        if end is None:
            return None
        answer, rest = Answer(text=line.decode("ascii")), data[end:]
    if rest.strip(CR + b"\x00"):
        raise ValueError(f"bytes after the answer {answer}: {rest[:32].hex()}")
    return answer
