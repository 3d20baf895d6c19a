"""ISO/IEC 7816-3 and 7816-4 APDUs on the link: command and response, status words, and
`transceive`, one exchange with the card.

`transceive` is one command as the card sees it: split into a command chain (CLA bit
0x10) when its data is longer than the link carries, the rest of a long answer fetched
with GET RESPONSE (61xx), re-issued once with the length the card asks for (6Cxx). It
takes the transmit function as an argument, so the same code runs on the driver's worker
thread against pcscd and in unit tests against the simulated card directly. The commands
the encoder sends, BER-TLV and the FCP are `_iso7816.py`.

Everything that parses bytes from a card raises `ApduError` on anything malformed and
never anything else: a garbled answer is a fault to report, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

MAX_SHORT_LC: Final = 255
MAX_SHORT_LE: Final = 256
MAX_EXTENDED_LC: Final = 65535
MAX_EXTENDED_LE: Final = 65536
CHAINING: Final = 0x10  # CLA bit: "more commands of this chain follow"

# A card that keeps answering 61xx would hold the link forever: an answer is never more
# than one extended Le, which GET RESPONSE fetches 256 bytes at a time at worst.
_MAX_GET_RESPONSES: Final = MAX_EXTENDED_LE // MAX_SHORT_LE + 1
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


def get_response(le: int) -> Command:
    return Command(0x00, 0xC0, 0x00, 0x00, le=le)
