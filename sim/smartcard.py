"""A simulated contactless card: an ISO/IEC 7816-4 chip answering command APDUs.

`VirtualCard` is an ISO/IEC 7816-4 card with a file system: the MF (3F00) with EF.GDO
(2F02, the ICC serial number in tag 5A), DFs created by the encoder and found by their
name (AID), and transparent EFs. It answers SELECT, CREATE FILE, UPDATE BINARY and READ
BINARY (even and odd INS), GET RESPONSE, command chaining, extended length and the
reader's GET UID (FF CA), with the status words a real card gives for each error; its
ATR announces chaining and extended length in the card capabilities (historical bytes,
tag 7), as the constructor says. What it holds is in `files`, for tests to check. The
encoder's contactless station that carries it to pcscd is `sim.vpcd.VpcdSlot`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

from appliance.hal._apdu import CHAINING, MAX_EXTENDED_LE, ApduError, Command, Response, StatusWord
from appliance.hal._card_access import (
    ALWAYS,
    NEVER,
    df_security,
    ef_security,
)
from appliance.hal._iso7816 import EF_GDO, MF, Fcp, tlv, tlv_items
from appliance.hal._secure_messaging import SM_CLA

from ._base import seeded
from .chip_security import ChipSecurity, Refused

_FILE_OVERHEAD: Final = 32  # bytes of chip memory a file's header costs


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
