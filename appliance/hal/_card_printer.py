"""The KTP-el card printer: an Evolis-style card printer on USB.

Commands are Evolis escape commands, `ESC name;param;... CR`, written to the printer's
bulk OUT endpoint through `UsbBulkDevice`; every command gets one answer on the bulk IN
endpoint, a line of printable ASCII ended by CR: "OK", a value ("5,00 Volts",
"CONTACTLESS CARD", "1.6.04") or "ERR;<REASON>". docs/devices/card_printer.md lists the
subset used here and which commands are Evolis's own and which are ours.

Blank cards are counted one by one, so no card may be lost track of. The printer is set
to leave error recovery to us (`Pem;2`): it never moves a card on its own. Every card
operation asks the printer first (its sensors, `Rlr;p` for where the card is), refuses
before moving a card it could not finish, and checks afterwards that the card is where
the command should have left it. Where a card went once it left the printer (ejected or
rejected) only the driver knows, and it says so until the next card is fed.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from pydantic import PositiveFloat

from appliance._text import Text
from appliance.logs import get_logger

from ._device import Device
from ._errors import DeviceFault, DeviceTimeout, status_for
from ._registry import DeviceKind, DeviceType, register
from ._status import READY, DeviceIdentity, DeviceState, DeviceStatus
from ._usb import USB_CHECKLIST, UsbBulkDevice, UsbDeviceConfig

# Pillow (about 6 MB with its libraries) loads with the first card printed, not with the
# daemon: a station idles without it (docs/footprint.md).
if TYPE_CHECKING:
    from PIL import Image

log = get_logger(__name__)

# The front panel: a CR80 card at 300 dpi, landscape as the caller composes it.
PANEL_WIDTH: Final = 1016
PANEL_HEIGHT: Final = 648
# As the head prints it: 1016 lines across the card's short edge, 648 dots (81 bytes) each.
LINE_BYTES: Final = PANEL_HEIGHT // 8
PANEL_BYTES: Final = PANEL_WIDTH * LINE_BYTES
MAX_REPLY_CHARS: Final = 128

ESC: Final = b"\x1b"
CR: Final = b"\r"
_REPLY_SIZE: Final = 64  # one full-speed packet
# The bitmap goes out in transfers of this size, each with its own timeout, so that a
# printer that stops taking data is noticed within one reply timeout.
_CHUNK: Final = 16 * 1024
# Emptying the IN pipe of a printer just opened (anything it sent unasked): each read
# waits this long for more.
_DRAIN_WAIT_S: Final = 0.02
_DRAIN_READS: Final = 8
_FULL_LINE: Final = b"\xff" * LINE_BYTES
_INVERT: Final = bytes(255 - value for value in range(256))
_SENSOR_ON_VOLTS: Final = 2.5  # the sensors read about 0 V or 5 V
# Set on every open: software manages errors (the printer never moves a card by itself
# after a fault), cards come from the feeder, rejected cards go to the reject box, and a
# printed card stays in the printer until we eject it.
_SETTINGS: Final = (("Pem", "2"), ("Pcim", "F"), ("Pcrm", "D"), ("Pneab", "E"))
_ERRORS: Final = {
    "FEEDER_EMPTY": "feeder_empty",
    "COVER_OPEN": "cover_open",
    "JAM": "card_jam",
    "RIBBON_OUT": "ribbon_out",
    "REJECT_BOX_FULL": "reject_box_full",
    "HEAD_TEMP": "overheating",
    "NO_CARD": "no_card",
}
_VOLTS: Final = re.compile(r"(\d{1,2}),(\d{2}) Volts", re.ASCII)
_COUNT: Final = re.compile(r"\d{1,9}", re.ASCII)
# Xst: ribbon panels left; ribbon near its end; head degrees C; head cooling down; jam.
_STATE: Final = re.compile(r"(\d{1,5});([01]);(-?\d{1,3});([01]);([01])", re.ASCII)

# What moving the card inside can do without (an empty feeder does not stop the printer
# from printing or ejecting the card already inside).
_MOVING_ONLY: Final = frozenset({"feeder_empty", "ribbon_out", "reject_box_full", "overheating"})


class CardPosition(StrEnum):
    NONE = "none"  # no card in the printer, and none handled since the driver started
    IN_FEEDER_PATH = "in_feeder_path"  # stopped between stations: a jam
    AT_CONTACTLESS_STATION = "at_contactless_station"
    AT_PRINT_POSITION = "at_print_position"
    EJECTED = "ejected"  # the last card left through the output: the printer is empty
    REJECTED = "rejected"  # the last card went to the reject box: the printer is empty

    @property
    def in_printer(self) -> bool:
        return self in _INSIDE


_INSIDE: Final = frozenset(
    {
        CardPosition.IN_FEEDER_PATH,
        CardPosition.AT_CONTACTLESS_STATION,
        CardPosition.AT_PRINT_POSITION,
    }
)
# Rlr;p answers; "PATH CARD" is ours (a card stopped between stations).
_POSITIONS: Final = {
    "OK": CardPosition.NONE,
    "CARD": CardPosition.AT_PRINT_POSITION,
    "CONTACTLESS CARD": CardPosition.AT_CONTACTLESS_STATION,
    "PATH CARD": CardPosition.IN_FEEDER_PATH,
}


def command_bytes(name: str, *parameters: str) -> bytes:
    """`ESC name;p1;...;pn CR`."""
    return ESC + ";".join((name, *parameters)).encode("ascii") + CR


def bitmap_command(panel: bytes) -> bytes:
    """`Dbc;k;2;<length>;<data> CR`: the black panel, 2 levels, compressed (`front_panel`)."""
    return ESC + b"Dbc;k;2;%d;" % len(panel) + panel + CR


def front_panel(image: Image.Image | bytes) -> bytes:
    """The front of a card (a 1016x648 Pillow image or PNG) as `Dbc` data.

    The image is dithered to one bit, turned so that each line runs along the card's
    short edge as the head prints it, set 1 for ink, and compressed line by line.
    """
    from PIL import Image  # noqa: PLC0415 - see the imports

    if isinstance(image, bytes):
        image = _png(image)
    if image.size != (PANEL_WIDTH, PANEL_HEIGHT):
        raise ValueError(f"the front panel must be {PANEL_WIDTH}x{PANEL_HEIGHT}, not {image.size}")
    if "A" in image.getbands():  # transparent means blank card, not black
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    mono = image.convert("L").convert("1").transpose(Image.Transpose.ROTATE_270)
    return compress_panel(mono.tobytes().translate(_INVERT))


def compress_panel(lines: bytes) -> bytes:
    """Evolis's line compression: 0x00 a blank line, 0xFF a black one, else n and the
    line's first n bytes (the rest of the line blank)."""
    if len(lines) != PANEL_BYTES:
        raise ValueError(f"a panel is {PANEL_BYTES} bytes, not {len(lines)}")
    packed = bytearray()
    for start in range(0, PANEL_BYTES, LINE_BYTES):
        line = lines[start : start + LINE_BYTES]
        kept = line.rstrip(b"\x00")
        if not kept:
            packed.append(0x00)
        elif line == _FULL_LINE:
            packed.append(0xFF)
        else:
            packed.append(len(kept))
            packed += kept
    return bytes(packed)


def _png(data: bytes) -> Image.Image:
    from PIL import Image  # noqa: PLC0415 - see the imports

    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not an image: {exc}") from None
    if image.format != "PNG":
        raise ValueError(f"the front panel must be a PNG, not {image.format}")
    return image


def reply_text(line: bytes) -> str | None:
    """An answer line (without its CR) as text, or None if no printer could have sent it."""
    if len(line) > MAX_REPLY_CHARS or any(not 0x20 <= byte <= 0x7E for byte in line):
        return None
    return line.decode("ascii")


def parse_position(text: str) -> CardPosition | None:
    return _POSITIONS.get(text)


def parse_sensor(text: str) -> bool | None:
    """Whether an `Rse` sensor ("5,00 Volts") sees something; None if not a reading."""
    match = _VOLTS.fullmatch(text)
    if match is None:
        return None
    return float(f"{match[1]}.{match[2]}") >= _SENSOR_ON_VOLTS


@dataclass(frozen=True, slots=True)
class CardPrinterReport:
    """What the printer says about itself."""

    ribbon_remaining: int  # panels, one per card front
    ribbon_low: bool
    cover_open: bool
    feeder_empty: bool
    jam: bool
    head_temperature_c: int
    overheating: bool  # the head is cooling down and will not print until it has
    reject_box_full: bool
    cards_printed: int  # panels printed over the printer's life

    @classmethod
    def from_replies(
        cls, *, feeder: str, cover: str, reject_box: str, state: str, printed: str
    ) -> Self | None:
        """From the answers to Rse;f, Rse;o, Rlr;h, Xst and Rco;p; None if one is not valid."""
        cards_in_feeder, cover_closed = parse_sensor(feeder), parse_sensor(cover)
        box = {"CARD": True, "NO CARD": False}.get(reject_box)
        fields, count = _STATE.fullmatch(state), _COUNT.fullmatch(printed)
        if cards_in_feeder is None or cover_closed is None or box is None:
            return None
        if fields is None or count is None:
            return None
        ribbon, near_end, head, cooling, jam = fields.groups()
        return cls(
            ribbon_remaining=int(ribbon),
            ribbon_low=near_end == "1",
            cover_open=not cover_closed,
            feeder_empty=not cards_in_feeder,
            jam=jam == "1",
            head_temperature_c=int(head),
            overheating=cooling == "1",
            reject_box_full=box,
            cards_printed=int(count[0]),
        )

    @property
    def ribbon_out(self) -> bool:
        return self.ribbon_remaining == 0

    def device_status(self) -> DeviceStatus:
        # The cover first: with it open, the other sensors cannot be trusted. Then what
        # stops a card already inside, before what only stops the next one.
        for condition, code in (
            (self.cover_open, "cover_open"),
            (self.jam, "card_jam"),
            (self.ribbon_out, "ribbon_out"),
            (self.overheating, "overheating"),
            (self.reject_box_full, "reject_box_full"),
            (self.feeder_empty, "feeder_empty"),
            (self.ribbon_low, "ribbon_low"),
        ):
            if condition:
                return status_for(code)
        return READY


class CardPrinterConfig(UsbDeviceConfig):
    """`[devices.<name>]` for an Evolis-style card printer on USB."""

    kind: Literal["evolis_usb"]
    connect_timeout_s: PositiveFloat = 5.0
    probe_timeout_s: PositiveFloat = 2.0
    reply_timeout_s: PositiveFloat = 0.5
    move_timeout_s: PositiveFloat = 10.0
    print_timeout_s: PositiveFloat = 30.0


class CardPrinter(Device):
    kind = DeviceKind("card_printer", Text("printer kartu", "card printer"))

    def __init__(
        self,
        *,
        name: str,
        vendor_id: int,
        product_id: int,
        serial: str | None = None,
        backend: Any = None,
        reply_timeout_s: float = 0.5,
        move_timeout_s: float = 10.0,
        print_timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        probe_timeout_s: float = 2.0,
    ) -> None:
        """`backend` is a pyusb backend object; None lets pyusb find libusb."""
        super().__init__(
            name=name, connect_timeout_s=connect_timeout_s, probe_timeout_s=probe_timeout_s
        )
        self.reply_timeout_s = reply_timeout_s
        self.move_timeout_s = move_timeout_s
        self.print_timeout_s = print_timeout_s
        self._usb = UsbBulkDevice(
            name=name, vendor_id=vendor_id, product_id=product_id, serial=serial, backend=backend
        )
        # Set from a request's first byte until its answer is read. A request cut off
        # there leaves the printer out of step with the driver: inside a half-sent bitmap
        # (which swallows every later command), or still working on a move whose answer
        # comes whenever it ends, when it would be read as a later request's. Only a
        # reset makes it certain what the next answer answers.
        self._interrupted = False
        # Where the last card went once it left the printer; the printer cannot see it.
        self._last_out: CardPosition | None = None
        self._card_operation_starting = False

    @classmethod
    def from_config(cls, *, name: str, config: CardPrinterConfig) -> Self:
        return cls(
            name=name,
            vendor_id=config.vendor_id,
            product_id=config.product_id,
            serial=config.serial,
            backend=config.pyusb_backend(),
            reply_timeout_s=config.reply_timeout_s,
            move_timeout_s=config.move_timeout_s,
            print_timeout_s=config.print_timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            probe_timeout_s=config.probe_timeout_s,
        )

    async def feed(self, *, timeout_s: float | None = None) -> None:
        """Take a blank from the feeder to the contactless station (`Sic`).

        Refused, before any card moves, unless the printer could also print and reject
        it, or while a card is still inside (`card_in_printer`: reject it first).
        """
        deadline = self.move_timeout_s if timeout_s is None else timeout_s
        async with self._card_operation("feed", timeout_s=deadline, tolerating=frozenset()):
            position = await self._where()
            if position.in_printer:
                raise DeviceFault(self.name, "card_in_printer", f"the card is {position}")
            await self._move("Sic", to=CardPosition.AT_CONTACTLESS_STATION, timeout_s=deadline)
            self._last_out = None
        log.info("card_fed", device=self.name)
        await self.check()

    async def to_contactless(self, *, timeout_s: float | None = None) -> None:
        """Bring the card already inside (printed, say) back to the contactless station."""
        deadline = self.move_timeout_s if timeout_s is None else timeout_s
        async with self._card_operation("to_contactless", timeout_s=deadline):
            position = await self._card_inside()
            if position is not CardPosition.AT_CONTACTLESS_STATION:
                await self._move("Sic", to=CardPosition.AT_CONTACTLESS_STATION, timeout_s=deadline)
        log.info("card_moved_to_contactless", device=self.name, came_from=position.value)
        await self.check()

    async def print_front(
        self, image: Image.Image | bytes, *, timeout_s: float | None = None
    ) -> None:
        """Print the front (1016x648, Pillow image or PNG) on the card inside, in black.

        The card ends at the print position; eject or reject it next.
        """
        panel = bitmap_command(front_panel(image))  # a bad image is refused before anything
        deadline = self.print_timeout_s if timeout_s is None else timeout_s
        tolerating = frozenset({"feeder_empty", "reject_box_full"})
        async with self._card_operation("print_front", timeout_s=deadline, tolerating=tolerating):
            await self._card_inside()
            self._expect_ok("Ss", await self._ask("Ss", timeout_s=deadline))
            self._expect_ok("Sr", await self._ask("Sr"))
            self._expect_ok("Dbc", await self._exchange(panel, "Dbc", deadline))
            await self._move("Se", to=CardPosition.AT_PRINT_POSITION, timeout_s=deadline)
        log.info("card_printed", device=self.name)
        await self.check()

    async def eject(self, *, timeout_s: float | None = None) -> None:
        """Give the card inside out through the output (`Se`)."""
        deadline = self.move_timeout_s if timeout_s is None else timeout_s
        async with self._card_operation("eject", timeout_s=deadline):
            await self._card_inside()
            await self._move("Se", to=CardPosition.NONE, timeout_s=deadline)
            self._last_out = CardPosition.EJECTED
        log.info("card_ejected", device=self.name)
        await self.check()

    async def reject(self, *, timeout_s: float | None = None) -> None:
        """Put whatever card is in the printer into the reject box (`Ser`).

        With no card inside there is nothing to do: after a crash, the issuance can call
        this without knowing how far the last card got.
        """
        deadline = self.move_timeout_s if timeout_s is None else timeout_s
        tolerating = _MOVING_ONLY - {"reject_box_full"}
        async with self._card_operation("reject", timeout_s=deadline, tolerating=tolerating):
            position = await self._where()
            if position.in_printer:
                await self._move("Ser", to=CardPosition.NONE, timeout_s=deadline)
                self._last_out = CardPosition.REJECTED
        if position.in_printer:
            log.info("card_rejected", device=self.name, was=position.value)
        else:
            log.info("nothing_to_reject", device=self.name)
        await self.check()

    async def card_position(self) -> CardPosition:
        """Where the card is: the printer's own sensors, or where the last one went."""
        async with self._card_operation(
            "card_position", timeout_s=self.probe_timeout_s, ask_first=False
        ):
            position = await self._where()
        await self.check()
        return position if position.in_printer else self._last_out or CardPosition.NONE

    async def report(self) -> CardPrinterReport:
        """Ribbon, feeder, cover, jam, head temperature, reject box and counters."""
        async with self._card_operation("report", timeout_s=self.probe_timeout_s, ask_first=False):
            report = await self._report()
        self._set_status(report.device_status())
        return report

    # -- Device

    async def _connect(self) -> DeviceIdentity:
        # Reset: the last host may have been killed halfway through a bitmap, and the
        # printer would take everything that follows for the rest of it.
        identity = await self._usb.open(reset=True)
        await self._configure()
        firmware = await self._ask("Rfv")
        if not firmware:
            raise DeviceFault(self.name, "garbage", "Rfv answered nothing")
        identity = replace(identity, firmware=firmware)
        log.info("card_printer_opened", device=self.name, **identity.to_json())
        return identity

    async def _configure(self) -> None:
        """Make a printer just opened and reset ready for requests: its pipe emptied
        of anything it sent unasked, and the settings sent."""
        self._interrupted = False
        await self._drain()
        for name, value in _SETTINGS:
            self._expect_ok(name, await self._ask(name, value))

    async def _disconnect(self) -> None:
        await self._usb.close()

    async def _probe(self) -> DeviceStatus:
        return (await self._report()).device_status()

    async def _abandon(self) -> None:
        """A card operation ran past its deadline or was cancelled.

        A card printer cannot be stopped mid-move: it finishes the motion it started (or
        jams, and says so). So the card ends where the command sends it, or in the card
        path, and the printer's sensors tell which at the next call. What the driver
        knew about the last card to leave no longer holds; and the request cut off
        makes the next one reset the printer first (`_interrupted`).
        """
        self._last_out = None

    def _refuse_unless_usable(self) -> None:
        if self._card_operation_starting and self._status.state is DeviceState.NOT_READY:
            return  # asked afresh: that status may be old, or name what is not needed
        super()._refuse_unless_usable()

    # -- card operations

    @asynccontextmanager
    async def _card_operation(
        self,
        what: str,
        *,
        timeout_s: float,
        tolerating: frozenset[str] = _MOVING_ONLY,
        ask_first: bool = True,
    ) -> AsyncIterator[None]:
        """`operation()` for a card, refused only for what `what` cannot do without.

        A `NOT_READY` status does not refuse it at once: the status the supervisor last
        saw may be half a second old (the operator just loaded cards), or name something
        this operation does not need. With `ask_first` the printer is asked afresh, and
        the operation refused before anything moves unless all it lacks is `tolerating`.
        """
        self._card_operation_starting = True
        try:
            async with self.operation(what, timeout_s=timeout_s):
                self._card_operation_starting = False
                if ask_first:
                    status = (await self._report()).device_status()
                    if not status.usable and status.code not in tolerating:
                        raise DeviceFault(self.name, status.code or "device_error", what)
                yield
        finally:
            self._card_operation_starting = False

    async def _card_inside(self) -> CardPosition:
        position = await self._where()
        if not position.in_printer:
            raise DeviceFault(self.name, "no_card")
        return position

    async def _where(self) -> CardPosition:
        reply = await self._ask("Rlr", "p")
        position = parse_position(reply)
        if position is None:
            raise DeviceFault(self.name, "garbage", f"Rlr;p answered {reply!r}")
        return position

    async def _move(self, command: str, *, to: CardPosition, timeout_s: float) -> None:
        """One card movement, checked: the card must be where the command sends it."""
        self._expect_ok(command, await self._ask(command, timeout_s=timeout_s))
        position = await self._where()
        if position is not to:
            raise DeviceFault(
                self.name, "device_error", f"after {command} the card is {position}, not {to}"
            )

    async def _report(self) -> CardPrinterReport:
        report = CardPrinterReport.from_replies(
            feeder=await self._ask("Rse", "f"),
            cover=await self._ask("Rse", "o"),
            reject_box=await self._ask("Rlr", "h"),
            state=await self._ask("Xst"),
            printed=await self._ask("Rco", "p"),
        )
        if report is None:
            raise DeviceFault(self.name, "garbage", "the status answers are not valid")
        return report

    def _expect_ok(self, what: str, reply: str) -> None:
        if reply == "OK":
            return
        if reply.startswith("ERR;"):
            code = _ERRORS.get(reply.removeprefix("ERR;"), "device_error")
            raise DeviceFault(self.name, code, f"{what} answered {reply}")
        raise DeviceFault(self.name, "garbage", f"{what} answered {reply!r}")

    # -- the wire

    async def _ask(self, name: str, *parameters: str, timeout_s: float | None = None) -> str:
        wait = self.reply_timeout_s if timeout_s is None else timeout_s
        return await self._exchange(command_bytes(name, *parameters), name, wait)

    async def _exchange(self, request: bytes, what: str, wait_s: float) -> str:
        """Send one command and read its answer line, waiting up to `wait_s` for it."""
        if self._interrupted and self._usb.is_open:
            log.warning("card_printer_reset", device=self.name, why="a request was cut off")
            await self._usb.open(reset=True)
            await self._configure()
        self._interrupted = True
        # The printer takes a bitmap as fast as its buffer drains, slower while it is busy:
        # its writes are bounded by the command's deadline, like its answer.
        for start in range(0, len(request), _CHUNK):
            chunk = request[start : start + _CHUNK]
            await self._usb.write(chunk, timeout_s=wait_s)
        received = b""
        while CR not in received:
            if len(received) > MAX_REPLY_CHARS:
                raise DeviceFault(self.name, "garbage", f"{what}: an answer without end")
            received += await self._usb.read(size=_REPLY_SIZE, timeout_s=wait_s)
        line, _, rest = received.partition(CR)
        text = reply_text(line)
        if text is None or rest:
            raise DeviceFault(self.name, "garbage", f"{what} answered {received.hex()}")
        self._interrupted = False
        return text

    async def _drain(self) -> None:
        for _ in range(_DRAIN_READS):
            try:
                await self._usb.read(size=_REPLY_SIZE, timeout_s=_DRAIN_WAIT_S)
            except DeviceTimeout:
                return  # nothing more: the pipe is empty
        raise DeviceFault(self.name, "garbage", "the printer keeps sending unasked data")


register(
    DeviceType(
        device=CardPrinter,
        config=CardPrinterConfig,
        build=CardPrinter.from_config,
        checklist=USB_CHECKLIST,
    )
)
