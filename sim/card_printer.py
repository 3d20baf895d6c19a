"""A simulated Evolis card printer on the simulated USB bus, written from the Evolis
Programming Guide A5013 (Rev. D2 and E) and from what integrators' code shows of real
printers' answers, not from the station's driver.

It reads the commands (`card_printer_language`) and answers each on its IN endpoint. In
the standard protocol an answer is a line of text ended by CR, or by NUL (`answer_end`):
"OK", a value, or an error text from the tables integrators match (docs/devices/
card_printer.md). Once the host sends `Pem;4` it answers in the guide's ACK/NACK protocol
(p. 7): ACK where it would say "OK", NACK and a code for an error, values as before. As a
real printer does, it takes the bytes of a bulk OUT transfer at once and works through
the commands on its own, in order: a host that stops waiting for an answer does not stop
a card mid-move. A USB reset drops the commands not yet begun and the answers nobody
read, that of the command under way too.

The mechanics are counted one card at a time: a feeder of blanks, each given a serial
("KTP" and ten digits, from the seed) as it is picked; a ribbon counted in cards; the
card's place inside (card path, contactless station, smart card station, print
position); the output and a reject box of limited capacity. When a card reaches the
station `slot` belongs to (the contactless one by default) it is inserted into the slot
(the simulated chip reader), and removed when it moves on. Every printed front is kept,
and saved as a PNG in `faces_dir` for a person to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol

from PIL import Image

from appliance.logs import get_logger

from ._base import Fault, FaultState, Timing, seeded
from .card_printer_language import (
    ACK,
    LINE_BYTES,
    LINE_DOTS,
    LINES,
    NACK,
    OK,
    PANEL_BYTES,
    PARAMETERS,
    Command,
    EvolisStream,
    Refusal,
    expand_panel,
)
from .usb import UsbBus
from .usb_device import UsbDescriptor, UsbInPipe

if TYPE_CHECKING:
    from .smartcard import VirtualCard

log = get_logger(__name__)

FEEDER_CAPACITY: Final = 100
RIBBON_CARDS: Final = 400  # a monochrome black ribbon
MAX_KEPT_FACES: Final = 100
_INVERT: Final = bytes(255 - value for value in range(256))


class Place(StrEnum):
    PATH = "path"  # between stations: where a card stops when it jams
    CONTACTLESS = "contactless"
    SMART = "smart"
    PRINT = "print"


# Rlr;p's answer for each place (Rev. E p. 34 "ERR CARD"; leithergit/Z390 the others).
_POSITION_ANSWERS: Final = {
    Place.PATH: "ERR CARD",
    Place.CONTACTLESS: "CONTACTLESS CARD",
    Place.SMART: "SMART CARD",
    Place.PRINT: "CARD",
}


class CardSlot(Protocol):
    """Where a card at a chip station can be read: the simulated reader's slot."""

    async def insert(self, card: VirtualCard) -> None: ...

    async def remove(self) -> VirtualCard | None: ...


@dataclass(slots=True)
class SimCard:
    serial: str
    place: Place
    chip: VirtualCard | None = None  # made when the card first reaches the slot's station


@dataclass(frozen=True, slots=True)
class PrintedFace:
    sequence: int
    serial: str
    image: Image.Image  # 1016x648, one bit
    path: Path | None  # the PNG, when the printer has a faces_dir


class CardPrinterSim:
    """An Evolis card printer with a black ribbon, speaking A5013 over (simulated) USB."""

    supported_faults: ClassVar[frozenset[Fault]] = frozenset(
        {
            Fault.UNPLUG,
            Fault.HANG,
            Fault.GARBAGE,
            Fault.SLOW,
            Fault.COVER_OPEN,
            Fault.JAM,
            Fault.RIBBON_OUT,
            Fault.FEEDER_EMPTY,
        }
    )
    driver_kind: ClassVar[str] = "evolis_usb"

    def __init__(
        self,
        *,
        name: str,
        bus: UsbBus,
        slot: CardSlot | None = None,
        slot_station: Literal["contactless", "contact"] = "contactless",
        make_card: Callable[[str], VirtualCard] | None = None,
        faces_dir: Path | None = None,
        seed: int = 0,
        timing: Timing | None = None,
        hopper: int = FEEDER_CAPACITY,
        ribbon: int = RIBBON_CARDS,
        reject_box_capacity: int = 10,
        answer_end: Literal["cr", "nul"] = "cr",
        no_card_answer: Literal["NO CARD", "OK"] = "NO CARD",
        dbc_parameters: Literal[3, 4] = 3,
        vendor_id: int = 0x0F49,
        product_id: int = 0x5A01,
        serial: str | None = None,
        seconds_per_move: float = 0.8,
        seconds_per_print: float = 6.0,
    ) -> None:
        """`make_card` turns a serial into the card put in `slot` (by default a
        `sim.smartcard.VirtualCard`, imported only then). `answer_end`, `no_card_answer`
        and `dbc_parameters` choose between what the guide and integrators show of
        different firmware: how answers end, what `Rlr;p` says of an empty printer, and
        which `Dbc` form it reads."""
        self.name = name
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self.usb_descriptor = UsbDescriptor(
            vendor_id=vendor_id,
            product_id=product_id,
            manufacturer="KTPEL-SIM",
            product="Evolis card printer",
            serial=serial or f"SIM-{name.upper()}-{seed:04d}",
            bcd_device=0x0106,
        )
        self.slot = slot
        self.slot_station = slot_station
        self.faces_dir = faces_dir
        self.hopper = hopper
        self.ribbon = ribbon
        self.reject_box_capacity = reject_box_capacity
        self.seconds_per_move = seconds_per_move
        self.seconds_per_print = seconds_per_print
        self.card: SimCard | None = None
        self.reject_box: list[str] = []
        self.ejected: list[str] = []
        self.output_tray: list[VirtualCard] = []
        """Ejected cards with their chips, for a person (or a test) to take to a reader."""
        self.printed: list[PrintedFace] = []
        self.printed_panels = 0
        self.parameters: dict[str, tuple[str, ...]] = {}
        """The parameter commands received since power-on or `Srs`, the last of each."""
        self.ack_nack = False  # Pem;4 (Rev. E p. 20): answers in the ACK/NACK protocol
        self._bus = bus
        self._seed = seed
        self._make_card = make_card
        self._rng: random.Random = seeded(seed, name)
        self._end = b"\r" if answer_end == "cr" else b"\x00"
        self._no_card = no_card_answer
        self._dbc_parameters = dbc_parameters
        self._slot_place = Place.SMART if slot_station == "contact" else Place.CONTACTLESS
        self._stream = EvolisStream(dbc_parameters=dbc_parameters)
        self._answers = UsbInPipe()
        # Each command with the reset generation it came in: a reset bumps it, so the
        # command under way then is not answered.
        self._commands: asyncio.Queue[tuple[int, Command]] = asyncio.Queue()
        self._generation = 0
        self._worker: asyncio.Task[None] | None = None
        self._jammed = False
        self._sequence = False  # between Ss and Se
        self._panel: bytes | None = None  # the black panel downloaded in this sequence
        self._faces = 0
        self._moves: dict[str, Callable[[], Awaitable[str]]] = {
            "Sic": lambda: self._insert(Place.CONTACTLESS),
            "Sis": lambda: self._insert(Place.SMART),
            "Se": self._end_sequence,
            "Ser": self._reject,
        }
        self._reads: dict[tuple[str, ...], Callable[[], str]] = {
            ("Ss",): self._start_sequence,
            ("Sr",): lambda: OK,  # the front: the only side without a flip-over station
            ("Rfv",): lambda: "1.4.2-sim",
            ("Rlr", "p"): self._position,
            ("Rlr", "h"): lambda: "CARD" if self.reject_box_full else "NO CARD",
            ("Rse", "o"): lambda: self._volts(on=not self.cover_open),
            ("Rse", "f"): lambda: self._volts(on=not self.feeder_empty),
            ("Rcr",): lambda: Refusal.RIBBON if self.ribbon_left == 0 else OK,
            ("Rco", "p"): lambda: str(self.printed_panels),
            # Rev. E p. 31 prints the option as "I"; dpavlin's evolis-command.pl sends "l".
            ("Rco", "l"): lambda: str(self.ribbon_left),
            ("Rco", "I"): lambda: str(self.ribbon_left),
        }

    # -- SimulatedDevice

    async def start(self) -> None:
        if self.faces_dir is not None:
            self.faces_dir.mkdir(parents=True, exist_ok=True)
        self._bus.attach(self)

    async def stop(self) -> None:
        self._bus.detach(self)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    def config_overlay(self) -> dict[str, Any]:
        """Where the station's driver finds this printer, and how it must talk to it."""
        overlay = self._bus.config_overlay(self.driver_kind, self.usb_descriptor)
        return overlay | {"dbc_parameters": self._dbc_parameters, "chip_station": self.slot_station}

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None:
        self.faults.inject(fault, params)

    def clear(self, fault: Fault | None = None) -> None:
        if fault in (None, Fault.JAM) and self._jammed:
            # The operator opened the cover and freed the card; with the cover closed the
            # printer draws it back under the head, where it waits to be put away.
            self._jammed = False
            if self.card is not None:
                self.card.place = Place.PRINT
        self.faults.clear(fault)

    # -- the operator

    def load_hopper(self, cards: int) -> None:
        if cards < 1 or self.hopper + cards > FEEDER_CAPACITY:
            raise ValueError(f"the feeder holds {FEEDER_CAPACITY} cards; it has {self.hopper}")
        self.hopper += cards

    def replace_ribbon(self, cards: int = RIBBON_CARDS) -> None:
        self.ribbon = cards

    def empty_reject_box(self) -> list[str]:
        """Take the rejected cards out; their serials, for the record."""
        cards, self.reject_box = self.reject_box, []
        return cards

    # -- what the sensors see

    @property
    def cover_open(self) -> bool:
        return Fault.COVER_OPEN in self.faults

    @property
    def feeder_empty(self) -> bool:
        return Fault.FEEDER_EMPTY in self.faults or self.hopper == 0

    @property
    def ribbon_left(self) -> int:
        return 0 if Fault.RIBBON_OUT in self.faults else self.ribbon

    @property
    def reject_box_full(self) -> bool:
        return len(self.reject_box) >= self.reject_box_capacity

    # -- SimulatedUsbDevice

    async def bulk_out(self, endpoint: int, data: bytes) -> None:  # noqa: ARG002 - one OUT endpoint
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name=f"{self.name}-commands")
        for command in self._stream.feed(data):
            self._commands.put_nowait((self._generation, command))

    async def bulk_in(self, endpoint: int, size: int) -> bytes:  # noqa: ARG002 - one IN endpoint
        return await self._answers.get(size)

    def usb_reset(self) -> None:
        self._generation += 1
        self._stream.reset()
        self._answers.clear()
        # Dropped now rather than when the worker comes to them, so that `idle()` holds.
        while not self._commands.empty():
            self._commands.get_nowait()
            self._commands.task_done()

    async def idle(self) -> None:
        """Wait until every command received so far has been worked through."""
        await self._commands.join()

    async def _work(self) -> None:
        while True:
            generation, command = await self._commands.get()
            try:  # what a reset found still queued, it dropped (`usb_reset`)
                self._answer(generation, await self._apply(command))
            except Exception:
                # A fault of the simulator's own (its slot, say): the firmware's
                # "unknown error", and the printer goes on answering.
                log.exception("card_printer_sim_command_failed", command=command.name)
                self._answer(generation, Refusal.INTERNAL)
            finally:
                self._commands.task_done()

    def _answer(self, generation: int, answer: str) -> None:
        if generation != self._generation:
            return  # reset while the command ran: the motion ends, its answer is lost
        if Fault.GARBAGE in self.faults:
            self._answers.put(self._noise())
        elif self.ack_nack and answer == OK:
            self._answers.put(ACK)
        elif self.ack_nack and isinstance(answer, Refusal):
            self._answers.put(NACK + answer.nack_code)
        else:
            self._answers.put(answer.encode("ascii") + self._end)

    # -- the commands

    async def _apply(self, command: Command) -> str:
        name, parameters = command.name, command.parameters
        if name in ("Dbc", "Db"):
            return self._download(command)
        if name in PARAMETERS:
            return self._set_parameter(name, parameters)
        move = self._moves.get(name)
        if move is not None:
            return await move() if not parameters else Refusal.PARAMETER
        read = self._reads.get((name, *parameters))
        if read is not None:
            return read()
        known = name in self._moves or any(key[0] == name for key in self._reads)
        return Refusal.PARAMETER if known else Refusal.COMMAND

    def _set_parameter(self, name: str, parameters: tuple[str, ...]) -> str:
        if not PARAMETERS[name](parameters):
            return Refusal.PARAMETER
        if name == "Pem" and parameters[0] == "4":
            # "Does not change the previous Pem value but it sets the ACK/NACK Mode", from
            # this command's own answer on.
            self.ack_nack = True
            return OK
        self.parameters[name] = parameters
        return OK

    def _position(self) -> str:
        return self._no_card if self.card is None else _POSITION_ANSWERS[self.card.place]

    def _volts(self, *, on: bool) -> str:
        volts = 4.9 + self._rng.random() / 10 if on else self._rng.random() / 10
        return f"{volts:.2f} Volts".replace(".", ",")

    def _start_sequence(self) -> str:
        self._sequence, self._panel = True, None
        return OK

    def _download(self, command: Command) -> str:
        """Dbc/Db of the black (k) or overlay (o) panel in 2 levels: what a black
        ribbon prints. Colour panels need a colour ribbon this printer does not have."""
        panel, levels, *rest = (*command.parameters, "", "")
        if panel not in ("k", "o") or levels != "2":
            return Refusal.PARAMETER
        if command.name == "Db":
            lines = command.data if len(command.data) == PANEL_BYTES else None
        elif self._dbc_parameters == 4:
            first = rest[0]
            if not first.isdigit() or int(first) >= LINES:
                return Refusal.PARAMETER
            lines = expand_panel(command.data, lines=LINES - int(first))
            lines = None if lines is None else bytes(int(first) * LINE_BYTES) + lines
        else:
            lines = expand_panel(command.data)
        if lines is None:
            return Refusal.PARAMETER
        if panel == "k":  # the overlay is varnish: nothing to see on the face
            self._panel = lines
        return OK

    def _refusal(self) -> Refusal | None:
        """Why no card may move now; None if it may."""
        if self.cover_open:
            return Refusal.COVER
        if self._jammed:
            return Refusal.JAM
        return None

    async def _insert(self, to: Place) -> str:
        """Si, Sic, Sis: a card from the feeder (Pmi;F) to `to`."""
        if (refused := self._refusal()) is not None:
            return refused
        if self.card is not None:
            return Refusal.CARD_INSIDE
        if self.feeder_empty:
            return Refusal.FEEDER
        self.hopper -= 1
        self.card = SimCard(f"KTP{self._rng.randrange(10**10):010d}", Place.PATH)
        return await self._move(self.card, to)

    async def _end_sequence(self) -> str:
        """Se: the end of what Ss or an Si began, and the card goes out (Rev. E p. 42);
        with a panel downloaded since Ss, it is printed first (Rev. E p. 69)."""
        panel, self._panel = self._panel, None
        in_sequence, self._sequence = self._sequence, False
        if (refused := self._refusal()) is not None:
            return refused
        if in_sequence and panel is not None:
            # A job for a card not yet taken: the feeder's next.
            answer = OK if self.card is not None else await self._insert(Place.PRINT)
            if answer != OK or self.card is None:
                return answer
            return await self._print(self.card, panel)
        if self.card is None:
            return Refusal.NO_CARD
        return await self._out(self.card, to_reject_box=False)

    async def _print(self, card: SimCard, panel: bytes) -> str:
        if self.ribbon_left == 0:
            return Refusal.RIBBON
        if card.place is not Place.PRINT and (answer := await self._move(card, Place.PRINT)) != OK:
            return answer
        await self.timing.pause(self.seconds_per_print)
        if self.ribbon_left == 0:  # torn while the card went under the head
            return Refusal.RIBBON
        self._print_face(card.serial, panel)
        return await self._out(card, to_reject_box=False)

    async def _reject(self) -> str:
        if (refused := self._refusal()) is not None:
            return refused
        if self.card is None:
            return Refusal.NO_CARD
        if self.reject_box_full:
            return Refusal.MECHANICAL  # the card cannot go in: it stops at the box
        return await self._out(self.card, to_reject_box=True)

    async def _out(self, card: SimCard, *, to_reject_box: bool) -> str:
        answer = await self._move(card, None)
        if answer != OK:
            return answer
        if to_reject_box:
            self.reject_box.append(card.serial)
        else:
            self.ejected.append(card.serial)
            self.output_tray.append(card.chip or self._card_for(card.serial))
        return OK

    async def _move(self, card: SimCard, to: Place | None) -> str:
        """Move the card inside to `to`, or out of the printer (None); it may jam."""
        await self.timing.pause(self.seconds_per_move)
        if card.place is self._slot_place and self.slot is not None:
            card.chip = await self.slot.remove() or card.chip
        if Fault.JAM in self.faults:
            card.place = Place.PATH
            self._jammed = True
            return Refusal.JAM
        if to is None:
            self.card = None
            return OK
        card.place = to
        if to is self._slot_place and self.slot is not None:
            card.chip = card.chip or self._card_for(card.serial)
            await self.slot.insert(card.chip)
        return OK

    def _card_for(self, serial: str) -> VirtualCard:
        if self._make_card is not None:
            return self._make_card(serial)
        from .smartcard import VirtualCard  # noqa: PLC0415 - only when cards go into a slot

        return VirtualCard(serial=serial, seed=self._seed)

    def _print_face(self, serial: str, lines: bytes) -> None:
        self.ribbon -= 1
        self.printed_panels += 1
        # Lines run along the short edge with 1 for ink; Pillow's one-bit images have 1
        # for white. Turned back, the face reads as the card does.
        image = Image.frombytes("1", (LINE_DOTS, LINES), lines.translate(_INVERT))
        image = image.transpose(Image.Transpose.ROTATE_90)
        self._faces += 1
        path = None
        if self.faces_dir is not None:
            path = self.faces_dir / f"{self._faces:05d}-{serial}.png"
            image.save(path, format="PNG")
        self.printed.append(PrintedFace(self._faces, serial, image, path))
        del self.printed[:-MAX_KEPT_FACES]

    def _noise(self) -> bytes:
        # Line noise that cannot pass for an answer: a byte no answer can begin with and
        # a few more, or a babble of characters longer than any answer, without end.
        if self._rng.random() < 0.5:
            noise = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(0, 24)))
            return bytes([self._rng.randrange(0x80, 0x100)]) + noise + b"\r"
        return bytes(self._rng.randrange(0x20, 0x7F) for _ in range(self._rng.randint(140, 200)))
