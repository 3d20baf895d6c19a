"""What the card encoder does on a card, APDU by APDU, on its worker thread: identify it,
personalise and lock it, read it through its access control.

Personalising (a blank, initialisation state; `_card_access` has the rules):

1. MUTUAL AUTHENTICATE with the card's transport key: a secure messaging session; every
   command from here on is protected (`_secure_messaging`).
2. Under the MF: EF.CardAccess (011C), readable by all, naming the PACE protocol and
   domain parameters the reader will ask for; CHANGE REFERENCE DATA for the card access
   number and for the reader key.
3. The application DF by its AID, then each EF with its access rules (FCP tag 8C):
   UPDATE never, READ under PACE, or under PACE and the reader key for the sensitive
   files (DG3); written with UPDATE BINARY.
4. Every EF read back and compared; only a card that reads back what was written is
   activated (ACTIVATE FILE on the MF): from then on nothing on it can be written.

Reading an issued card: EF.CardAccess in plain, PACE with the CAN, then (for the
sensitive files) MUTUAL AUTHENTICATE with the reader key inside the PACE session, then
SELECT and READ BINARY under secure messaging.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from ._apdu import (
    MAX_EXTENDED_LC,
    MAX_SHORT_LC,
    MAX_SHORT_LE,
    ApduError,
    Command,
    Response,
    StatusWord,
    Transmit,
    describe,
    transceive,
)
from ._card_access import (
    ALWAYS,
    CAN_REFERENCE,
    PACE_ONLY,
    READER_KEY,
    READER_KEY_REFERENCE,
    TRANSPORT_KEY,
    AccessKeys,
    PersonalisationKeys,
    activate_file,
    authenticate,
    change_reference_data,
    df_security,
    ef_security,
)
from ._iso7816 import (
    EF_GDO,
    MAX_EVEN_OFFSET,
    MAX_OFFSET,
    MAX_SFI,
    MF,
    ODD_READ_OVERHEAD,
    ODD_WRITE_OVERHEAD,
    Fcp,
    create_file,
    df_fcp,
    ef_fcp,
    get_uid,
    icc_serial,
    read_binary,
    read_binary_data,
    select_df_name,
    select_ef,
    select_mf,
    update_binary,
)
from ._pace import (
    EF_CARD_ACCESS,
    PACE_ECDH_GM_AES128,
    PaceInfo,
    card_access,
    establish,
    pace_infos,
    password_key,
)
from ._secure_messaging import SHORT_READ, SHORT_WRITE, SecureChannel

_RESERVED_FIDS: Final = frozenset({MF, 0x3FFF, 0xFFFF, EF_GDO, EF_CARD_ACCESS})
CARD_ACCESS_SFI: Final = 0x1C
# The domain parameters this station asks cards to use: brainpoolP256r1 (9303-11 §9.5.1
# id 13), as most eMRTD chips offer it.
DOMAIN_PARAMETERS: Final = 13


@dataclass(frozen=True, slots=True)
class CardApplication:
    """One application on the chip: a DF named `aid` with transparent EFs.

    A key of `files` is a 2-byte file identifier, or a short EF identifier (1 to 30),
    which is created as file identifier 01xx with that short identifier (the ICAO LDS
    convention: DG1 is EF 0101, short identifier 1). Every file is read under PACE; the
    keys in `sensitive` (DG3) under PACE and the reader key.
    """

    aid: bytes
    files: Mapping[int, bytes]
    sensitive: frozenset[int] = field(default=frozenset())

    def __post_init__(self) -> None:
        if not 5 <= len(self.aid) <= 16:
            raise ValueError("an AID is 5 to 16 bytes (RID and PIX, ISO/IEC 7816-5)")
        if not self.files:
            raise ValueError("an application needs at least one file")
        if not self.sensitive <= set(self.files):
            raise ValueError("a sensitive file must be one of the application's files")
        seen: set[int] = set()
        for key, content in self.files.items():
            fid, _ = file_id(key)
            if fid in seen:
                raise ValueError(f"two files would both be EF {fid:04X}")
            seen.add(fid)
            if not 0 < len(content) <= MAX_OFFSET:
                raise ValueError(f"EF {fid:04X}: {len(content)} bytes")


def file_id(key: int) -> tuple[int, int | None]:
    """The file identifier and short EF identifier for a key of `CardApplication.files`."""
    if 1 <= key <= MAX_SFI:
        return 0x0100 | key, key
    if not 0 <= key <= 0xFFFF or key in _RESERVED_FIDS:
        raise ValueError(f"{key:#06x} is not a file identifier an application EF may have")
    return key, None


class Refused(Exception):
    """The card answered a status word other than the one the step needs."""

    def __init__(self, what: str, sw: int) -> None:
        self.what = what
        self.sw = sw
        super().__init__(f"{what}: {describe(sw)}")


class Mismatch(Exception):
    """A file read back differs from what was written: the card is not activated."""


@dataclass(frozen=True, slots=True)
class Link:
    """How commands go to this card in this reader, on the worker thread; through a
    secure messaging channel once one is open."""

    transmit: Transmit
    extended: bool
    chaining: bool
    chunk: int
    channel: SecureChannel | None = None

    def secured(self, channel: SecureChannel) -> Link:
        return replace(self, channel=channel)

    def send(self, command: Command) -> Response:
        channel = self.channel
        if channel is None:
            return transceive(
                self.transmit, command, extended=self.extended, chaining=self.chaining
            )
        protected = channel.protect(command, extended=self.extended)
        answer = transceive(self.transmit, protected, extended=self.extended, chaining=False)
        return channel.open(command, answer)

    def expect(self, what: str, command: Command, *accepted: int) -> Response:
        answer = self.send(command)
        if answer.sw not in (accepted or (StatusWord.OK,)):
            raise Refused(what, answer.sw)
        return answer

    def _limit(self, *, writing: bool) -> int:
        if self.extended:
            return self.chunk
        if self.channel is not None:  # one protected APDU, no chain, on a short link
            return SHORT_WRITE if writing else SHORT_READ
        if writing:
            return self.chunk if self.chaining else MAX_SHORT_LC
        return MAX_SHORT_LE

    def write_command(self, offset: int, content: bytes) -> tuple[Command, int]:
        """The next UPDATE BINARY of `content` from `offset`, and how many bytes it writes."""
        limit = self._limit(writing=True)
        if offset > MAX_EVEN_OFFSET:
            limit = min(limit, MAX_EXTENDED_LC) - ODD_WRITE_OVERHEAD
        piece = content[offset : offset + limit]
        return update_binary(offset, piece), len(piece)

    def read_command(self, offset: int, remaining: int) -> Command:
        limit = self._limit(writing=False)
        if offset > MAX_EVEN_OFFSET:
            size = min(limit - ODD_READ_OVERHEAD, remaining)
            return read_binary(offset, size + ODD_READ_OVERHEAD)
        return read_binary(offset, min(limit, remaining))

    def write_ef(self, fid: int, content: bytes) -> None:
        offset = 0
        while offset < len(content):
            command, size = self.write_command(offset, content)
            self.expect(f"UPDATE BINARY {fid:04X} at {offset}", command)
            offset += size

    def read_ef(self, fid: int) -> bytes:
        """The whole EF `fid` of the current DF (its size from the FCP SELECT answers)."""
        answer = self.expect(f"SELECT EF {fid:04X}", select_ef(fid, fcp=True))
        size = Fcp.parse(answer.data).size if answer.data else None
        content = bytearray()
        while size is None or len(content) < size:
            remaining = MAX_EXTENDED_LC if size is None else size - len(content)
            command = self.read_command(len(content), remaining)
            answer = self.expect(
                f"READ BINARY {fid:04X} at {len(content)}",
                command,
                StatusWord.OK,
                StatusWord.END_OF_FILE,
                StatusWord.WRONG_OFFSET,
            )
            data = read_binary_data(command, answer)
            content += data
            if answer.sw != StatusWord.OK or not data:
                break  # the end of the file (its size was not announced)
        if size is not None and len(content) != size:
            raise ApduError(f"EF {fid:04X} gave {len(content)} of its {size} bytes")
        return bytes(content)


def identify(link: Link) -> tuple[bytes | None, bytes | None]:
    """The UID the reader reports and the ICC serial number in EF.GDO, where they exist
    (EF.GDO is free to read, blank or issued)."""
    uid_answer = link.send(get_uid())
    uid = uid_answer.data if uid_answer.ok and uid_answer.data else None
    serial = None
    if link.send(select_mf()).ok:
        with contextlib.suppress(Refused):  # no EF.GDO on this card: the UID will do
            serial = icc_serial(link.read_ef(EF_GDO))
    return uid, serial


def personalise_and_lock(
    link: Link, application: CardApplication, keys: PersonalisationKeys
) -> None:
    """Write the application and its keys, read it all back, and activate the card only
    if everything reads back as written (Mismatch otherwise)."""
    link.expect("SELECT MF", select_mf())
    secure = link.secured(SecureChannel(authenticate(link.send, keys.transport_key, TRANSPORT_KEY)))
    secure.expect("SELECT MF", select_mf())
    pace = card_access([PaceInfo(PACE_ECDH_GM_AES128, DOMAIN_PARAMETERS)])
    _create_ef(secure, EF_CARD_ACCESS, CARD_ACCESS_SFI, pace, ef_security(read=ALWAYS))
    secure.expect("SELECT MF", select_mf())
    secure.expect(
        "CHANGE REFERENCE DATA (CAN)", change_reference_data(CAN_REFERENCE, keys.can.encode())
    )
    secure.expect(
        "CHANGE REFERENCE DATA (reader key)",
        change_reference_data(READER_KEY_REFERENCE, keys.reader_key),
    )
    secure.expect(
        "CREATE FILE (DF)", create_file(df_fcp(application.aid, security=df_security()).encode())
    )
    # A created DF becomes the current one; selecting it by name keeps a card that does
    # not do so right too.
    secure.expect("SELECT DF", select_df_name(application.aid))
    for key, content in application.files.items():
        fid, sfi = file_id(key)
        rule = READER_KEY if key in application.sensitive else PACE_ONLY
        _create_ef(secure, fid, sfi, content, ef_security(read=rule))
    written = _read_back(secure, application.aid, application.files)
    for key, content in application.files.items():
        if written[key] != content:
            raise Mismatch(_difference(key, content, written[key]))
    secure.expect("ACTIVATE FILE (MF)", activate_file(MF))


def _create_ef(link: Link, fid: int, sfi: int | None, content: bytes, security: bytes) -> None:
    fcp = ef_fcp(fid, len(content), sfi=sfi, security=security)
    link.expect(f"CREATE FILE {fid:04X}", create_file(fcp.encode()))
    link.expect(f"SELECT EF {fid:04X}", select_ef(fid))
    link.write_ef(fid, content)


def read_protected(
    link: Link, aid: bytes, keys: Iterable[int], access: AccessKeys
) -> dict[int, bytes]:
    """The EFs `keys` of the application, read through PACE (and the reader key)."""
    link.expect("SELECT MF", select_mf())
    offered = pace_infos(link.read_ef(EF_CARD_ACCESS))
    if not offered:
        raise ApduError("EF.CardAccess offers no PACE this reader runs")
    channel = establish(link.send, password=password_key(access.can), info=offered[0])
    secure = link.secured(channel)
    if access.reader_key is not None:
        channel.keys = authenticate(secure.send, access.reader_key, READER_KEY_REFERENCE)
    return _read_back(secure, aid, keys)


def _read_back(link: Link, aid: bytes, keys: Iterable[int]) -> dict[int, bytes]:
    link.expect("SELECT DF", select_df_name(aid))
    return {key: link.read_ef(file_id(key)[0]) for key in keys}


def _difference(key: int, wanted: bytes, found: bytes) -> str:
    fid = file_id(key)[0]
    if len(wanted) != len(found):
        return f"EF {fid:04X} reads back {len(found)} bytes, {len(wanted)} were written"
    first = next(i for i, (a, b) in enumerate(zip(wanted, found, strict=True)) if a != b)
    return f"EF {fid:04X} reads back different from byte {first} on"
