"""A simulated ESC/POS queue-ticket printer on the simulated USB bus.

It reads the byte stream the driver sends as a thermal printer would: text in the
selected code page, the print-mode, size and alignment commands, the native QR code
(`GS ( k`), the cut that ends a ticket, and the real-time status requests (`DLE EOT n`),
which it answers at once on its IN endpoint. Whatever else arrives, however broken or
cut short, is skipped: `EscposStream` never raises on input.

Each ticket cut while the printer could print is kept in `printed` with its lines (text
and size) and QR payloads, and can be drawn to a PNG for a person to look at. The paper
roll is modelled in tickets, so a long run wears it down to near-end and out.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Final

import qrcode
from PIL import Image, ImageDraw, ImageFont

from ._base import Fault, FaultState, Timing, seeded
from .usb import UsbBus
from .usb_device import UsbDescriptor, UsbInPipe

ESC: Final = 0x1B
GS: Final = 0x1D
DLE: Final = 0x10
FS: Final = 0x1C
LF: Final = 0x0A

MAX_LINE_CHARS: Final = 512
MAX_KEPT_TICKETS: Final = 10_000
_FIXED_STATUS_BITS: Final = 0x12  # bits 1 and 4 are always set in a DLE EOT answer

# Commands with a fixed number of parameter bytes after their two command bytes.
_PARAMETERS: Final = {
    b"\x1b!": 1,  # print mode
    b"\x1bE": 1,  # emphasis
    b"\x1bG": 1,  # double strike
    b"\x1b-": 1,  # underline
    b"\x1bM": 1,  # font
    b"\x1b{": 1,  # upside down
    b"\x1ba": 1,  # alignment
    b"\x1bt": 1,  # code page
    b"\x1bd": 1,  # feed n lines
    b"\x1bJ": 1,  # feed n dots
    b"\x1b3": 1,  # line spacing
    b"\x1bR": 1,  # international character set
    b"\x1bV": 1,  # rotation
    b"\x1bc": 2,  # panel buttons, paper sensors
    b"\x1bp": 3,  # cash drawer pulse
    b"\x1d!": 1,  # character size
    b"\x1dB": 1,  # reverse
    b"\x1db": 1,  # smoothing
    b"\x1dH": 1,  # HRI position
    b"\x1df": 1,  # HRI font
    b"\x1dh": 1,  # barcode height
    b"\x1dw": 1,  # barcode width
    b"\x1da": 1,  # automatic status back
    b"\x10\x04": 1,  # real-time status
    b"\x10\x05": 1,  # real-time request
    b"\x10\x14": 3,  # real-time pulse / power off
}
_CUT_WITH_FEED: Final = frozenset({65, 66, 97, 98, 103, 104})  # GS V m n

_CODE_PAGES: Final = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
}
_ALIGNMENT: Final = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


@dataclass(frozen=True, slots=True)
class Token:
    """One unit of the stream: `command` is b"" for printable text, else its bytes."""

    command: bytes
    argument: bytes = b""


class EscposStream:
    """Splits an ESC/POS byte stream into tokens, across transfers; never raises."""

    # The longest command: GS ( k with a 16-bit length, plus its header.
    MAX_PENDING: ClassVar[int] = 5 + 0xFFFF

    def __init__(self) -> None:
        self._pending = bytearray()

    def reset(self) -> None:
        self._pending.clear()

    def feed(self, data: bytes) -> list[Token]:
        self._pending += data
        tokens: list[Token] = []
        position = 0
        while position < len(self._pending):
            found = self._token_at(position)
            if found is None:
                break  # a command cut short: wait for the rest
            token, size = found
            tokens.append(token)
            position += size
        del self._pending[:position]
        return tokens

    def _token_at(self, start: int) -> tuple[Token, int] | None:
        data = self._pending
        first = data[start]
        if first in (ESC, GS, DLE, FS):
            return self._command_at(start)
        if first < 0x20:
            return Token(bytes([first])), 1
        end = start
        while end < len(data) and data[end] >= 0x20:
            end += 1
        return Token(b"", bytes(data[start:end])), end - start

    def _command_at(self, start: int) -> tuple[Token, int] | None:
        data = self._pending
        size = self._command_size(start)
        if size is None or len(data) - start < size:
            return None
        if data[start : start + 2] == b"\x1d(":  # GS ( fn pL pH data...
            return Token(
                bytes(data[start : start + 3]), bytes(data[start + 5 : start + size])
            ), size
        return Token(bytes(data[start : start + 2]), bytes(data[start + 2 : start + size])), size

    def _command_size(self, start: int) -> int | None:
        """How long the command at `start` is, or None until enough of it is here to tell."""
        data = self._pending
        available = len(data) - start
        if available < 2:
            return None
        command = bytes(data[start : start + 2])
        if command == b"\x1d(":
            return 5 + data[start + 3] + 256 * data[start + 4] if available >= 5 else None
        if command == b"\x1dV":
            return (4 if data[start + 2] in _CUT_WITH_FEED else 3) if available >= 3 else None
        return 2 + _PARAMETERS.get(command, 0)


@dataclass(frozen=True, slots=True)
class PrintedLine:
    text: str
    align: str = "left"
    width: int = 1  # character size multipliers, 1 to 8
    height: int = 1
    bold: bool = False


@dataclass(frozen=True, slots=True)
class PrintedQr:
    payload: str
    module_size: int = 3


@dataclass(frozen=True, slots=True)
class PrintedTicket:
    """One ticket as it came out of the printer, from the start to the cut."""

    blocks: tuple[PrintedLine | PrintedQr, ...]

    @property
    def lines(self) -> list[PrintedLine]:
        return [block for block in self.blocks if isinstance(block, PrintedLine)]

    @property
    def qr_payloads(self) -> list[str]:
        return [block.payload for block in self.blocks if isinstance(block, PrintedQr)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def render_png(self, path: Path, *, width_px: int = 384) -> None:
        """Draw the ticket as a 58 mm thermal printer would (384 dots wide)."""
        rows: list[Image.Image] = [_render_block(block, width_px) for block in self.blocks]
        height = sum(row.height for row in rows) + 40
        page = Image.new("L", (width_px, height), 255)
        top = 20
        for row in rows:
            page.paste(row, (0, top))
            top += row.height
        page.save(path, format="PNG")


@dataclass(slots=True)
class _Style:
    align: str = "left"
    width: int = 1
    height: int = 1
    bold: bool = False
    codec: str = "cp437"
    qr_module: int = 3


@dataclass(slots=True)
class _Page:
    """The ticket being printed: finished blocks and the line still open."""

    blocks: list[PrintedLine | PrintedQr] = field(default_factory=list)
    line: str = ""
    line_style: _Style | None = None  # the style at the line's first character


class EscposPrinterSim:
    """A thermal queue-ticket printer speaking ESC/POS over (simulated) USB."""

    supported_faults: ClassVar[frozenset[Fault]] = frozenset(
        {Fault.UNPLUG, Fault.HANG, Fault.GARBAGE, Fault.SLOW, Fault.PAPER_OUT, Fault.COVER_OPEN}
    )
    driver_kind: ClassVar[str] = "escpos_usb"

    def __init__(
        self,
        *,
        name: str,
        bus: UsbBus,
        seed: int = 0,
        timing: Timing | None = None,
        vendor_id: int = 0x0416,
        product_id: int = 0x5011,
        serial: str | None = None,
        paper_tickets: int | None = None,
        near_end_tickets: int = 10,
        seconds_per_line: float = 0.03,
    ) -> None:
        self.name = name
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self.usb_descriptor = UsbDescriptor(
            vendor_id=vendor_id,
            product_id=product_id,
            manufacturer="KTPEL-SIM",
            product="POS-58 thermal printer",
            serial=serial or f"SIM-{name.upper()}-{seed:04d}",
            bcd_device=0x0102,
        )
        self.paper_tickets = paper_tickets  # None: a roll that never ends
        self.near_end_tickets = near_end_tickets
        self.seconds_per_line = seconds_per_line
        self.printed: list[PrintedTicket] = []
        self.spoiled = 0  # tickets cut while the printer could not print
        self.unknown_commands = 0
        self.status_requests = 0
        self._bus = bus
        self._rng: random.Random = seeded(seed, name)
        self._stream = EscposStream()
        self._style = _Style()
        self._page = _Page()
        self._qr_data = ""
        self._answers = UsbInPipe()
        self._printed_changed = asyncio.Event()

    # -- SimulatedDevice

    async def start(self) -> None:
        self._bus.attach(self)

    async def stop(self) -> None:
        self._bus.detach(self)

    def config_overlay(self) -> dict[str, Any]:
        return self._bus.config_overlay(self.driver_kind, self.usb_descriptor)

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None:
        self.faults.inject(fault, params)

    def clear(self, fault: Fault | None = None) -> None:
        self.faults.clear(fault)

    # -- the paper roll

    def load_paper(self, tickets: int | None = None) -> None:
        """A fresh roll: `tickets` long, or endless."""
        self.paper_tickets = tickets

    @property
    def paper_out(self) -> bool:
        return Fault.PAPER_OUT in self.faults or self.paper_tickets == 0

    @property
    def paper_near_end(self) -> bool:
        return self.paper_tickets is not None and self.paper_tickets <= self.near_end_tickets

    @property
    def cover_open(self) -> bool:
        return Fault.COVER_OPEN in self.faults

    async def wait_for_tickets(self, count: int) -> list[PrintedTicket]:
        """Until `count` tickets have been printed (bound it with asyncio.timeout)."""
        while len(self.printed) < count:
            self._printed_changed.clear()
            await self._printed_changed.wait()
        return self.printed

    def render_png(self, path: Path, *, index: int = -1) -> None:
        self.printed[index].render_png(path)

    # -- SimulatedUsbDevice

    async def bulk_out(self, endpoint: int, data: bytes) -> None:  # noqa: ARG002 - one OUT endpoint
        for token in self._stream.feed(data):
            await self._apply(token)

    async def bulk_in(self, endpoint: int, size: int) -> bytes:  # noqa: ARG002 - one IN endpoint
        return await self._answers.get(size)

    def usb_reset(self) -> None:
        self._stream.reset()
        self._answers.clear()

    # -- the print engine

    def status_byte(self, request: int) -> int | None:
        """The answer to DLE EOT `request`; None for a request the printer ignores."""
        paper_out, cover_open = self.paper_out, self.cover_open
        match request:
            case 1:  # printer: offline
                return _FIXED_STATUS_BITS | (0x08 if paper_out or cover_open else 0)
            case 2:  # offline cause: cover open, stopped at paper end
                return _FIXED_STATUS_BITS | (0x04 if cover_open else 0) | (0x20 if paper_out else 0)
            case 3:  # error cause: none simulated
                return _FIXED_STATUS_BITS
            case 4:  # paper sensors: near-end, end
                return (
                    _FIXED_STATUS_BITS
                    | (0x0C if self.paper_near_end else 0)
                    | (0x60 if paper_out else 0)
                )
        return None

    async def _apply(self, token: Token) -> None:  # noqa: PLR0912 - one branch per command
        command, argument = token.command, token.argument
        style = self._style
        if command == b"":
            self._write_text(argument.decode(style.codec, errors="replace"))
        elif command == b"\n":
            self._end_line()
        elif command == b"\x10\x04":
            self._answer_status(argument[0])
        elif command == b"\x1b@":
            self._style = _Style()
            self._page.line, self._page.line_style = "", None
        elif command == b"\x1b!":
            style.bold = bool(argument[0] & 0x08)
            style.height = 2 if argument[0] & 0x10 else 1
            style.width = 2 if argument[0] & 0x20 else 1
        elif command == b"\x1d!":
            style.width, style.height = (argument[0] >> 4 & 7) + 1, (argument[0] & 7) + 1
        elif command == b"\x1bE":
            style.bold = bool(argument[0] & 1)
        elif command == b"\x1ba":
            style.align = _ALIGNMENT.get(argument[0], style.align)
        elif command == b"\x1bt":
            style.codec = _CODE_PAGES.get(argument[0], "cp437")
        elif command == b"\x1bd":
            self._end_line()
        elif command == b"\x1dV":
            await self._cut()
        elif command == b"\x1d(k":
            self._qr(argument)
        elif command not in _PARAMETERS and len(command) == 2:
            self.unknown_commands += 1

    def _write_text(self, text: str) -> None:
        page = self._page
        if page.line_style is None:
            page.line_style = replace(self._style)
        page.line = (page.line + text)[:MAX_LINE_CHARS]

    def _end_line(self) -> None:
        page = self._page
        if page.line_style is not None and page.line.strip():
            style = page.line_style
            page.blocks.append(
                PrintedLine(
                    text=page.line.strip(),
                    align=style.align,
                    width=style.width,
                    height=style.height,
                    bold=style.bold,
                )
            )
        page.line, page.line_style = "", None

    def _qr(self, argument: bytes) -> None:
        if len(argument) < 3 or argument[0] != 0x31:  # cn 49: QR code
            return
        function = argument[1]
        if function == 67:  # module size
            self._style.qr_module = max(1, min(16, argument[2]))
        elif function == 80:  # store the data (after m)
            self._qr_data = argument[3:].decode("utf-8", errors="replace")
        elif function == 81 and self._qr_data:  # print what is stored
            self._end_line()
            self._page.blocks.append(PrintedQr(self._qr_data, self._style.qr_module))

    def _answer_status(self, request: int) -> None:
        self.status_requests += 1
        answer = self.status_byte(request)
        if answer is None:
            return
        if Fault.GARBAGE in self.faults:
            self._answers.put(self._noise())
        else:
            self._answers.put(bytes([answer]))

    def _noise(self) -> bytes:
        # Line noise: either several bytes, or one whose fixed bits are wrong. (Noise that
        # happens to look like a valid answer could not be told from one by anybody.)
        if self._rng.random() < 0.5:
            return bytes(self._rng.randrange(256) for _ in range(self._rng.randint(2, 8)))
        return bytes([self._rng.randrange(256) & ~0x10])

    async def _cut(self) -> None:
        self._end_line()
        page, self._page = self._page, _Page()
        if not page.blocks:
            return
        if self.paper_out or self.cover_open:
            self.spoiled += 1
            return
        await self.timing.pause(self.seconds_per_line * len(page.blocks))
        self.printed.append(PrintedTicket(tuple(page.blocks)))
        del self.printed[:-MAX_KEPT_TICKETS]
        if self.paper_tickets is not None:
            self.paper_tickets -= 1
        self._printed_changed.set()


def _render_block(block: PrintedLine | PrintedQr, width_px: int) -> Image.Image:
    if isinstance(block, PrintedQr):
        code = qrcode.QRCode(box_size=max(2, block.module_size), border=2)
        code.add_data(block.payload)
        image = code.make_image().get_image().convert("L")
        row = Image.new("L", (width_px, image.height + 8), 255)
        row.paste(image, ((width_px - image.width) // 2, 4))
        return row
    font = ImageFont.load_default(size=12 * max(block.width, block.height))
    _, _, right, bottom = font.getbbox(block.text)
    row = Image.new("L", (width_px, int(bottom) + 8), 255)
    text_width = int(right)
    x = {"left": 4, "center": (width_px - text_width) // 2, "right": width_px - text_width - 4}[
        block.align
    ]
    ImageDraw.Draw(row).text((x, 4), block.text, font=font, fill=0)
    return row
