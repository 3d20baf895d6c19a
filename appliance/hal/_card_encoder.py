"""The card encoder: writes the KTP-el chip through a PC/SC reader, ISO/IEC 7816-4 only.

The card printer moves each card to its contactless station, where this reader sees it.
`wait_for_card` waits for it and reads who it is; `personalise` creates the application
(a DF known by its AID) and its EFs, writes them with UPDATE BINARY and reads every one
back, byte for byte; `read_application` reads EFs back. Only interindustry commands
(`_iso7816`) are used, so any 7816-4 card with a file system will do.

Extended-length APDUs are used when the card announces them in its ATR and the config
says the reader carries them; otherwise short APDUs, with command chaining for a write
larger than 255 bytes when the card announces chaining, else 255-byte writes.

Card presence is watched by this driver's own loop (SCardGetStatusChange in slices
on a context of its own, `_pcsc`), not by pyscard's monitor threads. An empty reader is
READY: the encoder is fine, it only has nothing to do. The status says whether pcscd
answers (`pcsc_unavailable`) and the reader is there (`not_found`); the supervisor
reconnects after a pcscd restart, on fresh PC/SC contexts.

Outcomes that are the card's, not the encoder's (`no_card_in_reader`, `card_removed`,
`write_failed`, `card_rejected`), leave the encoder READY. A cancelled or timed-out
operation stops before its next APDU and lets the card go (reset), leaving it in the
reader: moving it is the card printer's.

The card's serial: the ICC serial number in EF.GDO (2F02 under the MF, tag 5A) if the
card has one; else the UID the reader reports for PC/SC's GET DATA (FF CA 00 00 00),
which contactless readers answer themselves; else, for a reader that answers neither,
a digest of the ATR (which only tells card types apart, and is marked so).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from appliance._text import Text
from appliance.logs import get_logger

from ._device import Device
from ._errors import DeviceError, DeviceFault, DeviceGone
from ._iso7816 import (
    EF_GDO,
    MAX_EVEN_OFFSET,
    MAX_EXTENDED_LC,
    MAX_OFFSET,
    MAX_SFI,
    MAX_SHORT_LC,
    MAX_SHORT_LE,
    MF,
    ODD_READ_OVERHEAD,
    ODD_WRITE_OVERHEAD,
    ApduError,
    CardCapabilities,
    Command,
    Fcp,
    NoAnswer,
    Response,
    StatusWord,
    Transmit,
    card_capabilities,
    create_file,
    describe,
    df_fcp,
    ef_fcp,
    get_uid,
    icc_serial,
    read_binary,
    read_binary_data,
    select_df_name,
    select_ef,
    select_mf,
    transceive,
    update_binary,
)
from ._pcsc import CardLink, PcscContext, ReaderState, use_socket
from ._registry import Checklist, ConfiguredDevice, DeviceKind, DeviceType, register
from ._status import READY, DeviceIdentity, DeviceStatus

log = get_logger(__name__)

T = TypeVar("T")

# How long one SCardGetStatusChange waits. Closing the context cancels a wait at once;
# longer slices only mean fewer wake-ups of an idle station.
_WATCH_SLICE_S: Final = 30.0
_SLOT_SUFFIX: Final = re.compile(r" \d\d \d\d$")
_READER_SERIAL: Final = re.compile(r" \(([^()]*)\)$")
_RESERVED_FIDS: Final = frozenset({MF, 0x3FFF, 0xFFFF, EF_GDO})

CardListener = Callable[["CardEncoder", bool], None]


# ---------------------------------------------------------------- what the caller passes


@dataclass(frozen=True, slots=True)
class CardApplication:
    """One application on the chip: a DF named `aid` with transparent EFs.

    A key of `files` is a 2-byte file identifier, or a short EF identifier (1 to 30),
    which is created as file identifier 01xx with that short identifier (the ICAO LDS
    convention: DG1 is EF 0101, short identifier 1).
    """

    aid: bytes
    files: Mapping[int, bytes]

    def __post_init__(self) -> None:
        if not 5 <= len(self.aid) <= 16:
            raise ValueError("an AID is 5 to 16 bytes (RID and PIX, ISO/IEC 7816-5)")
        if not self.files:
            raise ValueError("an application needs at least one file")
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


@dataclass(frozen=True, slots=True)
class CardInfo:
    """The card in the reader: who it is and how the encoder talks to it."""

    atr: bytes
    uid: bytes | None  # the reader's GET UID answer; None if it gives none
    serial: str
    serial_source: Literal["gdo", "uid", "atr"]
    extended_length: bool  # extended-length APDUs, with this card in this reader

    def to_json(self) -> dict[str, Any]:
        return {
            "atr": self.atr.hex(),
            "uid": None if self.uid is None else self.uid.hex(),
            "serial": self.serial,
            "serial_source": self.serial_source,
            "extended_length": self.extended_length,
        }


class CardEncoderConfig(BaseModel):
    """`[devices.<name>]` for a card encoder: a PC/SC reader through pcscd."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pcsc_encoder"]
    # The reader's PC/SC name, or its start: the first reader whose name begins with it.
    reader: str = Field(min_length=1)
    # pcscd's socket, only for a private pcscd (the simulator's); None: the system's.
    pcsc_socket: str | None = None
    # Whether the reader carries extended-length APDUs (used when the card announces
    # them too); false for readers that exchange short APDUs only.
    extended_length: bool = True
    # Data per UPDATE/READ BINARY with extended length, or per command chain without.
    chunk_bytes: int = Field(default=1024, ge=MAX_SHORT_LE, le=MAX_EXTENDED_LC)
    identify_timeout_s: PositiveFloat = 5.0  # reading who a card is, once it is there
    connect_timeout_s: PositiveFloat = 5.0
    probe_timeout_s: PositiveFloat = 2.0


# ---------------------------------------------------------------- how APDUs go


class _Refused(Exception):
    """The card answered a status word other than the one the step needs."""

    def __init__(self, what: str, sw: int) -> None:
        self.what = what
        self.sw = sw
        super().__init__(f"{what}: {describe(sw)}")


@dataclass(frozen=True, slots=True)
class _Link:
    """How commands go to this card in this reader, on the worker thread."""

    transmit: Transmit
    extended: bool
    chaining: bool
    chunk: int

    def send(self, command: Command) -> Response:
        return transceive(self.transmit, command, extended=self.extended, chaining=self.chaining)

    def expect(self, what: str, command: Command, *accepted: int) -> Response:
        answer = self.send(command)
        if answer.sw not in (accepted or (StatusWord.OK,)):
            raise _Refused(what, answer.sw)
        return answer

    def write_command(self, offset: int, content: bytes) -> tuple[Command, int]:
        """The next UPDATE BINARY of `content` from `offset`, and how many bytes it writes."""
        limit = self.chunk if self.extended or self.chaining else MAX_SHORT_LC
        if offset > MAX_EVEN_OFFSET:
            limit = min(limit, MAX_EXTENDED_LC) - ODD_WRITE_OVERHEAD
        piece = content[offset : offset + limit]
        return update_binary(offset, piece), len(piece)

    def read_command(self, offset: int, remaining: int) -> Command:
        limit = self.chunk if self.extended else MAX_SHORT_LE
        if offset > MAX_EVEN_OFFSET:
            size = min(limit - ODD_READ_OVERHEAD, remaining)
            return read_binary(offset, size + ODD_READ_OVERHEAD)
        return read_binary(offset, min(limit, remaining))

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


@dataclass(frozen=True, slots=True)
class _Claim:
    """A card claimed for one operation, and how this card in this reader is talked to."""

    card: CardLink
    extended: bool
    chaining: bool
    chunk: int

    def link(self, transmit: Transmit) -> _Link:
        return _Link(transmit, self.extended, self.chaining, self.chunk)


def _identify(link: _Link) -> tuple[bytes | None, bytes | None]:
    """The UID the reader reports and the ICC serial number in EF.GDO, where they exist."""
    uid_answer = link.send(get_uid())
    uid = uid_answer.data if uid_answer.ok and uid_answer.data else None
    serial = None
    if link.send(select_mf()).ok:
        with contextlib.suppress(_Refused):  # no EF.GDO on this card: the UID will do
            serial = icc_serial(link.read_ef(EF_GDO))
    return uid, serial


def _personalise(link: _Link, application: CardApplication) -> dict[int, bytes]:
    """Create and write the application, then read every file back (for the caller to
    compare: a card that wrote one thing and reads another is caught there)."""
    link.expect("SELECT MF", select_mf())
    link.expect("CREATE FILE (DF)", create_file(df_fcp(application.aid).encode()))
    # A created DF becomes the current one; selecting it by name keeps a card that does
    # not do so right too.
    link.expect("SELECT DF", select_df_name(application.aid))
    for key, content in application.files.items():
        fid, sfi = file_id(key)
        fcp = ef_fcp(fid, len(content), sfi=sfi)
        link.expect(f"CREATE FILE {fid:04X}", create_file(fcp.encode()))
        link.expect(f"SELECT EF {fid:04X}", select_ef(fid))
        offset = 0
        while offset < len(content):
            command, size = link.write_command(offset, content)
            link.expect(f"UPDATE BINARY {fid:04X} at {offset}", command)
            offset += size
    return _read_back(link, application.aid, application.files)


def _read_back(link: _Link, aid: bytes, keys: Iterable[int]) -> dict[int, bytes]:
    link.expect("SELECT DF", select_df_name(aid))
    return {key: link.read_ef(file_id(key)[0]) for key in keys}


# ---------------------------------------------------------------- the driver


class CardEncoder(Device):
    kind = DeviceKind("card_encoder", Text("pembaca chip kartu", "card chip reader"))

    def __init__(
        self,
        *,
        name: str,
        reader: str,
        pcsc_socket: str | None = None,
        extended_length: bool = True,
        chunk_bytes: int = 1024,
        identify_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        probe_timeout_s: float = 2.0,
    ) -> None:
        super().__init__(
            name=name, connect_timeout_s=connect_timeout_s, probe_timeout_s=probe_timeout_s
        )
        self.reader = reader
        self.pcsc_socket = pcsc_socket
        self.extended_length = extended_length
        self.chunk_bytes = chunk_bytes
        self.identify_timeout_s = identify_timeout_s
        # One context watches the reader, one talks to the card: pcsc-lite would make
        # an exchange wait behind the watcher's SCardGetStatusChange on a shared one.
        self._watching = PcscContext(device=name, name=f"{name}-watch")
        self._cards = PcscContext(device=name, name=f"{name}-card")
        self._reader: str | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watch_failure: DeviceError | None = None
        self._present = False
        self._card_changed = asyncio.Event()
        self._card_listeners: list[CardListener] = []

    @classmethod
    def from_config(cls, *, name: str, config: CardEncoderConfig) -> Self:
        return cls(
            name=name,
            reader=config.reader,
            pcsc_socket=config.pcsc_socket,
            extended_length=config.extended_length,
            chunk_bytes=config.chunk_bytes,
            identify_timeout_s=config.identify_timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            probe_timeout_s=config.probe_timeout_s,
        )

    @property
    def reader_name(self) -> str | None:
        """The PC/SC name of the reader in use, once connected."""
        return self._reader

    @property
    def card_present(self) -> bool:
        return self._present

    def add_card_listener(self, listener: CardListener) -> None:
        """`listener(encoder, present)` on every card arrival and departure."""
        self._card_listeners.append(listener)

    async def wait_for_card(self, *, timeout_s: float) -> CardInfo:
        """The card in the reader, once there is one (`no_card_in_reader` after `timeout_s`)."""
        async with self.operation("wait_for_card", timeout_s=timeout_s + self.identify_timeout_s):
            try:
                async with asyncio.timeout(timeout_s):
                    while not self._present:
                        await self._card_changed.wait()
            except TimeoutError:
                raise DeviceFault(
                    self.name, "no_card_in_reader", f"none within {timeout_s:g} s"
                ) from None
            async with self._claimed() as claim:
                uid, gdo_serial = await self._on_card(claim, "identify", _identify)
        info = _card_info(claim.card.atr, uid, gdo_serial, extended=claim.extended)
        log.info("card_found", device=self.name, **info.to_json())
        return info

    async def wait_until_empty(self, *, timeout_s: float) -> None:
        """Return once the reader holds no card. pcscd reports a card that left only at
        its next poll, so a caller about to bring a new card waits for the old one to be
        seen gone, rather than take it for the new one."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._present:
                    await self._card_changed.wait()
        except TimeoutError:
            raise DeviceFault(
                self.name, "device_error", f"a card is still on the reader after {timeout_s:g} s"
            ) from None

    async def personalise(self, application: CardApplication, *, timeout_s: float) -> None:
        """Create and write `application`, then read it all back and compare."""
        started = time.perf_counter()
        async with self.operation("personalise", timeout_s=timeout_s):
            async with self._claimed() as claim:
                written = await self._on_card(
                    claim, "personalise", lambda link: _personalise(link, application)
                )
            for key, content in application.files.items():
                if written[key] != content:
                    difference = _difference(key, content, written[key])
                    raise DeviceFault(self.name, "write_failed", difference)
        log.info(
            "card_personalised",
            device=self.name,
            aid=application.aid.hex(),
            files=len(application.files),
            bytes=sum(len(content) for content in application.files.values()),
            apdus=claim.card.apdus,
            extended_length=claim.extended,
            seconds=round(time.perf_counter() - started, 3),
        )

    async def read_application(
        self, aid: bytes, fids: Iterable[int], *, timeout_s: float
    ) -> dict[int, bytes]:
        """The EFs `fids` (keys as in `CardApplication.files`) of the DF named `aid`."""
        keys = list(fids)
        for key in keys:
            file_id(key)
        async with (
            self.operation("read_application", timeout_s=timeout_s),
            self._claimed() as claim,
        ):
            return await self._on_card(claim, "read", lambda link: _read_back(link, aid, keys))

    # -- Device

    async def _connect(self) -> DeviceIdentity:
        await self._stop_watching()
        use_socket(self.name, self.pcsc_socket)
        names = await self._cards.readers()
        reader = next((n for n in names if n == self.reader), None) or next(
            (n for n in names if n.startswith(self.reader)), None
        )
        if reader is None:
            listed = ", ".join(names) or "none"
            raise DeviceGone(
                self.name, f"no reader {self.reader!r} (pcscd lists: {listed})", code="not_found"
            )
        state = await self._watching.reader_state(reader)
        assert state is not None  # an unaware wait answers at once
        self._reader, self._watch_failure = reader, None
        self._note(state)
        self._watcher = asyncio.create_task(self._watch(reader, state), name=f"watch-{self.name}")
        identity = _reader_identity(reader)
        log.info("card_encoder_opened", device=self.name, **identity.to_json())
        return identity

    async def _disconnect(self) -> None:
        await self._stop_watching()
        await self._cards.close(timeout_s=self.probe_timeout_s)

    async def _probe(self) -> DeviceStatus:
        if self._watch_failure is not None:
            raise self._watch_failure
        if self._reader is None:
            raise DeviceGone(self.name, "not connected")
        state = await self._cards.reader_state(self._reader)
        if state is None or state.gone:
            raise DeviceGone(self.name, "the card reader is gone", code="not_found")
        return READY

    # -- the card

    @contextlib.asynccontextmanager
    async def _claimed(self) -> AsyncIterator[_Claim]:
        """The card, claimed for this operation alone; let go (and reset, unless all
        went well) whatever happens, even on cancellation."""
        if self._reader is None or not self._present:
            raise DeviceFault(self.name, "no_card_in_reader")
        card = await self._cards.connect(self._reader)
        reset = True
        try:
            try:
                capabilities = card_capabilities(card.atr)
            except ApduError:
                capabilities = CardCapabilities()  # an ATR that says nothing readable
            yield _Claim(
                card=card,
                extended=self.extended_length and capabilities.extended_length,
                chaining=capabilities.chaining,
                chunk=self.chunk_bytes,
            )
            reset = False
        finally:
            await card.close(reset=reset, timeout_s=self.probe_timeout_s)

    async def _on_card(self, claim: _Claim, what: str, work: Callable[[_Link], T]) -> T:
        """Run `work` on the card's worker thread, its card errors as the HAL's."""
        try:
            return await claim.card.run(what, lambda transmit: work(claim.link(transmit)))
        except NoAnswer as error:
            raise DeviceFault(self.name, "card_removed", f"{what}: {error}") from None
        except ApduError as error:
            raise DeviceFault(self.name, "garbage", f"{what}: {error}") from None
        except _Refused as refused:
            code = "write_failed" if refused.sw == StatusWord.MEMORY_FAILURE else "card_rejected"
            raise DeviceFault(self.name, code, str(refused)) from None

    # -- watching the reader

    async def _watch(self, reader: str, state: ReaderState) -> None:
        try:
            while True:
                change = await self._watching.reader_state(
                    reader, state.known, wait_s=_WATCH_SLICE_S
                )
                if change is None:
                    continue
                if change.gone:
                    raise DeviceGone(self.name, "the card reader is gone", code="not_found")
                state = change
                self._note(state)
        except DeviceError as error:
            # pcscd stopped (or restarted) or the reader went: say so now; the
            # supervisor reconnects on fresh contexts.
            self._watch_failure = error
            self._note(None)
            log.warning("card_reader_lost", device=self.name, code=error.code, detail=error.detail)
            if self.status.code != error.code:
                self._set_status(error.status)

    def _note(self, state: ReaderState | None) -> None:
        present = state is not None and state.present
        if present == self._present:
            return
        self._present = present
        log.info("card_presence", device=self.name, present=present)
        self._card_changed.set()
        self._card_changed = asyncio.Event()
        for listener in self._card_listeners:
            listener(self, present)

    async def _stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await self._watching.close(timeout_s=self.probe_timeout_s)
        self._note(None)


def _card_info(atr: bytes, uid: bytes | None, gdo: bytes | None, *, extended: bool) -> CardInfo:
    if gdo is not None:
        text = gdo.decode("ascii", errors="replace")
        serial = text if text.isprintable() and "\ufffd" not in text else gdo.hex().upper()
        return CardInfo(atr, uid, serial, "gdo", extended)
    if uid is not None:
        return CardInfo(atr, uid, uid.hex().upper(), "uid", extended)
    digest = hashlib.sha256(atr).hexdigest()[:16].upper()
    return CardInfo(atr, uid, f"ATR-{digest}", "atr", extended)


def _difference(key: int, wanted: bytes, found: bytes) -> str:
    fid = file_id(key)[0]
    if len(wanted) != len(found):
        return f"EF {fid:04X} reads back {len(found)} bytes, {len(wanted)} were written"
    first = next(i for i, (a, b) in enumerate(zip(wanted, found, strict=True)) if a != b)
    return f"EF {fid:04X} reads back different from byte {first} on"


def _reader_identity(reader: str) -> DeviceIdentity:
    """What a PC/SC reader name tells: pcsc-lite names a reader "<model> [<interface>]
    (<USB serial>) 00 00"; there is no portable way to ask a reader more."""
    model = _SLOT_SUFFIX.sub("", reader)
    serial = ""
    if match := _READER_SERIAL.search(model):
        serial, model = match.group(1), model[: match.start()]
    return DeviceIdentity(make=model.split()[0], model=model, serial=serial, firmware="")


class _PcscChecklist(Checklist[CardEncoderConfig]):
    """A card reader is reached through pcscd, by the name it reports."""

    def not_found(self, device: ConfiguredDevice[CardEncoderConfig]) -> Text | None:
        return Text(
            ' `pcsc_scan` harus menampilkan pembaca "{reader}"; jika namanya lain, '
            "sesuaikan `reader` di [devices.{name}].",
            ' `pcsc_scan` must list the reader "{reader}"; if it is named otherwise, '
            "set `reader` in [devices.{name}] to match.",
        ).format(reader=device.config.reader, name=device.name)


register(
    DeviceType(
        device=CardEncoder,
        config=CardEncoderConfig,
        build=CardEncoder.from_config,
        checklist=_PcscChecklist(),
    )
)
