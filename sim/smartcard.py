"""A simulated contactless card and the encoder's contactless station, through pcscd.

`VirtualCard` is an ISO/IEC 7816-4 card with a file system: the MF (3F00) with EF.GDO
(2F02, the ICC serial number in tag 5A), DFs created by the encoder and found by their
name (AID), and transparent EFs. It answers SELECT, CREATE FILE, UPDATE BINARY and READ
BINARY (even and odd INS), GET RESPONSE, command chaining, extended length and the
reader's GET UID (FF CA), with the status words a real card gives for each error; its
ATR announces chaining and extended length in the card capabilities (historical bytes,
tag 7), as the constructor says. What it holds is in `files`, for tests to check.

`VpcdSlot` is the station: the card printer's simulator inserts a card when it reaches
the contactless station and removes it on eject. The slot carries the card to pcscd
through vsmartcard's vpcd reader driver, whose protocol is a 2-byte big-endian length
then the message: one byte 00 power off, 01 power on, 02 reset, 04 "send the ATR";
anything longer is a command APDU, answered with the response APDU. vpcd listens and the
card connects: inserting a card is opening the connection, removing it closing it.
vpcd writes the length and the body in two writes, and so would wait for the ACK of the
first (Nagle) while this side delays it (up to 40 ms on Linux): the card side sets
TCP_NODELAY, and TCP_QUICKACK after every read (Linux clears it again by itself).

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
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from appliance.hal._card_access import (
    ALWAYS,
    NEVER,
    df_security,
    ef_security,
)
from appliance.hal._iso7816 import (
    CHAINING,
    EF_GDO,
    MAX_EXTENDED_LE,
    MF,
    ApduError,
    Command,
    Fcp,
    Response,
    StatusWord,
    tlv,
    tlv_items,
)
from appliance.hal._secure_messaging import SM_CLA

from ._base import Fault, FaultState, Timing, seeded
from .chip_security import ChipSecurity, Refused

DEFAULT_READER: Final = "KTPEL vpcd 00 00"
_POWER_OFF: Final = 0x00
_POWER_ON: Final = 0x01
_RESET: Final = 0x02
_GET_ATR: Final = 0x04
_FILE_OVERHEAD: Final = 32  # bytes of chip memory a file's header costs
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


@dataclass(eq=False, slots=True)
class _EF:
    fid: int
    size: int
    sfi: int | None
    security: bytes | None = None  # FCP tag 8C as created; none: nobody but the maker
    data: bytearray = field(init=False)

    def __post_init__(self) -> None:
        self.data = bytearray(self.size)


@dataclass(eq=False, slots=True)
class _DF:
    fid: int | None
    name: bytes | None
    security: bytes | None = None
    children: list[_DF | _EF] = field(default_factory=list)

    def find(self, fid: int) -> _DF | _EF | None:
        return next((child for child in self.children if child.fid == fid), None)

    def find_sfi(self, sfi: int) -> _EF | None:
        return next((c for c in self.children if isinstance(c, _EF) and c.sfi == sfi), None)

    def dfs(self) -> list[_DF]:
        found = [self]
        for child in self.children:
            if isinstance(child, _DF):
                found += child.dfs()
        return found


class VirtualCard:
    """An ISO/IEC 7816-4 card with a file system, answering command APDUs."""

    def __init__(
        self,
        *,
        serial: str,
        seed: int = 0,
        capacity: int = 64 * 1024,
        extended_length: bool = True,
        chaining: bool = True,
        io_buffer: int = MAX_EXTENDED_LE,
        locked: bool = False,
        transport_key: bytes | None = None,
    ) -> None:
        """`io_buffer` is the most data one answer carries (the rest comes by GET
        RESPONSE after 61xx); a `locked` card refuses to create or write (6982).
        `transport_key` is the key its maker set for personalising it (None: a card no
        one can personalise)."""
        self.serial = serial
        self.capacity = capacity
        self.extended_length = extended_length
        self.chaining = chaining
        self.io_buffer = io_buffer
        self.locked = locked
        rng: random.Random = seeded(seed, f"card:{serial}")
        self.uid = b"\x04" + rng.randbytes(6)  # 7-byte UID, NXP-style manufacturer byte
        self.atr = _atr(chaining=chaining, extended_length=extended_length)
        self.write_budget: int | None = None  # bytes the chip writes before failing
        self.commands = 0
        self.extended_commands = 0
        self.chained_commands = 0
        self.largest_command = 0  # bytes of data in the longest single command APDU
        self.security = ChipSecurity(transport_key=transport_key)
        # As the maker leaves it: nothing created or deleted in the MF but by the
        # personalisation agent; the serial number free to read, never written.
        self._mf = _DF(fid=MF, name=None, security=df_security())
        self._mf.children.append(
            _EF(
                fid=EF_GDO,
                size=len(_gdo(serial)),
                sfi=None,
                security=ef_security(read=ALWAYS),
            )
        )
        gdo = self._mf.find(EF_GDO)
        assert isinstance(gdo, _EF)
        gdo.data[:] = _gdo(serial)
        self._used = _FILE_OVERHEAD * 2 + gdo.size
        self._df = self._mf
        self._ef: _EF | None = None
        self._chain: Command | None = None
        self._pending = b""

    # -- what tests look at

    @property
    def files(self) -> dict[str, bytes]:
        """Every EF's contents by path: "3F00/2F02", "3F00/<AID in hex>/0101"."""
        return dict(self._walk(self._mf, "3F00"))

    def application(self, aid: bytes) -> dict[int, bytes]:
        """The EFs of the DF named `aid`, by file identifier."""
        for df in self._mf.dfs():
            if df.name == aid:
                return {c.fid: bytes(c.data) for c in df.children if isinstance(c, _EF)}
        raise KeyError(aid.hex())

    def overwrite(self, aid: bytes, fid: int, data: bytes) -> None:
        """Change an EF's content behind the file system's back, as someone with a card
        writer and the chip's keys could: what activation must notice."""
        for df in self._mf.dfs():
            if df.name == aid:
                for child in df.children:
                    if isinstance(child, _EF) and child.fid == fid:
                        child.data[:] = data
                        return
        raise KeyError(f"{aid.hex()}/{fid:04X}")

    def _walk(self, df: _DF, path: str) -> list[tuple[str, bytes]]:
        found: list[tuple[str, bytes]] = []
        for child in df.children:
            if isinstance(child, _EF):
                found.append((f"{path}/{child.fid:04X}", bytes(child.data)))
            else:
                name = child.name.hex().upper() if child.name else f"{child.fid:04X}"
                found += self._walk(child, f"{path}/{name}")
        return found

    # -- the contacts

    @property
    def life_cycle(self) -> int:
        """The MF's life cycle status: 03 initialisation (a blank), 05 operational."""
        return self.security.life_cycle

    def power_cycle(self) -> None:
        """Power off, on or reset: the volatile state (current files, chain, the secure
        messaging session) is lost."""
        self._df, self._ef, self._chain, self._pending = self._mf, None, None, b""
        self.security.reset()

    def process(self, raw: bytes) -> bytes:
        """The response APDU to one command APDU."""
        self.commands += 1
        try:
            command = Command.parse(raw)
        except ApduError:
            return _sw(StatusWord.WRONG_LENGTH)
        if len(raw) > 5 and raw[4] == 0:
            if not self.extended_length:
                return _sw(StatusWord.WRONG_LENGTH)
            self.extended_commands += 1
        self.largest_command = max(self.largest_command, len(command.data))
        secured = command.cla != 0xFF and command.cla & SM_CLA == SM_CLA
        try:
            inner = self._opened(command, secured=secured)
        except Refused as answer:
            return _sw(answer.sw)
        try:
            response = self._dispatch(inner)
        except Refused as answer:
            response = Response(b"", answer.sw)
        if secured:
            response = self.security.protect(response, odd=bool(inner.ins & 0x01))
        return self._deliver(response).encode()

    def _opened(self, command: Command, *, secured: bool) -> Command:
        """The command the card is to carry out: a protected one opened, a plain one
        ending any secure messaging session (Refused: answered in plain)."""
        if secured:
            if command.cla & CHAINING:
                raise Refused(StatusWord.CHAINING_NOT_SUPPORTED)
            return self.security.open(command)  # 6987/6988 if it does not verify
        if command.cla != 0xFF:  # the reader's own commands never reach the chip
            self.security.plain_command(command)
        return command

    def _dispatch(self, command: Command) -> Response:
        if command.cla == 0xFF:  # the reader's own commands (PC/SC part 3)
            if command.ins == 0xCA and command.p1 == 0x00:
                return _sized(self.uid, command.le)
            raise Refused(StatusWord.INS_NOT_SUPPORTED)
        if command.cla & ~CHAINING:
            raise Refused(StatusWord.CLA_NOT_SUPPORTED)
        if command.ins == 0xC0:
            return self._get_response(command)
        self._pending = b""  # an answer nobody fetched is gone with the next command
        security = self.security
        if command.ins == 0x86:  # PACE's steps are chained as a protocol, not as data
            return security.general_authenticate(command)
        command = self._unchain(command)
        handler = {
            0xA4: self._select,
            0xE0: self._create,
            0xD6: self._update,
            0xD7: self._update,
            0xB0: self._read,
            0xB1: self._read,
            0x22: security.set_authentication_template,
            0x84: security.get_challenge,
            0x82: security.mutual_authenticate,
            0x24: security.change_reference,
            0x44: self._activate,
        }.get(command.ins)
        if handler is None:
            raise Refused(StatusWord.INS_NOT_SUPPORTED)
        return handler(command)

    def _unchain(self, command: Command) -> Command:
        """The whole command once its chain is complete; 9000 to each link before."""
        chain = self._chain
        if command.cla & CHAINING:
            if not self.chaining:
                raise Refused(StatusWord.CHAINING_NOT_SUPPORTED)
            self.chained_commands += 1
        if chain is not None and (command.ins, command.p1, command.p2) != (
            chain.ins,
            chain.p1,
            chain.p2,
        ):
            self._chain = None
            raise Refused(StatusWord.LAST_COMMAND_EXPECTED)
        data = (chain.data if chain is not None else b"") + command.data
        if command.cla & CHAINING:
            if len(data) > self.capacity:
                self._chain = None
                raise Refused(StatusWord.WRONG_LENGTH)
            self._chain = Command(0x00, command.ins, command.p1, command.p2, data)
            raise Refused(StatusWord.OK)
        self._chain = None
        if chain is None:
            return command
        return Command(0x00, command.ins, command.p1, command.p2, data, command.le)

    def _deliver(self, response: Response) -> Response:
        """What does not fit the card's I/O buffer waits for GET RESPONSE (61xx)."""
        if len(response.data) <= self.io_buffer:
            return response
        self._pending = response.data[self.io_buffer :]
        return Response(response.data[: self.io_buffer], _more(len(self._pending)))

    def _get_response(self, command: Command) -> Response:
        if not self._pending:
            raise Refused(StatusWord.CONDITIONS_NOT_SATISFIED)
        size = min(command.le or 256, self.io_buffer)
        data, self._pending = self._pending[:size], self._pending[size:]
        return Response(data, _more(len(self._pending)) if self._pending else StatusWord.OK)

    # -- the commands

    def _select(self, command: Command) -> Response:
        p1, data = command.p1, command.data
        if command.p2 not in (0x00, 0x04, 0x0C):
            raise Refused(StatusWord.INCORRECT_P1P2)
        target: _DF | _EF | None
        if p1 == 0x04:
            if not 1 <= len(data) <= 16:
                raise Refused(StatusWord.WRONG_LENGTH)
            target = next((df for df in self._mf.dfs() if df.name == data), None)
        elif p1 in (0x00, 0x02):
            if len(data) != 2 and not (p1 == 0x00 and not data):
                raise Refused(StatusWord.WRONG_LENGTH)
            fid = int.from_bytes(data, "big") if data else MF
            target = self._mf if fid == MF and p1 == 0x00 else self._df.find(fid)
            if p1 == 0x02 and not isinstance(target, _EF):
                target = None
        else:
            raise Refused(StatusWord.INCORRECT_P1P2)
        if target is None:
            raise Refused(StatusWord.FILE_NOT_FOUND)
        if isinstance(target, _DF):
            self._df, self._ef = target, None
        else:
            self._ef = target
        if command.p2 == 0x0C or not command.le:
            return Response(b"", StatusWord.OK)
        return _sized(_fcp(target, self.security.life_cycle).encode(), command.le)

    def _create(self, command: Command) -> Response:
        if (command.p1, command.p2) != (0x00, 0x00):
            raise Refused(StatusWord.INCORRECT_P1P2)
        try:
            fcp = Fcp.parse(command.data)
        except ApduError:
            raise Refused(StatusWord.WRONG_DATA) from None
        if self.locked:
            raise Refused(StatusWord.SECURITY_NOT_SATISFIED)
        # Before activation the transport session may create anything; after, the
        # current DF's attributes decide (never, for the station's).
        self.security.require(
            _condition(self._df.security, _CREATE_DF if fcp.is_df else _CREATE_EF)
        )
        if fcp.fid is not None and (fcp.fid == self._df.fid or self._df.find(fcp.fid)):
            raise Refused(StatusWord.FILE_EXISTS)
        if fcp.is_df:
            if fcp.df_name is None and fcp.fid is None:
                raise Refused(StatusWord.WRONG_DATA)
            if fcp.df_name is not None and any(d.name == fcp.df_name for d in self._mf.dfs()):
                raise Refused(StatusWord.FILE_EXISTS)
            self._claim(0)
            df = _DF(fid=fcp.fid, name=fcp.df_name, security=fcp.security)
            self._df.children.append(df)
            self._df, self._ef = df, None
            return Response(b"", StatusWord.OK)
        if fcp.descriptor & 0x07 != 0x01 or fcp.fid is None or not fcp.size:
            raise Refused(StatusWord.WRONG_DATA)  # only transparent EFs with a size
        if fcp.sfi is not None and self._df.find_sfi(fcp.sfi):
            raise Refused(StatusWord.FILE_EXISTS)
        self._claim(fcp.size)
        ef = _EF(fid=fcp.fid, size=fcp.size, sfi=fcp.sfi, security=fcp.security)
        self._df.children.append(ef)
        self._ef = ef
        return Response(b"", StatusWord.OK)

    def _claim(self, size: int) -> None:
        if self._used + size + _FILE_OVERHEAD > self.capacity:
            raise Refused(StatusWord.NOT_ENOUGH_MEMORY)
        self._used += size + _FILE_OVERHEAD

    def _update(self, command: Command) -> Response:
        if self.locked:
            raise Refused(StatusWord.SECURITY_NOT_SATISFIED)
        ef, offset, data = self._target(command)
        self.security.require(_condition(ef.security, _UPDATE))
        if not data:
            raise Refused(StatusWord.WRONG_LENGTH)
        if offset > ef.size:
            raise Refused(StatusWord.WRONG_OFFSET)
        if offset + len(data) > ef.size:
            raise Refused(StatusWord.WRONG_LENGTH)
        if self.write_budget is not None and len(data) > self.write_budget:
            # The EEPROM gives out part way: what was written stays, the rest never lands.
            written, self.write_budget = self.write_budget, 0
            ef.data[offset : offset + written] = data[:written]
            raise Refused(StatusWord.MEMORY_FAILURE)
        if self.write_budget is not None:
            self.write_budget -= len(data)
        ef.data[offset : offset + len(data)] = data
        return Response(b"", StatusWord.OK)

    def _read(self, command: Command) -> Response:
        ef, offset, _ = self._target(command)
        self.security.require(_condition(ef.security, _READ))
        if not command.le:
            raise Refused(StatusWord.WRONG_LENGTH)
        if offset > ef.size:
            raise Refused(StatusWord.WRONG_OFFSET)
        wanted = command.le
        if command.ins == 0xB1:
            wanted = _fits_53(command.le)
            if wanted == 0:
                raise Refused(StatusWord.WRONG_LENGTH)
        data = bytes(ef.data[offset : offset + wanted])
        sw = StatusWord.OK if len(data) == wanted else StatusWord.END_OF_FILE
        return Response(tlv(0x53, data) if command.ins == 0xB1 and data else data, sw)

    def _target(self, command: Command) -> tuple[_EF, int, bytes]:
        """The EF, offset and data of a READ/UPDATE BINARY, whichever INS it uses."""
        if command.ins in (0xB0, 0xD6):
            if command.p1 & 0x80:  # short EF identifier in P1, offset in P2
                ef = self._df.find_sfi(command.p1 & 0x1F)
                if ef is None:
                    raise Refused(StatusWord.FILE_NOT_FOUND)
                self._ef = ef
                return ef, command.p2, command.data
            return self._current(), command.p1 << 8 | command.p2, command.data
        fid = command.p1 << 8 | command.p2
        if fid:
            found = self._df.find(fid)
            if not isinstance(found, _EF):
                raise Refused(StatusWord.FILE_NOT_FOUND)
            self._ef = found
        try:
            objects = dict(tlv_items(command.data))
        except ApduError:
            raise Refused(StatusWord.WRONG_DATA) from None
        offset = objects.get(0x54)
        if offset is None or not 1 <= len(offset) <= 3:
            raise Refused(StatusWord.WRONG_DATA)
        return self._current(), int.from_bytes(offset, "big"), objects.get(0x53, b"")

    def _activate(self, command: Command) -> Response:
        """ACTIVATE FILE (ISO/IEC 7816-9) on the MF: the end of personalisation. Only the
        MF's life cycle is kept: every file of the card follows it."""
        if (command.p1, command.p2) != (0x00, 0x00):
            raise Refused(StatusWord.INCORRECT_P1P2)
        if command.data not in (b"", MF.to_bytes(2, "big")) or (
            not command.data and self._df is not self._mf
        ):
            raise Refused(StatusWord.FUNCTION_NOT_SUPPORTED)  # files are activated with it
        self.security.activate()
        return Response(b"", StatusWord.OK)

    def _current(self) -> _EF:
        if self._ef is None:
            raise Refused(StatusWord.COMMAND_NOT_ALLOWED)
        return self._ef


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def _more(remaining: int) -> int:
    return 0x6100 | min(remaining, 256) & 0xFF


def _sized(data: bytes, le: int) -> Response:
    """An answer of fixed length: 6Cxx (the exact length) if Le asks for less."""
    if le < len(data):
        raise Refused(0x6C00 | len(data) & 0xFF)
    return Response(data, StatusWord.OK)


def _fits_53(le: int) -> int:
    """The most file bytes a 53 data object can wrap within `le` bytes."""
    for size in range(le - 2, max(le - 6, 0), -1):
        if len(tlv(0x53, bytes(size))) <= le:
            return size
    return 0


# The access mode bits (ISO/IEC 7816-4 compact format) of the commands the card guards.
_READ: Final = 0x01
_UPDATE: Final = 0x02
_CREATE_EF: Final = 0x02
_CREATE_DF: Final = 0x04


def _condition(security: bytes | None, command_bit: int) -> int:
    """The security condition byte a file's attributes set for one command; NEVER for a
    command they leave out, or a file created without attributes."""
    if not security:
        return NEVER
    mode, conditions = security[0], security[1:]
    if not mode & command_bit:
        return NEVER
    # One condition byte per bit set, from b7 down: count the set bits above this one.
    position = (mode & ~(command_bit * 2 - 1) & 0x7F).bit_count()
    return conditions[position]


def _fcp(target: _DF | _EF, life_cycle: int) -> Fcp:
    if isinstance(target, _DF):
        return Fcp(
            0x38,
            fid=target.fid,
            df_name=target.name,
            life_cycle=life_cycle,
            security=target.security,
        )
    return Fcp(
        0x01,
        fid=target.fid,
        size=target.size,
        sfi=target.sfi,
        life_cycle=life_cycle,
        security=target.security,
    )


def _gdo(serial: str) -> bytes:
    return tlv(0x5A, serial.encode())


def _atr(*, chaining: bool, extended_length: bool) -> bytes:
    """A contactless card's ATR as PC/SC part 3 builds it (3B 8n 80 01, T=1), with the
    card capabilities in compact-TLV historical bytes: selection by DF name, file id and
    short EF id (94), one-byte data units (01), chaining (80) and extended length (40)."""
    third = (0x80 if chaining else 0) | (0x40 if extended_length else 0)
    historical = bytes((0x80, 0x73, 0x94, 0x01, third))
    body = bytes((0x80 | len(historical), 0x80, 0x01)) + historical
    check = 0
    for byte in body:
        check ^= byte
    return b"\x3b" + body + bytes((check,))


# ---------------------------------------------------------------- the station


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
            return _sw(StatusWord.WRONG_LENGTH)  # the reader itself turns it away
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
        return rng.randbytes(size) + _sw(StatusWord.OK)
