"""ISO/IEC 7816-4 commands, BER-TLV and the FCP: the card encoder's whole vocabulary, as
pure functions.

Only interindustry commands, so that any 7816-4 card with a file system will do: SELECT
(MF, EF by file identifier, DF by name), CREATE FILE with an FCP template, UPDATE BINARY
and READ BINARY (even INS for offsets up to 0x7FFF, odd INS with an offset data object
beyond), and the reader's GET UID pseudo-APDU (PC/SC part 3). The APDUs themselves, the
status words and the exchange with the card (`transceive`, with GET RESPONSE) are
`_apdu.py`.

Everything that parses bytes from a card raises `ApduError` on anything malformed and
never anything else: a garbled answer is a fault to report, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ._apdu import MAX_EXTENDED_LE, MAX_SHORT_LE, ApduError, Command, Response

MAX_EVEN_OFFSET: Final = 0x7FFF  # P1 bit 8 set would mean "short EF identifier in P1"
MAX_OFFSET: Final = 0xFFFFFF  # three bytes in the offset data object: far beyond any card
MAX_SFI: Final = 30
MF: Final = 0x3F00
EF_GDO: Final = 0x2F02  # EF.GDO under the MF: holds the ICC serial number (tag 5A)
# UPDATE BINARY (odd INS) carries 54 L offset and 53 L data: the most these cost on top of
# the data itself (a three-byte offset and a three-byte length).
ODD_WRITE_OVERHEAD: Final = 2 + 3 + 4
ODD_READ_OVERHEAD: Final = 4  # READ BINARY (odd INS) answers 53 L data

_RESERVED_FIDS: Final = frozenset({MF, 0x3FFF, 0xFFFF})


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
