"""The simulated card printer's side of the Evolis language, read from the Evolis
Programming Guide A5013 (Rev. D2 and E), not from the station's driver.

`EvolisStream` splits what the host sends into commands: `ESC name;param;... CR`, the
start character optional after a CR (Rev. E p. 4), NULs between commands ignored (the
Evolis Windows driver pads its jobs with them: dpavlin/Printer-EVOLIS test.windows/),
and the two downloads whose data is binary: `Dbc` (compressed; its three- or
four-parameter form, p. 6 and p. 15) and `Db` (p. 14). `expand_panel` undoes the K/O
panel compression (p. 5-6). Neither ever raises on input, however broken or cut short.
`Refusal` and `PARAMETERS` are what the printer answers and accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final, Literal

CR: Final = 0x0D
LINES: Final = 1016  # the card's long edge at 300 dpi, one head line each (p. 4)
LINE_DOTS: Final = 648  # the short edge
LINE_BYTES: Final = LINE_DOTS // 8
PANEL_BYTES: Final = LINES * LINE_BYTES  # Db's 2-level data: 648 x 1016 / 8 (p. 14)
MAX_PACKED: Final = LINES * (1 + LINE_BYTES)  # every line with its count byte
MAX_COMMAND_CHARS: Final = 256
_MAX_DOWNLOAD_HEADER: Final = 40  # "Dbc;k;2;1015;83312;" with room to spare
_BETWEEN: Final = frozenset({0x00, 0x0D, 0x1B})  # padding, stop and start characters
ACK: Final = b"\x06"
NACK: Final = b"\x15"
OK: Final = "OK"


@dataclass(frozen=True, slots=True)
class Command:
    """One command: `name` is "" for a line that is not one."""

    name: str
    parameters: tuple[str, ...] = ()
    data: bytes = b""


class EvolisStream:
    """Splits the host's byte stream into commands, across transfers; never raises.

    A line longer than MAX_COMMAND_CHARS, or a download header that does not parse, is
    one malformed command, and everything up to the next CR goes with it.
    """

    MAX_PENDING: ClassVar[int] = _MAX_DOWNLOAD_HEADER + MAX_PACKED + 1

    def __init__(self, *, dbc_parameters: Literal[3, 4] = 3) -> None:
        self._pending = bytearray()
        self._discarding = False
        # Parameters before Dbc's data: panel, levels, [first line,] byte count.
        self._dbc_fields = dbc_parameters

    def reset(self) -> None:
        self._pending.clear()
        self._discarding = False

    def feed(self, data: bytes) -> list[Command]:
        self._pending += data
        commands: list[Command] = []
        while (command := self._next()) is not None:
            commands.append(command)
        return commands

    def _next(self) -> Command | None:
        data = self._pending
        if self._discarding:
            end = data.find(CR)
            if end < 0:
                data.clear()
                return None
            del data[: end + 1]
            self._discarding = False
        start = 0
        while start < len(data) and data[start] in _BETWEEN:
            start += 1
        del data[:start]
        for name, fields in (("Dbc", self._dbc_fields), ("Db", 2)):
            if data.startswith(name.encode("ascii") + b";"):
                return self._download(name, fields)
        end = data.find(CR, 0, MAX_COMMAND_CHARS + 1)
        if end < 0:
            if len(data) <= MAX_COMMAND_CHARS:
                return None  # the rest is on its way
            return self._malformed()
        line = bytes(data[:end])
        del data[: end + 1]
        if any(not 0x20 <= byte <= 0x7E for byte in line):
            return Command("")
        name, *parameters = line.decode("ascii").split(";")
        return Command(name, tuple(parameters))

    def _download(self, name: str, fields: int) -> Command | None:
        """`name;f1;...;fn;` and binary data: Dbc's length is its last field, Db's is
        that of a 2-level panel (the only one this printer's ribbon prints)."""
        data = self._pending
        head = bytes(data[:_MAX_DOWNLOAD_HEADER])
        parts = head.split(b";", fields + 1)
        if len(parts) < fields + 2:
            complete = CR in head or len(head) == _MAX_DOWNLOAD_HEADER
            return self._malformed() if complete else None
        header_size = sum(len(part) + 1 for part in parts[: fields + 1])
        values = [part.decode("ascii", "replace") for part in parts[1 : fields + 1]]
        if name == "Dbc":
            length = parts[fields]
            if not length.isdigit() or int(length) > MAX_PACKED:
                return self._malformed()
            size = int(length)
        else:
            size = PANEL_BYTES
        if CR in head[:header_size]:
            return self._malformed()
        end = header_size + size
        if len(data) <= end:
            return None
        command = Command(name, tuple(values), bytes(data[header_size:end]))
        terminated = data[end] == CR
        del data[: end + 1]
        if not terminated:
            self._discarding = True
            return Command("")
        return command

    def _malformed(self) -> Command:
        data = self._pending
        end = data.find(CR)
        if end < 0:
            data.clear()
            self._discarding = True
        else:
            del data[: end + 1]
        return Command("")


def expand_panel(packed: bytes, *, lines: int = LINES) -> bytes | None:
    """A compressed K or O panel's `lines` lines (1 = ink), or None if `packed` is not
    exactly that many (p. 5-6: 0x00 a white line, 0xFF a black one, N in 1..81 the
    line's N first bytes, the rest white)."""
    expanded = bytearray()
    position = 0
    while position < len(packed) and len(expanded) < lines * LINE_BYTES:
        marker = packed[position]
        position += 1
        if marker == 0x00:
            expanded += bytes(LINE_BYTES)
        elif marker == 0xFF:
            expanded += b"\xff" * LINE_BYTES
        elif marker <= LINE_BYTES and position + marker <= len(packed):
            expanded += packed[position : position + marker] + bytes(LINE_BYTES - marker)
            position += marker
        else:
            return None
    if position != len(packed) or len(expanded) != lines * LINE_BYTES:
        return None
    return bytes(expanded)


class Refusal(StrEnum):
    """The error answers this printer gives in the standard protocol, each with its NACK
    code (Rev. E p. 7) for the ACK/NACK protocol. "ERR CARD" and "NO CARD" are the
    guide's words (Rev. E p. 34); the others are from the table Evolis's VB.NET sample
    matches answers against (ecquinosa/acc-afpslai-cardPrinting,
    AFPSLAI_EVOLISPRIMACY/Evolis/Printer/CPrinter.vb). "T" (time-out, mechanical) stands
    for what has no code of its own."""

    COMMAND = "ERROR CDE"
    PARAMETER = "ERROR PARAMETRES"
    MECHANICAL = "ERROR TIME OUT"
    COVER = "COVER OPEN"
    FEEDER = "FEEDER EMPTY"
    RIBBON = "ERROR RIBBON"
    JAM = "CARD JAM"
    CARD_INSIDE = "ERR CARD"
    NO_CARD = "NO CARD"
    INTERNAL = "ERROR UNKNOW"

    @property
    def nack_code(self) -> bytes:
        return _NACK_CODES.get(self, b"T")


_NACK_CODES: Final = {
    Refusal.COMMAND: b"1",
    Refusal.PARAMETER: b"2",
    Refusal.COVER: b"C",
    Refusal.FEEDER: b"F",
    Refusal.RIBBON: b"R",
}


def _signed_value(parameters: tuple[str, ...]) -> bool:
    """`+`, `-` or `=` and a number of dots (Pos, Poc: Rev. E p. 57, p. 61)."""
    return len(parameters) == 2 and parameters[0] in "+-=" and parameters[1].isdigit()


# The parameter commands this printer takes, with what makes their parameters valid.
PARAMETERS: Final[dict[str, Callable[[tuple[str, ...]], bool]]] = {
    # Pem;p1[;s] (Rev. E p. 20): the named values; the bit table is not self-consistent.
    "Pem": lambda p: 1 <= len(p) <= 2 and p[0] in {"0", "1", "2", "3", "4", "5", "16", "18"},
    "Pmi": lambda p: len(p) >= 1 and p[0] in {"F", "M", "B"},  # Rev. E p. 22
    "Pos": _signed_value,
    "Poc": _signed_value,
}
