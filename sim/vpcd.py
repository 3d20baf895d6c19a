"""The encoder's contactless station: the slot that carries a simulated card to pcscd.

`VpcdSlot` is the station: the card printer's simulator inserts a card (a
`sim.smartcard.VirtualCard`) when it reaches the contactless station and removes it on
eject. The slot carries the card to pcscd through vsmartcard's vpcd reader driver, whose
protocol is a 2-byte big-endian length then the message: one byte 00 power off, 01 power
on, 02 reset, 04 "send the ATR"; anything longer is a command APDU, answered with the
response APDU. vpcd listens and the card connects: inserting a card is opening the
connection, removing it closing it. vpcd writes the length and the body in two writes,
and so would wait for the ACK of the first (Nagle) while this side delays it (up to 40 ms
on Linux): the card side sets TCP_NODELAY, and TCP_QUICKACK after every read (Linux
clears it again by itself).

Faults of the slot: `hang` (an APDU is held until the hang ends, then answered; param
`after_writes`: only once the card has had that many UPDATE BINARYs), `slow`
(param `delay_s`, real seconds), `garbage` (answers that cannot be valid: too short, no
status word, or longer than asked for), `write_failure` (param `after_bytes`: the chip
of each card in the slot fails after writing that many more bytes, answering 6581 in
the middle of a file) and `card_removed` (param `after_writes`: the card leaves the
slot in the middle of that UPDATE BINARY, unanswered).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final

from appliance.hal._apdu import ApduError, Command, Response, StatusWord

from ._base import Fault, FaultState, Timing, seeded
from .smartcard import VirtualCard

DEFAULT_READER: Final = "KTPEL vpcd 00 00"
_POWER_OFF: Final = 0x00
_POWER_ON: Final = 0x01
_RESET: Final = 0x02
_GET_ATR: Final = 0x04
_MAX_MESSAGE: Final = 0xFFFF
_RECONNECT_S: Final = 0.05  # between attempts to reach vpcd while pcscd is down
# vpcd learns that a card left only at pcscd's next presence poll (every 0.4 s): a card
# on the line again sooner would be taken for the same one, never reported as new. So a
# line stays down at least this long (real seconds, whatever the timing scale), whichever
# slot object carried the card before: the time is kept per vpcd endpoint.
_ABSENCE_S: Final = 0.5
_LINE_DOWN_AT: dict[tuple[str, int], float] = {}
_WRITE_INS: Final = frozenset({0xD6, 0xD7})
# Realistic chip times: every command costs the card some time, an EEPROM write more.
_COMMAND_S: Final = 0.002
_WRITE_BYTE_S: Final = 0.00004

Connector = Callable[[], Awaitable[socket.socket]]


class VpcdSlot:
    """The contactless station: carries whatever card is in it to pcscd's vpcd reader."""

    supported_faults: ClassVar[frozenset[Fault]] = frozenset(
        {Fault.HANG, Fault.SLOW, Fault.GARBAGE, Fault.WRITE_FAILURE, Fault.CARD_REMOVED}
    )
    driver_kind: ClassVar[str] = "pcsc_encoder"

    def __init__(
        self,
        *,
        port: int,
        host: str = "127.0.0.1",
        seed: int = 0,
        timing: Timing | None = None,
        name: str = "card_encoder",
        reader: str = DEFAULT_READER,
        extended_length: bool = True,
        connect: Connector | None = None,
        pcsc_socket: str | None = None,
    ) -> None:
        """`connect` opens the connection to vpcd (by default TCP to host:port; a private
        pcscd in its own network namespace passes its own). `extended_length=False` is a
        reader that turns extended APDUs away (6700) before they reach the card."""
        self.name = name
        self.port = port
        self.host = host
        self.reader = reader
        self.extended_length = extended_length
        self.pcsc_socket = pcsc_socket
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self._connect = connect or self._tcp
        self._rng: random.Random = seeded(seed, name)
        self._card: VirtualCard | None = None
        self._link: asyncio.Task[None] | None = None
        self._writes = 0  # UPDATE BINARY commands the current card has had
        self.holding = asyncio.Event()
        """Set once a command is held by a hang: the moment to act mid-command."""
        self.seen = asyncio.Event()
        """Set once pcscd has polled the card now in the slot: the reader shows it."""
        self._running = False

    @property
    def card(self) -> VirtualCard | None:
        return self._card

    # -- SimulatedDevice

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        await self.remove()

    def config_overlay(self) -> dict[str, Any]:
        overlay: dict[str, Any] = {"kind": self.driver_kind, "reader": self.reader}
        if not self.extended_length:
            overlay["extended_length"] = False
        if self.pcsc_socket is not None:
            overlay["pcsc_socket"] = self.pcsc_socket
        return overlay

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None:
        self.faults.inject(fault, params)

    def clear(self, fault: Fault | None = None) -> None:
        self.faults.clear(fault)
        if Fault.WRITE_FAILURE not in self.faults and self._card is not None:
            self._card.write_budget = None

    # -- the card path (the card printer's simulator calls these)

    async def insert(self, card: VirtualCard) -> None:
        """A card arrives at the station: vpcd sees it at its next presence poll."""
        if not self._running:
            raise RuntimeError(f"{self.name} is not started")
        if self._card is not None:
            raise RuntimeError(f"{self.name} already holds card {self._card.serial}")
        self._card, self._writes = card, 0
        self.seen.clear()
        card.power_cycle()
        self._link = asyncio.create_task(self._carry(card), name=f"sim-{self.name}")

    async def remove(self) -> VirtualCard | None:
        """The card leaves the station (eject or reject); None if there was none."""
        card, self._card = self._card, None
        link, self._link = self._link, None
        if link is not None:
            link.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link
        return card

    # -- the line to vpcd

    async def _tcp(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)  # noqa: FBT003 - the socket API's own flag
        try:
            await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return sock

    async def _carry(self, card: VirtualCard) -> None:
        """Keep the card on the line to vpcd while it is in the slot: a pcscd that
        restarts drops the line, and the card is seen again once it is back."""
        endpoint = (self.host, self.port)
        while self._card is card:
            absent = time.monotonic() - _LINE_DOWN_AT.get(endpoint, -_ABSENCE_S)
            if absent < _ABSENCE_S:
                await asyncio.sleep(_ABSENCE_S - absent)
            try:
                sock = await self._connect()
            except OSError:
                await asyncio.sleep(_RECONNECT_S)  # pcscd (and vpcd with it) not up yet
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader, writer = await asyncio.open_connection(sock=sock)
            try:
                await self._serve(card, reader, writer, sock)
            except (OSError, asyncio.IncompleteReadError):
                pass  # vpcd went away: pcscd stopped or restarted
            finally:
                _LINE_DOWN_AT[endpoint] = time.monotonic()
                writer.close()
                card.power_cycle()

    async def _serve(
        self,
        card: VirtualCard,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sock: socket.socket,
    ) -> None:
        while True:
            size = int.from_bytes(await reader.readexactly(2), "big")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            message = await reader.readexactly(size)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if size == 1:
                if message[0] == _GET_ATR:
                    answer = card.atr
                    self.seen.set()  # vpcd polls presence by asking for the ATR
                else:
                    if message[0] in (_POWER_OFF, _POWER_ON, _RESET):
                        card.power_cycle()
                    continue  # power and reset are not answered
            else:
                reply = await self._answer(card, message)
                if reply is None:
                    return  # the card left the slot mid-command
                answer = reply
            writer.write(len(answer).to_bytes(2, "big") + answer)

    async def _answer(self, card: VirtualCard, apdu: bytes) -> bytes | None:
        writing = len(apdu) > 1 and apdu[1] in _WRITE_INS
        if writing:
            self._writes += 1
        # A hang may wait for the card to be part-written (param `after_writes`).
        while Fault.HANG in self.faults and self._writes > self.faults.param(
            Fault.HANG, "after_writes", -1
        ):
            self.holding.set()
            await self.faults.changed.wait()  # held until the hang ends, then answered
        if Fault.SLOW in self.faults:
            await asyncio.sleep(self.faults.param(Fault.SLOW, "delay_s", 2.0))
        if (
            writing
            and Fault.CARD_REMOVED in self.faults
            and self._writes > self.faults.param(Fault.CARD_REMOVED, "after_writes", 2)
        ):
            self._card = None
            return None
        if Fault.WRITE_FAILURE in self.faults and card.write_budget is None:
            card.write_budget = int(self.faults.param(Fault.WRITE_FAILURE, "after_bytes", 1000))
        if Fault.GARBAGE in self.faults:
            return self._noise(apdu)
        if not self.extended_length and len(apdu) > 5 and apdu[4] == 0:
            # The reader itself turns it away.
            return Response(b"", StatusWord.WRONG_LENGTH).encode()
        await self.timing.pause(_COMMAND_S + (len(apdu) * _WRITE_BYTE_S if writing else 0))
        return card.process(apdu)

    def _noise(self, apdu: bytes) -> bytes:
        """An answer no valid card gives: too short, no status word, or more than Le."""
        rng = self._rng
        kind = rng.randrange(3)
        if kind == 0:
            return rng.randbytes(1)
        if kind == 1:
            junk = rng.randbytes(rng.randint(0, 40))
            return junk + bytes((rng.choice([*range(0x60), *range(0xA0, 0x100)]),)) + b"\x00"
        try:
            asked = Command.parse(apdu).le
        except ApduError:
            asked = 256
        size = min(asked + rng.randint(1, 4000), _MAX_MESSAGE - 2)  # vpcd's length: 2 bytes
        return Response(rng.randbytes(size), StatusWord.OK).encode()
