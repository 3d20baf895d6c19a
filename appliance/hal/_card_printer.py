"""The KTP-el card printer: an Evolis card printer on USB, driven as the Evolis
Programming Guide A5013 describes (the language itself: `_card_printer_protocol`).

Every command goes to the printer's bulk OUT endpoint through `UsbBulkDevice`, and its
answer is read from the bulk IN endpoint. docs/devices/card_printer.md traces every
command sent and every answer accepted to the guide or to integrators' code.

Blank cards are counted one by one, so no card may be lost track of. The printer is set
to leave error recovery to the host (`Pem;2`): after a fault it never moves a card on its
own. Every card operation asks the printer first (its sensors, and `Rlr;p` for where the
card is), refuses before moving a card it could not finish, and checks afterwards that
the card is where the command should have left it. Where a card went once it left the
printer (given out or rejected) only the driver knows, and it says so until the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, Literal, Self, TypeVar

from pydantic import NonNegativeInt, PositiveFloat

from appliance._text import Text
from appliance.logs import get_logger

from ._card_printer_protocol import (
    Answer,
    DbcParameters,
    bitmap_command,
    command_bytes,
    front_panel,
    read_answer,
)
from ._card_printer_status import (
    CardPosition,
    CardPrinterReport,
    parse_count,
    parse_position,
    parse_reject_box_full,
    parse_ribbon_at_end,
    parse_sensor,
)
from ._device import Device
from ._errors import DeviceFault, DeviceTimeout
from ._registry import DeviceKind, DeviceType, register
from ._status import DeviceIdentity, DeviceState, DeviceStatus
from ._usb import USB_CHECKLIST, UsbBulkDevice, UsbDeviceConfig

if TYPE_CHECKING:
    from PIL import Image

log = get_logger(__name__)

T = TypeVar("T")

_READ_SIZE: Final = 64  # one full-speed packet
# The bitmap goes out in transfers of this size, each with its own timeout, so that a
# printer that stops taking data is noticed within one reply timeout.
_CHUNK: Final = 16 * 1024
# Emptying the IN pipe of a printer just opened (anything it sent unasked): each read
# waits this long for more.
_DRAIN_WAIT_S: Final = 0.02
_DRAIN_READS: Final = 8

# What moving the card already inside can do without.
_MOVING_ONLY: Final = frozenset({"feeder_empty", "ribbon_out", "reject_box_full"})


class CardPrinterConfig(UsbDeviceConfig):
    """`[devices.<name>]` for an Evolis card printer on USB."""

    kind: Literal["evolis_usb"]
    connect_timeout_s: PositiveFloat = 5.0
    probe_timeout_s: PositiveFloat = 2.0
    reply_timeout_s: PositiveFloat = 0.5
    move_timeout_s: PositiveFloat = 10.0
    print_timeout_s: PositiveFloat = 30.0
    answer_protocol: Literal["standard", "ack_nack"] = "standard"
    dbc_parameters: Literal[3, 4] = 3
    chip_station: Literal["contactless", "contact"] = "contactless"
    chip_station_offset_dots: NonNegativeInt | None = None  # None: the printer's own
    ribbon_low_cards: NonNegativeInt = 50


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
        answer_protocol: Literal["standard", "ack_nack"] = "standard",
        dbc_parameters: Literal[3, 4] = 3,
        chip_station: Literal["contactless", "contact"] = "contactless",
        chip_station_offset_dots: int | None = None,
        ribbon_low_cards: int = 50,
    ) -> None:
        """`backend` is a pyusb backend object; None lets pyusb find libusb."""
        super().__init__(
            name=name, connect_timeout_s=connect_timeout_s, probe_timeout_s=probe_timeout_s
        )
        self.reply_timeout_s = reply_timeout_s
        self.move_timeout_s = move_timeout_s
        self.print_timeout_s = print_timeout_s
        self.dbc_form = DbcParameters(dbc_parameters)
        self.ribbon_low_cards = ribbon_low_cards
        # Pem;2: the host manages errors (Rev. E p. 20); Pmi;F: cards from the feeder only
        # (p. 22); Pem;4: answers in the ACK/NACK protocol (p. 7, p. 20).
        settings: list[tuple[str, ...]] = [("Pem", "2"), ("Pmi", "F")]
        if answer_protocol == "ack_nack":
            settings.append(("Pem", "4"))
        # Sic takes a card to the contactless station (Rev. E p. 43), Sis to the smart
        # card contacts (Rev. D2 p. 39, Rev. E p. 59); Poc and Pos set where it stops.
        if chip_station == "contact":
            self._insert, self._station = "Sis", CardPosition.AT_SMART_STATION
            offset = "Pos"
        else:
            self._insert, self._station = "Sic", CardPosition.AT_CONTACTLESS_STATION
            offset = "Poc"
        if chip_station_offset_dots is not None:
            settings.append((offset, "=", str(chip_station_offset_dots)))
        self._settings = tuple(settings)
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
        self._unsupported: set[str] = set()  # status reads this printer refused, logged once

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
            answer_protocol=config.answer_protocol,
            dbc_parameters=config.dbc_parameters,
            chip_station=config.chip_station,
            chip_station_offset_dots=config.chip_station_offset_dots,
            ribbon_low_cards=config.ribbon_low_cards,
        )

    @property
    def chip_station(self) -> CardPosition:
        """Where `feed()` leaves a card for its chip to be written."""
        return self._station

    async def feed(self, *, timeout_s: float | None = None) -> None:
        """Take a blank from the feeder to the chip station (`Sic`, or `Sis`).

        Refused, before any card moves, unless the printer could also print and reject
        it, or while a card is still inside (`card_in_printer`: reject it first).
        """
        deadline = self.move_timeout_s if timeout_s is None else timeout_s
        async with self._card_operation("feed", timeout_s=deadline, tolerating=frozenset()):
            position = await self._where()
            if position.in_printer:
                raise DeviceFault(self.name, "card_in_printer", f"the card is {position}")
            await self._move(self._insert, to=self._station, timeout_s=deadline)
            self._last_out = None
        log.info("card_fed", device=self.name, station=self._station.value)
        await self.check()

    async def print_front(
        self, image: Image.Image | bytes, *, timeout_s: float | None = None
    ) -> None:
        """Print the front (1016x648, Pillow image or PNG) of the card inside, in black,
        and give the card out: `Ss`, `Sr`, `Dbc`, `Se` (Rev. D2 p. 40, Rev. E p. 69).

        A print that fails leaves the card in the printer (the host manages errors):
        reject it next.
        """
        panel = bitmap_command(front_panel(image), form=self.dbc_form)  # a bad image: now
        deadline = self.print_timeout_s if timeout_s is None else timeout_s
        tolerating = frozenset({"feeder_empty", "reject_box_full"})
        async with self._card_operation("print_front", timeout_s=deadline, tolerating=tolerating):
            await self._card_inside()
            self._expect_ok("Ss", await self._ask("Ss"))
            self._expect_ok("Sr", await self._ask("Sr"))
            self._expect_ok("Dbc", await self._exchange(panel, "Dbc", deadline))
            await self._move("Se", to=CardPosition.NONE, timeout_s=deadline)
            self._last_out = CardPosition.EJECTED
        log.info("card_printed", device=self.name)
        await self.check()

    async def eject(self, *, timeout_s: float | None = None) -> None:
        """Give the card inside out through the output, unprinted (`Se`)."""
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
        """Cover, card, ribbon, feeder, reject box and counter."""
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
        if not firmware.text or firmware.refusal is not None:
            raise DeviceFault(self.name, "garbage", f"Rfv answered {firmware}")
        identity = replace(identity, firmware=firmware.text)
        log.info("card_printer_opened", device=self.name, **identity.to_json())
        return identity

    async def _configure(self) -> None:
        """Make a printer just opened and reset ready for requests: its pipe emptied
        of anything it sent unasked, and the settings sent."""
        self._interrupted = False
        await self._drain()
        for name, *parameters in self._settings:
            answer = await self._ask(name, *parameters)
            self._expect_ok(";".join((name, *parameters)), answer)

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
        answer = await self._ask("Rlr", "p")
        position = parse_position(answer)
        if position is None:
            raise DeviceFault(self.name, "garbage", f"Rlr;p answered {answer}")
        return position

    async def _move(self, command: str, *, to: CardPosition, timeout_s: float) -> None:
        """One card movement, checked: the card must be where the command sends it.

        A movement refused or failed mid-way leaves the card where it stopped; one
        stopped between stations is a jam, whatever the printer's answer called it.
        """
        answer = await self._ask(command, timeout_s=timeout_s)
        if not answer.ok:
            code = answer.refusal
            if code is not None and await self._where() is CardPosition.IN_CARD_PATH:
                code = "card_jam"
            self._expect_ok(command, answer, code)
        position = await self._where()
        if position is not to:
            raise DeviceFault(
                self.name, "device_error", f"after {command} the card is {position}, not {to}"
            )

    async def _report(self) -> CardPrinterReport:
        position = await self._where()
        cover_closed = parse_sensor(await self._ask("Rse", "o"))
        if cover_closed is None:
            raise DeviceFault(self.name, "garbage", "Rse;o is not a sensor reading")
        feeder = await self._optional(parse_sensor, "Rse", "f")
        remaining = await self._optional(parse_count, "Rco", "l")
        return CardPrinterReport(
            position=position,
            cover_open=not cover_closed,
            feeder_empty=None if feeder is None else not feeder,
            ribbon_at_end=await self._optional(parse_ribbon_at_end, "Rcr"),
            ribbon_remaining=remaining,
            ribbon_low=remaining is not None and remaining <= self.ribbon_low_cards,
            reject_box_full=await self._optional(parse_reject_box_full, "Rlr", "h"),
            panels_printed=await self._optional(parse_count, "Rco", "p"),
        )

    async def _optional(
        self, parse: Callable[[Answer], T | None], name: str, *parameters: str
    ) -> T | None:
        """A status read the printer's firmware may not have: None if the printer
        refuses it as unknown, garbage if it answers what `parse` cannot read."""
        answer = await self._ask(name, *parameters)
        what = ";".join((name, *parameters))
        if answer.unsupported:
            if what not in self._unsupported:
                self._unsupported.add(what)
                log.warning("card_printer_read_unsupported", device=self.name, read=what)
            return None
        value = parse(answer)
        if value is None:
            raise DeviceFault(self.name, "garbage", f"{what} answered {answer}")
        return value

    def _expect_ok(self, what: str, answer: Answer, code: str | None = None) -> None:
        if answer.ok:
            return
        code = code or answer.refusal
        if code is None:
            raise DeviceFault(self.name, "garbage", f"{what} answered {answer}")
        raise DeviceFault(self.name, code, f"{what} answered {answer}")

    # -- the wire

    async def _ask(self, name: str, *parameters: str, timeout_s: float | None = None) -> Answer:
        wait = self.reply_timeout_s if timeout_s is None else timeout_s
        return await self._exchange(command_bytes(name, *parameters), name, wait)

    async def _exchange(self, request: bytes, what: str, wait_s: float) -> Answer:
        """Send one command and read its answer, waiting up to `wait_s` for it."""
        if self._interrupted and self._usb.is_open:
            log.warning("card_printer_reset", device=self.name, why="a request was cut off")
            await self._usb.open(reset=True)
            await self._configure()
        self._interrupted = True
        # The printer takes a bitmap as fast as its buffer drains, slower while it is busy:
        # its writes are bounded by the command's deadline, like its answer.
        for start in range(0, len(request), _CHUNK):
            await self._usb.write(request[start : start + _CHUNK], timeout_s=wait_s)
        received = b""
        while True:
            try:
                answer = read_answer(received)
            except ValueError as exc:
                raise DeviceFault(self.name, "garbage", f"{what}: {exc}") from None
            if answer is not None:
                break
            received += await self._usb.read(size=_READ_SIZE, timeout_s=wait_s)
        self._interrupted = False
        return answer

    async def _drain(self) -> None:
        for _ in range(_DRAIN_READS):
            try:
                await self._usb.read(size=_READ_SIZE, timeout_s=_DRAIN_WAIT_S)
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
