"""A simulated Evolis-style card printer on the simulated USB bus.

It reads the escape commands the driver sends (`ESC name;param;... CR`, the start
character optional, NULs between commands ignored, `Dbc` with its binary bitmap) and
answers each with one line ended by CR on its IN endpoint. `EvolisStream` never raises
on input, however broken or cut short. As a real printer does, it takes the bytes of a
bulk OUT transfer at once and works through the commands on its own, in order: a host
that stops waiting for an answer does not stop a card mid-move. A USB reset drops the
commands not yet begun and the answers nobody read, that of the command under way too.

The mechanics are counted one card at a time: a hopper of blanks, each given a serial
("KTP" and ten digits, from the seed) as it is picked; a ribbon counted in panels; the
card's place inside (card path, contactless station, print position); the output and a
reject box of limited capacity; a print head that heats with consecutive prints and
cools in real time. When a card reaches the contactless station it is inserted into
`slot` (the simulated contactless reader), and removed when it moves on. Every printed
front is kept, and saved as a PNG in `faces_dir` for a person to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from PIL import Image

from appliance.logs import get_logger

from ._base import Fault, FaultState, Timing, seeded
from .usb import UsbBus, UsbDescriptor, UsbInPipe

if TYPE_CHECKING:
    from .smartcard import VirtualCard

log = get_logger(__name__)

CR: Final = 0x0D
LINES: Final = 1016  # the card's long edge at 300 dpi, one head line each
LINE_DOTS: Final = 648  # the short edge
LINE_BYTES: Final = LINE_DOTS // 8
PANEL_BYTES: Final = LINES * LINE_BYTES
MAX_PACKED: Final = LINES * (1 + LINE_BYTES)  # every line with its length byte
MAX_COMMAND_CHARS: Final = 256
_MAX_BITMAP_HEADER: Final = 32  # "Dbc;k;2;83312;" with room to spare
_BETWEEN: Final = frozenset({0x00, 0x0A, 0x0D, 0x1B})  # padding, line ends, start character

HOPPER_CAPACITY: Final = 100
RIBBON_PANELS: Final = 400  # a monochrome black ribbon
RIBBON_NEAR_END: Final = 50
AMBIENT_C: Final = 30.0
HEAT_PER_PRINT_C: Final = 8.0
OVERHEAT_C: Final = 70.0  # prints stop here...
RESUME_C: Final = 55.0  # ...until the head has cooled to here
COOLING_C_PER_S: Final = 0.5
MAX_KEPT_FACES: Final = 100
_INVERT: Final = bytes(255 - value for value in range(256))


@dataclass(frozen=True, slots=True)
class Command:
    """One command: `name` is "" for a line that is not one."""

    name: str
    parameters: tuple[str, ...] = ()
    data: bytes = b""


class EvolisStream:
    """Splits the host's byte stream into commands, across transfers; never raises.

    A line longer than MAX_COMMAND_CHARS, or a bitmap header that does not parse, is one
    malformed command, and everything up to the next CR goes with it.
    """

    MAX_PENDING: ClassVar[int] = _MAX_BITMAP_HEADER + MAX_PACKED + 1

    def __init__(self) -> None:
        self._pending = bytearray()
        self._discarding = False

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
        if data.startswith(b"Dbc;"):
            return self._bitmap()
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

    def _bitmap(self) -> Command | None:
        data = self._pending
        head = bytes(data[:_MAX_BITMAP_HEADER])
        fields = head.split(b";", 4)
        if len(fields) < 5:
            return self._malformed() if CR in head or len(head) == _MAX_BITMAP_HEADER else None
        header_size = sum(len(field) + 1 for field in fields[:4])
        length = fields[3]
        if CR in head[:header_size] or not length.isdigit() or int(length) > MAX_PACKED:
            return self._malformed()
        end = header_size + int(length)
        if len(data) <= end:
            return None
        command = Command(
            "Dbc",
            tuple(field.decode("ascii", "replace") for field in fields[1:4]),
            bytes(data[header_size:end]),
        )
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


def expand_panel(packed: bytes) -> bytes | None:
    """A `Dbc` black panel's lines (1 = ink), or None if `packed` is not exactly one."""
    lines = bytearray()
    position = 0
    while position < len(packed) and len(lines) < PANEL_BYTES:
        marker = packed[position]
        position += 1
        if marker == 0x00:
            lines += bytes(LINE_BYTES)
        elif marker == 0xFF:
            lines += b"\xff" * LINE_BYTES
        elif marker <= LINE_BYTES and position + marker <= len(packed):
            lines += packed[position : position + marker] + bytes(LINE_BYTES - marker)
            position += marker
        else:
            return None
    if position != len(packed) or len(lines) != PANEL_BYTES:
        return None
    return bytes(lines)


class CardSlot(Protocol):
    """Where a card at the contactless station can be read: the simulated reader's slot."""

    async def insert(self, card: VirtualCard) -> None: ...

    async def remove(self) -> VirtualCard | None: ...


class Place(StrEnum):
    PATH = "path"  # between stations: where a card stops when it jams
    CONTACTLESS = "contactless"
    PRINT = "print"


@dataclass(slots=True)
class SimCard:
    serial: str
    place: Place
    chip: VirtualCard | None = None  # made when the card first reaches the contactless station


@dataclass(frozen=True, slots=True)
class PrintedFace:
    sequence: int
    serial: str
    image: Image.Image  # 1016x648, one bit
    path: Path | None  # the PNG, when the printer has a faces_dir


class CardPrinterSim:
    """A card printer speaking Evolis escape commands over (simulated) USB."""

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
        make_card: Callable[[str], VirtualCard] | None = None,
        faces_dir: Path | None = None,
        seed: int = 0,
        timing: Timing | None = None,
        hopper: int = HOPPER_CAPACITY,
        ribbon: int = RIBBON_PANELS,
        reject_box_capacity: int = 10,
        vendor_id: int = 0x0F49,
        product_id: int = 0x5A01,
        serial: str | None = None,
        seconds_per_move: float = 0.8,
        seconds_per_print: float = 6.0,
        cooling_c_per_s: float = COOLING_C_PER_S,
    ) -> None:
        """`make_card` turns a serial into the card put in `slot` (by default a
        `sim.smartcard.VirtualCard`, imported only then). The head cools by
        `cooling_c_per_s` each real second: an office on scaled time cools it as fast as
        its clock runs, an instant one at once."""
        self.name = name
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self.usb_descriptor = UsbDescriptor(
            vendor_id=vendor_id,
            product_id=product_id,
            manufacturer="KTPEL-SIM",
            product="Evolis-style card printer",
            serial=serial or f"SIM-{name.upper()}-{seed:04d}",
            bcd_device=0x0106,
        )
        self.slot = slot
        self.faces_dir = faces_dir
        self.hopper = hopper
        self.ribbon = ribbon
        self.reject_box_capacity = reject_box_capacity
        self.seconds_per_move = seconds_per_move
        self.seconds_per_print = seconds_per_print
        self.cooling_c_per_s = cooling_c_per_s
        self.card: SimCard | None = None
        self.reject_box: list[str] = []
        self.ejected: list[str] = []
        self.output_tray: list[VirtualCard] = []
        """Ejected cards with their chips, for a person (or a test) to take to a reader."""
        self.printed: list[PrintedFace] = []
        self.printed_panels = 0
        self.parameters: dict[str, tuple[str, ...]] = {}
        self._bus = bus
        self._seed = seed
        self._make_card = make_card
        self._rng: random.Random = seeded(seed, name)
        self._stream = EvolisStream()
        self._answers = UsbInPipe()
        # Each command with the reset generation it came in: a reset bumps it, so the
        # command under way then is not answered.
        self._commands: asyncio.Queue[tuple[int, Command]] = asyncio.Queue()
        self._generation = 0
        self._worker: asyncio.Task[None] | None = None
        self._jammed = False
        self._sequence = False
        self._panel: bytes | None = None
        self._head = (AMBIENT_C, time.monotonic())  # degrees at the last print, and when
        self._cooling = False
        self._faces = 0
        self._moves: dict[str, Callable[[], Awaitable[str]]] = {
            "Sic": self._to_contactless,
            "Ss": self._start_sequence,
            "Se": self._end_sequence_or_eject,
            "Ser": self._reject,
        }
        self._reads: dict[tuple[str, ...], Callable[[], str]] = {
            ("Sr",): lambda: "OK",  # the front side: the only one we print
            ("Rfv",): lambda: "1.0.0-sim",
            ("Xst",): self._state,
            ("Rlr", "p"): self._position,
            ("Rlr", "h"): lambda: "CARD" if self.reject_box_full else "NO CARD",
            ("Rse", "f"): lambda: self._volts(on=not self.feeder_empty),
            ("Rse", "o"): lambda: self._volts(on=not self.cover_open),
            ("Rco", "p"): lambda: str(self.printed_panels),
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
        return self._bus.config_overlay(self.driver_kind, self.usb_descriptor)

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None:
        self.faults.inject(fault, params)

    def clear(self, fault: Fault | None = None) -> None:
        if fault in (None, Fault.JAM):
            # The operator opened the cover and freed the card; it stays in the card
            # path until the printer is told where to put it.
            self._jammed = False
        self.faults.clear(fault)

    # -- the operator

    def load_hopper(self, cards: int) -> None:
        if cards < 1 or self.hopper + cards > HOPPER_CAPACITY:
            raise ValueError(f"the hopper holds {HOPPER_CAPACITY} cards; it has {self.hopper}")
        self.hopper += cards

    def replace_ribbon(self, panels: int = RIBBON_PANELS) -> None:
        self.ribbon = panels

    def empty_reject_box(self) -> list[str]:
        """Take the rejected cards out; their serials, for the record."""
        cards, self.reject_box = self.reject_box, []
        return cards

    def cool_down(self) -> None:
        """As if the head had been left to cool for a long while."""
        self._head = (AMBIENT_C, time.monotonic())
        self._cooling = False

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

    @property
    def head_temperature_c(self) -> float:
        degrees, since = self._head
        if self.cooling_c_per_s == math.inf:
            return AMBIENT_C
        return max(AMBIENT_C, degrees - self.cooling_c_per_s * (time.monotonic() - since))

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
                # A fault of the simulator's own (its slot, say): the firmware's internal
                # error, and the printer goes on answering.
                log.exception("card_printer_sim_command_failed", command=command.name)
                self._answer(generation, "ERR;INTERNAL")
            finally:
                self._commands.task_done()

    def _answer(self, generation: int, answer: str) -> None:
        if generation != self._generation:
            return  # reset while the command ran: the motion ends, its answer is lost
        if Fault.GARBAGE in self.faults:
            self._answers.put(self._noise())
        else:
            self._answers.put(answer.encode("ascii") + b"\r")

    # -- the commands

    async def _apply(self, command: Command) -> str:
        name, parameters = command.name, command.parameters
        if name.startswith("P"):  # a parameter: kept, and only Pneab changes what we do
            self.parameters[name] = parameters
            return "OK"
        if name == "Dbc":
            return self._download(command)
        move = self._moves.get(name)
        if move is not None and not parameters:
            return await move()
        read = self._reads.get((name, *parameters))
        return "ERR;UNKNOWN" if read is None else read()

    def _position(self) -> str:
        return "OK" if self.card is None else _POSITION_ANSWERS[self.card.place]

    def _state(self) -> str:
        ribbon = self.ribbon_left
        return ";".join(
            (
                str(ribbon),
                "1" if ribbon <= RIBBON_NEAR_END else "0",
                str(round(self.head_temperature_c)),
                "1" if self._head_cooling() else "0",
                "1" if self._jammed else "0",
            )
        )

    def _volts(self, *, on: bool) -> str:
        volts = 4.9 + self._rng.random() / 10 if on else self._rng.random() / 10
        return f"{volts:.2f} Volts".replace(".", ",")

    def _refusal(self) -> str | None:
        """Why no card may move now, as the answer; None if it may."""
        if self.cover_open:
            return "ERR;COVER_OPEN"
        if self._jammed:
            return "ERR;JAM"
        return None

    async def _to_contactless(self) -> str:
        if (refused := self._refusal()) is not None:
            return refused
        card = self.card
        if card is None:
            if self.feeder_empty:
                return "ERR;FEEDER_EMPTY"
            self.hopper -= 1
            card = self.card = SimCard(f"KTP{self._rng.randrange(10**10):010d}", Place.PATH)
        elif card.place is Place.CONTACTLESS:
            return "OK"
        return await self._move(card, Place.CONTACTLESS)

    async def _start_sequence(self) -> str:
        if (refused := self._refusal()) is not None:
            return refused
        if self.card is None:
            return "ERR;NO_CARD"
        self._sequence, self._panel = True, None
        if self.card.place is Place.PRINT:
            return "OK"
        answer = await self._move(self.card, Place.PRINT)
        self._sequence = answer == "OK"
        return answer

    def _download(self, command: Command) -> str:
        lines = expand_panel(command.data)
        if command.parameters[:2] != ("k", "2") or lines is None:
            return "ERR;BAD_DATA"
        self._panel = lines
        return "OK"

    async def _end_sequence_or_eject(self) -> str:
        panel, self._panel = self._panel, None
        in_sequence, self._sequence = self._sequence, False
        if in_sequence and panel is not None and self.card is not None:
            return await self._print(self.card, panel)
        # Outside a sequence, or in one whose host went away before sending the bitmap:
        # no print job, so Se ejects.
        return await self._eject()

    async def _print(self, card: SimCard, panel: bytes) -> str:
        if (refused := self._refusal()) is not None:
            return refused
        if self.ribbon_left == 0:
            return "ERR;RIBBON_OUT"
        if self._head_cooling():
            return "ERR;HEAD_TEMP"
        await self.timing.pause(self.seconds_per_print)
        self._print_face(card.serial, panel)
        if self.parameters.get("Pneab") == ("E",):
            return "OK"  # told to keep the printed card
        return await self._eject()

    async def _eject(self) -> str:
        if (refused := self._refusal()) is not None:
            return refused
        if self.card is None:
            return "ERR;NO_CARD"
        card = self.card
        answer = await self._move(card, None)
        if answer == "OK":
            self.ejected.append(card.serial)
            self.output_tray.append(card.chip or self._card_for(card.serial))
        return answer

    async def _reject(self) -> str:
        if (refused := self._refusal()) is not None:
            return refused
        if self.card is None:
            return "ERR;NO_CARD"
        if self.reject_box_full:
            return "ERR;REJECT_BOX_FULL"
        serial = self.card.serial
        answer = await self._move(self.card, None)
        if answer == "OK":
            self.reject_box.append(serial)
        return answer

    async def _move(self, card: SimCard, to: Place | None) -> str:
        """Move the card inside to `to`, or out of the printer (None); it may jam."""
        await self.timing.pause(self.seconds_per_move)
        if to is not Place.PRINT:  # a card taken away from printing ends the print job
            self._sequence, self._panel = False, None
        if card.place is Place.CONTACTLESS and self.slot is not None:
            card.chip = await self.slot.remove() or card.chip
        if Fault.JAM in self.faults:
            card.place = Place.PATH
            self._jammed = True
            return "ERR;JAM"
        if to is None:
            self.card = None
            return "OK"
        card.place = to
        if to is Place.CONTACTLESS and self.slot is not None:
            card.chip = card.chip or self._card_for(card.serial)
            await self.slot.insert(card.chip)
        return "OK"

    def _card_for(self, serial: str) -> VirtualCard:
        if self._make_card is not None:
            return self._make_card(serial)
        from .smartcard import VirtualCard  # noqa: PLC0415 - only when cards go into a slot

        return VirtualCard(serial=serial, seed=self._seed)

    def _print_face(self, serial: str, lines: bytes) -> None:
        self.ribbon -= 1
        self.printed_panels += 1
        degrees = self.head_temperature_c + HEAT_PER_PRINT_C
        self._head = (degrees, time.monotonic())
        self._cooling = self._cooling or degrees >= OVERHEAT_C
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

    def _head_cooling(self) -> bool:
        if self._cooling and self.head_temperature_c <= RESUME_C:
            self._cooling = False
        return self._cooling

    def _noise(self) -> bytes:
        # Line noise that cannot pass for an answer: a few bytes ending in CR with one no
        # answer can hold, or a babble of characters longer than any answer, without end.
        if self._rng.random() < 0.5:
            noise = bytearray(self._rng.randrange(256) for _ in range(self._rng.randint(1, 24)))
            noise[self._rng.randrange(len(noise))] = self._rng.randrange(0x80, 0x100)
            return bytes(noise) + b"\r"
        return bytes(self._rng.randrange(0x20, 0x7F) for _ in range(self._rng.randint(140, 200)))


_POSITION_ANSWERS: Final = {
    Place.PATH: "PATH CARD",  # ours: a real printer reports a jam as an error
    Place.CONTACTLESS: "CONTACTLESS CARD",
    Place.PRINT: "CARD",
}
