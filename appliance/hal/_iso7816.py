"""ISO/IEC 7816-4 APDUs: the card encoder's whole vocabulary, as pure functions.

Only interindustry commands, so that any 7816-4 card with a file system will do: SELECT
(MF, EF by file identifier, DF by name), CREATE FILE with an FCP template, UPDATE BINARY
and READ BINARY (even INS for offsets up to 0x7FFF, odd INS with an offset data object
beyond), GET RESPONSE, and the reader's GET UID pseudo-APDU (PC/SC part 3).

`transceive` is one command as the card sees it: split into a command chain (CLA bit
0x10) when its data is longer than the link carries, the rest of a long answer fetched
with GET RESPONSE (61xx), re-issued once with the length the card asks for (6Cxx). It
takes the transmit function as an argument, so the same code runs on the driver's worker
thread against pcscd and in unit tests against the simulated card directly.

Everything that parses bytes from a card raises `ApduError` on anything malformed and
never anything else: a garbled answer is a fault to report, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

MAX_SHORT_LC: Final = 255
MAX_SHORT_LE: Final = 256
MAX_EXTENDED_LC: Final = 65535
MAX_EXTENDED_LE: Final = 65536
MAX_EVEN_OFFSET: Final = 0x7FFF  # P1 bit 8 set would mean "short EF identifier in P1"
MAX_OFFSET: Final = 0xFFFFFF  # three bytes in the offset data object: far beyond any card
CHAINING: Final = 0x10  # CLA bit: "more commands of this chain follow"
MAX_SFI: Final = 30
MF: Final = 0x3F00
EF_GDO: Final = 0x2F02  # EF.GDO under the MF: holds the ICC serial number (tag 5A)
# UPDATE BINARY (odd INS) carries 54 L offset and 53 L data: the most these cost on top of
# the data itself (a three-byte offset and a three-byte length).
ODD_WRITE_OVERHEAD: Final = 2 + 3 + 4
ODD_READ_OVERHEAD: Final = 4  # READ BINARY (odd INS) answers 53 L data

# A card that keeps answering 61xx would hold the link forever: an answer is never more
# than one extended Le, which GET RESPONSE fetches 256 bytes at a time at worst.
_MAX_GET_RESPONSES: Final = MAX_EXTENDED_LE // MAX_SHORT_LE + 1
_RESERVED_FIDS: Final = frozenset({MF, 0x3FFF, 0xFFFF})
# SW1 values ISO/IEC 7816-3 allows: 61..6F except 60 (a procedure byte) and 90..9F.
_VALID_SW1: Final = frozenset(range(0x61, 0x70)) | frozenset(range(0x90, 0xA0))


class ApduError(ValueError):
    """Bytes that are not a valid APDU, FCP, ATR or answer; or a command that cannot be
    sent on this link."""


class NoAnswer(ApduError):
    """The card answered nothing at all: on a contactless link, a card that left the
    field in the middle of the exchange (vpcd, too, passes a dropped card on so)."""


class StatusWord(IntEnum):
    OK = 0x9000
    END_OF_FILE = 0x6282  # fewer bytes than Le: the end of the EF came first
    AUTHENTICATION_FAILED = 0x6300
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    LAST_COMMAND_EXPECTED = 0x6883
    CHAINING_NOT_SUPPORTED = 0x6884
    COMMAND_INCOMPATIBLE = 0x6981
    SECURITY_NOT_SATISFIED = 0x6982
    CONDITIONS_NOT_SATISFIED = 0x6985
    REFERENCE_NOT_USABLE = 0x6984
    COMMAND_NOT_ALLOWED = 0x6986
    SM_OBJECTS_MISSING = 0x6987
    SM_OBJECTS_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    REFERENCE_NOT_FOUND = 0x6A88
    FILE_EXISTS = 0x6A89
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_DIAGNOSIS = 0x6F00


_MEANINGS: Final = {
    StatusWord.OK: "success",
    StatusWord.END_OF_FILE: "end of file reached before Le bytes",
    StatusWord.AUTHENTICATION_FAILED: "authentication failed (wrong key or password)",
    StatusWord.MEMORY_FAILURE: "memory failure (the chip could not write)",
    StatusWord.WRONG_LENGTH: "wrong length",
    StatusWord.LAST_COMMAND_EXPECTED: "last command of the chain expected",
    StatusWord.CHAINING_NOT_SUPPORTED: "command chaining not supported",
    StatusWord.COMMAND_INCOMPATIBLE: "command incompatible with the file structure",
    StatusWord.SECURITY_NOT_SATISFIED: "security status not satisfied",
    StatusWord.CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    StatusWord.REFERENCE_NOT_USABLE: "reference data not usable",
    StatusWord.COMMAND_NOT_ALLOWED: "command not allowed (no current EF)",
    StatusWord.SM_OBJECTS_MISSING: "expected secure messaging data objects missing",
    StatusWord.SM_OBJECTS_INCORRECT: "secure messaging data objects incorrect",
    StatusWord.WRONG_DATA: "incorrect parameters in the data field",
    StatusWord.FUNCTION_NOT_SUPPORTED: "function not supported",
    StatusWord.FILE_NOT_FOUND: "file or application not found",
    StatusWord.NOT_ENOUGH_MEMORY: "not enough memory in the file",
    StatusWord.INCORRECT_P1P2: "incorrect parameters P1-P2",
    StatusWord.REFERENCE_NOT_FOUND: "referenced data not found",
    StatusWord.FILE_EXISTS: "file already exists",
    StatusWord.WRONG_OFFSET: "wrong parameters P1-P2 (offset outside the EF)",
    StatusWord.INS_NOT_SUPPORTED: "instruction not supported",
    StatusWord.CLA_NOT_SUPPORTED: "class not supported",
    StatusWord.NO_DIAGNOSIS: "no precise diagnosis",
}


def describe(sw: int) -> str:
    """The status word in hex with its meaning, for logs and fault details."""
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw in _MEANINGS:
        meaning = _MEANINGS[StatusWord(sw)]
    elif sw1 == 0x61:
        meaning = f"{sw2 or 256} more bytes available (GET RESPONSE)"
    elif sw1 == 0x6C:
        meaning = f"wrong Le: {sw2 or 256} bytes available"
    elif sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        meaning = f"verification failed, {sw2 & 0x0F} tries left"
    elif sw1 in (0x62, 0x63):
        meaning = "warning"
    elif sw1 in (0x64, 0x65, 0x66):
        meaning = "execution error"
    else:
        meaning = "error"
    return f"{sw:04X} ({meaning})"


# ---------------------------------------------------------------- command and response


@dataclass(frozen=True, slots=True)
class Command:
    """A command APDU. `le` is how many bytes of answer it asks for: 0 for none, up to
    256 (encoded 00) in short form and 65536 (encoded 0000) in extended form."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int = 0

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ApduError(f"{name} must be one byte")
        if len(self.data) > MAX_EXTENDED_LC:
            raise ApduError(f"{len(self.data)} data bytes: more than any APDU carries")
        if not 0 <= self.le <= MAX_EXTENDED_LE:
            raise ApduError(f"Le {self.le} is out of range")

    @property
    def needs_extended(self) -> bool:
        return len(self.data) > MAX_SHORT_LC or self.le > MAX_SHORT_LE

    def encode(self, *, extended: bool = False) -> bytes:
        """The bytes on the wire: short form unless the command needs (or `extended`
        asks for) the extended form. Short-form commands always stay short."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        if not self.needs_extended:
            lc = bytes((len(self.data),)) if self.data else b""
            le = bytes((self.le & 0xFF,)) if self.le else b""
            return header + lc + self.data + le
        if not extended:
            raise ApduError(
                f"{len(self.data)} data bytes, Le {self.le}: needs extended length, "
                "which this link does not carry"
            )
        lc = b"\x00" + len(self.data).to_bytes(2, "big") if self.data else b""
        le = (self.le & 0xFFFF).to_bytes(2, "big") if self.le else b""
        if le and not lc:
            le = b"\x00" + le
        return header + lc + self.data + le

    @classmethod
    def parse(cls, raw: bytes) -> Command:
        """A command APDU from its bytes (ISO/IEC 7816-3 cases 1, 2, 3 and 4, short and
        extended)."""
        if len(raw) < 4:
            raise ApduError(f"a command APDU has at least 4 bytes, not {len(raw)}")
        data, le = _data_and_le(bytes(raw[4:]))
        return cls(raw[0], raw[1], raw[2], raw[3], data, le)

    def chained(self, max_data: int) -> list[Command]:
        """This command as a chain of commands carrying at most `max_data` bytes each;
        every one but the last has CLA bit 0x10, only the last asks for an answer."""
        if max_data < 1:
            raise ApduError("a chain link must carry at least one byte")
        if len(self.data) <= max_data:
            return [self]
        pieces = [self.data[i : i + max_data] for i in range(0, len(self.data), max_data)]
        links = [
            Command(self.cla | CHAINING, self.ins, self.p1, self.p2, piece) for piece in pieces[:-1]
        ]
        return [*links, Command(self.cla, self.ins, self.p1, self.p2, pieces[-1], self.le)]


def _data_and_le(body: bytes) -> tuple[bytes, int]:
    """The data field and Le in what follows a command's header (ISO/IEC 7816-3 §12.1.3:
    a first byte 00 with more after it starts the extended form)."""
    if not body:
        return b"", 0
    if len(body) == 1:
        return b"", body[0] or MAX_SHORT_LE
    if body[0]:
        lc = body[0]
        if len(body) not in (1 + lc, 2 + lc):
            raise ApduError(f"short Lc {lc} does not match {len(body) - 1} bytes that follow")
        return body[1 : 1 + lc], (body[-1] or MAX_SHORT_LE) if len(body) == 2 + lc else 0
    if len(body) < 3:
        raise ApduError("extended length field cut short")
    if len(body) == 3:
        return b"", int.from_bytes(body[1:3], "big") or MAX_EXTENDED_LE
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0 or len(body) not in (3 + lc, 5 + lc):
        raise ApduError(f"extended Lc {lc} does not match {len(body) - 3} bytes that follow")
    le = (int.from_bytes(body[-2:], "big") or MAX_EXTENDED_LE) if len(body) == 5 + lc else 0
    return body[3 : 3 + lc], le


@dataclass(frozen=True, slots=True)
class Response:
    """A response APDU: data, then the status word."""

    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == StatusWord.OK

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if not raw:
            raise NoAnswer("the card answered nothing")
        if len(raw) < 2:
            raise ApduError(f"an answer has at least the 2 status bytes, not {len(raw)}")
        if raw[-2] not in _VALID_SW1:
            raise ApduError(f"{raw[-2:].hex().upper()} is not a status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


Transmit = Callable[[bytes], bytes]


def transceive(transmit: Transmit, command: Command, *, extended: bool, chaining: bool) -> Response:
    """Send one command and return the card's whole answer.

    Data longer than the link carries (255 bytes, or 65535 with `extended`) goes as a
    command chain if the card announced chaining, else the command is refused here. An
    answer longer than asked for is garbage (`ApduError`), as is one that never ends.
    """
    max_lc = MAX_EXTENDED_LC if extended else MAX_SHORT_LC
    if len(command.data) > max_lc:
        if not chaining:
            raise ApduError(
                f"{len(command.data)} data bytes do not fit one command and the card "
                "does not announce command chaining"
            )
        *links, command = command.chained(max_lc)
        for link in links:
            answer = _exchange(transmit, link, extended=extended)
            if not answer.ok:
                return answer
    answer = _exchange(transmit, command, extended=extended)
    if answer.sw1 == 0x6C and command.le:
        # The card says how much it has: ask again with exactly that (once: a card that
        # moves the goalposts again is not answering sensibly).
        command = Command(
            command.cla, command.ins, command.p1, command.p2, command.data, answer.sw2 or 256
        )
        answer = _exchange(transmit, command, extended=extended)
    data = answer.data
    for _ in range(_MAX_GET_RESPONSES):
        if answer.sw1 != 0x61:
            return Response(data, answer.sw)
        answer = _exchange(transmit, get_response(answer.sw2 or MAX_SHORT_LE), extended=extended)
        data += answer.data
        if command.le and len(data) > command.le:
            raise ApduError(f"the card answered {len(data)} bytes to Le {command.le}")
    raise ApduError("the card keeps answering 61xx: more data than any answer holds")


def _exchange(transmit: Transmit, command: Command, *, extended: bool) -> Response:
    answer = Response.parse(transmit(command.encode(extended=extended)))
    if len(answer.data) > command.le:
        raise ApduError(
            f"{len(answer.data)} bytes of answer to INS {command.ins:02X} with Le {command.le}"
        )
    return answer


# ---------------------------------------------------------------- the commands


def select_mf() -> Command:
    return Command(0x00, 0xA4, 0x00, 0x0C, MF.to_bytes(2, "big"))


def select_ef(fid: int, *, fcp: bool = False) -> Command:
    """SELECT an EF under the current DF by its file identifier; with `fcp` the card
    answers the file's control parameters (its size among them)."""
    _check_fid(fid)
    if fcp:
        return Command(0x00, 0xA4, 0x02, 0x04, fid.to_bytes(2, "big"), MAX_SHORT_LE)
    return Command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))


def select_df_name(name: bytes) -> Command:
    """SELECT a DF by its name (an application identifier), first or only occurrence."""
    _check_aid(name)
    return Command(0x00, 0xA4, 0x04, 0x0C, name)


def create_file(fcp: bytes) -> Command:
    return Command(0x00, 0xE0, 0x00, 0x00, fcp)


def get_response(le: int) -> Command:
    return Command(0x00, 0xC0, 0x00, 0x00, le=le)


def get_uid() -> Command:
    """PC/SC part 3 GET DATA for the card's UID, answered by the reader itself."""
    return Command(0xFF, 0xCA, 0x00, 0x00, le=MAX_SHORT_LE)


def update_binary(offset: int, data: bytes) -> Command:
    """Write `data` at `offset` of the current EF: even INS with the offset in P1-P2 up
    to 0x7FFF, odd INS with offset and data as data objects beyond."""
    if not data:
        raise ApduError("UPDATE BINARY needs data")
    if offset <= MAX_EVEN_OFFSET:
        return Command(0x00, 0xD6, offset >> 8, offset & 0xFF, data)
    field = tlv(0x54, _offset_bytes(offset)) + tlv(0x53, data)
    return Command(0x00, 0xD7, 0x00, 0x00, field)


def read_binary(offset: int, length: int) -> Command:
    """Read `length` bytes at `offset` of the current EF (odd INS beyond 0x7FFF, whose
    answer is wrapped in a 53 data object: `length` leaves room for its header)."""
    if not 0 < length <= MAX_EXTENDED_LE:
        raise ApduError(f"cannot read {length} bytes in one command")
    if offset <= MAX_EVEN_OFFSET:
        return Command(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length)
    return Command(0x00, 0xB1, 0x00, 0x00, tlv(0x54, _offset_bytes(offset)), le=length)


def read_binary_data(command: Command, answer: Response) -> bytes:
    """The file's bytes in the answer to `read_binary`: as they are for even INS, out of
    their 53 data object for odd INS."""
    if command.ins != 0xB1 or not answer.data:
        return answer.data
    items = list(tlv_items(answer.data))
    if len(items) != 1 or items[0][0] != 0x53:
        raise ApduError("the odd READ BINARY answer is not one 53 data object")
    return items[0][1]


def _offset_bytes(offset: int) -> bytes:
    if not 0 <= offset <= MAX_OFFSET:
        raise ApduError(f"offset {offset} is beyond what a card file can hold")
    return offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big")


def _check_fid(fid: int) -> None:
    if not 0 <= fid <= 0xFFFF or fid in _RESERVED_FIDS:
        raise ApduError(f"{fid:#06x} is not a file identifier an EF may have")


def _check_aid(aid: bytes) -> None:
    if not 1 <= len(aid) <= 16:
        raise ApduError(f"a DF name is 1 to 16 bytes, not {len(aid)}")


# ---------------------------------------------------------------- BER-TLV and the FCP


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV data object (tags of one or two bytes)."""
    tag_bytes = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    size = len(value)
    if size < 0x80:
        length = bytes((size,))
    elif size <= 0xFF:
        length = bytes((0x81, size))
    elif size <= 0xFFFF:
        length = b"\x82" + size.to_bytes(2, "big")
    else:
        length = b"\x83" + size.to_bytes(3, "big")
    return tag_bytes + length + value


def tlv_items(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """The data objects in `raw`, in order; padding bytes 00 and FF between them are
    skipped, as ISO/IEC 7816-4 allows."""
    position = 0
    while position < len(raw):
        if raw[position] in (0x00, 0xFF):
            position += 1
            continue
        tag = raw[position]
        position += 1
        if tag & 0x1F == 0x1F:  # a tag of more bytes: bit 8 says another follows
            for _ in range(3):
                if position >= len(raw):
                    raise ApduError("tag cut short")
                tag = tag << 8 | raw[position]
                position += 1
                if not raw[position - 1] & 0x80:
                    break
            else:
                raise ApduError("tag longer than four bytes")
        if position >= len(raw):
            raise ApduError(f"no length after tag {tag:X}")
        size = raw[position]
        position += 1
        if size & 0x80:
            count = size & 0x7F
            if not 1 <= count <= 3 or position + count > len(raw):
                raise ApduError(f"bad length field after tag {tag:X}")
            size = int.from_bytes(raw[position : position + count], "big")
            position += count
        if position + size > len(raw):
            raise ApduError(f"tag {tag:X} says {size} bytes, {len(raw) - position} follow")
        yield tag, bytes(raw[position : position + size])
        position += size


# File descriptor bytes (tag 82): a DF, and a working EF with transparent structure.
DF_DESCRIPTOR: Final = 0x38
TRANSPARENT_EF: Final = 0x01
LIFE_CYCLE_ACTIVATED: Final = 0x05  # operational state, activated


@dataclass(frozen=True, slots=True)
class Fcp:
    """File control parameters (template 62): what CREATE FILE takes and SELECT answers."""

    descriptor: int
    fid: int | None = None
    size: int | None = None  # tag 80: the data bytes of an EF
    df_name: bytes | None = None
    sfi: int | None = None  # tag 88: the short EF identifier
    life_cycle: int | None = None
    security: bytes | None = None  # tag 8C: security attributes, compact format

    @property
    def is_df(self) -> bool:
        return self.descriptor & 0xBF == DF_DESCRIPTOR

    def encode(self) -> bytes:
        body = b""
        if self.size is not None:
            body += tlv(0x80, self.size.to_bytes(2 if self.size <= 0xFFFF else 3, "big"))
        body += tlv(0x82, bytes((self.descriptor,)))
        if self.fid is not None:
            body += tlv(0x83, self.fid.to_bytes(2, "big"))
        if self.df_name is not None:
            body += tlv(0x84, self.df_name)
        if self.sfi is not None:
            body += tlv(0x88, bytes((self.sfi << 3,)))
        if self.life_cycle is not None:
            body += tlv(0x8A, bytes((self.life_cycle,)))
        if self.security is not None:
            body += tlv(0x8C, self.security)
        return tlv(0x62, body)

    @classmethod
    def parse(cls, raw: bytes) -> Fcp:
        items = list(tlv_items(raw))
        if len(items) != 1 or items[0][0] != 0x62:
            raise ApduError("not one FCP template (62)")
        fields = dict(tlv_items(items[0][1]))
        descriptor = fields.get(0x82)
        if not descriptor:
            raise ApduError("the FCP has no file descriptor (82)")
        fid, size, sfi, life_cycle = (fields.get(tag) for tag in (0x83, 0x80, 0x88, 0x8A))
        if fid is not None and len(fid) != 2:
            raise ApduError("the file identifier (83) is not 2 bytes")
        if size is not None and not 1 <= len(size) <= 3:
            raise ApduError("the file size (80) is not 1 to 3 bytes")
        if sfi is not None and (len(sfi) != 1 or sfi[0] & 0x07 or not sfi[0] >> 3):
            raise ApduError("the short EF identifier (88) is not one byte 'sssss000'")
        if life_cycle is not None and len(life_cycle) != 1:
            raise ApduError("the life cycle status (8A) is not one byte")
        security = fields.get(0x8C)
        if security is not None and not _compact_security(security):
            raise ApduError("the security attributes (8C) do not match their access mode byte")
        name = fields.get(0x84)
        if name is not None:
            _check_aid(name)
        return cls(
            descriptor=descriptor[0],
            fid=None if fid is None else int.from_bytes(fid, "big"),
            size=None if size is None else int.from_bytes(size, "big"),
            df_name=name,
            sfi=None if sfi is None else sfi[0] >> 3,
            life_cycle=None if life_cycle is None else life_cycle[0],
            security=security,
        )


def _compact_security(value: bytes) -> bool:
    """Whether `value` is an access mode byte (b8 0) and one condition byte for each of
    its bits b7-b1 that is set."""
    return bool(value) and not value[0] & 0x80 and len(value) == 1 + value[0].bit_count()


def ef_fcp(fid: int, size: int, *, sfi: int | None = None, security: bytes | None = None) -> Fcp:
    """The FCP of a transparent working EF, created activated, with its access rules."""
    _check_fid(fid)
    if not 0 < size <= MAX_OFFSET:
        raise ApduError(f"an EF of {size} bytes")
    if sfi is not None and not 1 <= sfi <= MAX_SFI:
        raise ApduError(f"short EF identifier {sfi} is not 1 to {MAX_SFI}")
    return Fcp(
        TRANSPARENT_EF,
        fid=fid,
        size=size,
        sfi=sfi,
        life_cycle=LIFE_CYCLE_ACTIVATED,
        security=security,
    )


def df_fcp(name: bytes, *, security: bytes | None = None) -> Fcp:
    """The FCP of a DF known by its name (the application identifier), created activated."""
    _check_aid(name)
    return Fcp(DF_DESCRIPTOR, df_name=name, life_cycle=LIFE_CYCLE_ACTIVATED, security=security)


def icc_serial(gdo: bytes) -> bytes | None:
    """The ICC serial number (tag 5A) in the contents of EF.GDO, if it holds one."""
    for tag, value in tlv_items(gdo):
        if tag == 0x5A and value:
            return value
    return None
