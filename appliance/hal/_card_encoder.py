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
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from appliance._text import Text
from appliance.logs import get_logger

from ._apdu import MAX_EXTENDED_LC, MAX_SHORT_LE, ApduError, NoAnswer, StatusWord, Transmit
from ._atr import CardCapabilities, card_capabilities
from ._card_access import AccessDenied, AccessKeys, PersonalisationKeys
from ._card_session import (
    CardApplication,
    Link,
    Mismatch,
    Refused,
    file_id,
    identify,
    personalise_and_lock,
    read_protected,
)
from ._device import Device
from ._errors import DeviceError, DeviceFault, DeviceGone
from ._pace import PaceFailed
from ._pcsc import CardLink, PcscContext, ReaderState, use_socket
from ._registry import Checklist, ConfiguredDevice, DeviceKind, DeviceType, register
from ._secure_messaging import SecureMessagingError
from ._status import READY, DeviceIdentity, DeviceStatus

log = get_logger(__name__)

T = TypeVar("T")

# How long one SCardGetStatusChange waits. Closing the context cancels a wait at once;
# longer slices only mean fewer wake-ups of an idle station.
_WATCH_SLICE_S: Final = 30.0
_SLOT_SUFFIX: Final = re.compile(r" \d\d \d\d$")
_READER_SERIAL: Final = re.compile(r" \(([^()]*)\)$")

CardListener = Callable[["CardEncoder", bool], None]


# ---------------------------------------------------------------- what the caller passes


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


@dataclass(frozen=True, slots=True)
class _Claim:
    """A card claimed for one operation, and how this card in this reader is talked to."""

    card: CardLink
    extended: bool
    chaining: bool
    chunk: int

    def link(self, transmit: Transmit) -> Link:
        return Link(transmit, self.extended, self.chaining, self.chunk)


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
                uid, gdo_serial = await self._on_card(claim, "identify", identify)
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

    async def personalise(
        self, application: CardApplication, *, keys: PersonalisationKeys, timeout_s: float
    ) -> None:
        """Open the blank with its transport key, create and write `application` and the
        card's keys, read it all back and compare, then lock the card (`_card_session`)."""
        started = time.perf_counter()
        async with self.operation("personalise", timeout_s=timeout_s), self._claimed() as claim:
            await self._on_card(
                claim, "personalise", lambda link: personalise_and_lock(link, application, keys)
            )
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
        self, aid: bytes, fids: Iterable[int], *, keys: AccessKeys, timeout_s: float
    ) -> dict[int, bytes]:
        """The EFs `fids` (keys as in `CardApplication.files`) of the DF named `aid` of an
        issued card, through PACE with its CAN (and its reader key, for the sensitive
        files: without it they are refused, `card_rejected` 6982)."""
        wanted = list(fids)
        for key in wanted:
            file_id(key)
        async with (
            self.operation("read_application", timeout_s=timeout_s),
            self._claimed() as claim,
        ):
            return await self._on_card(
                claim, "read", lambda link: read_protected(link, aid, wanted, keys)
            )

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

    async def _on_card(self, claim: _Claim, what: str, work: Callable[[Link], T]) -> T:
        """Run `work` on the card's worker thread, its card errors as the HAL's."""
        try:
            return await claim.card.run(what, lambda transmit: work(claim.link(transmit)))
        except NoAnswer as error:
            raise DeviceFault(self.name, "card_removed", f"{what}: {error}") from None
        except (AccessDenied, PaceFailed) as denied:
            # A card issued already refuses its transport key (6984): not this station's
            # to write. Any other refusal is a key (or CAN) the card does not hold.
            code = (
                "card_rejected" if denied.sw == StatusWord.REFERENCE_NOT_USABLE else "access_denied"
            )
            raise DeviceFault(self.name, code, f"{what}: {denied}") from None
        except SecureMessagingError as error:
            raise DeviceFault(self.name, "card_rejected", f"{what}: {error}") from None
        except ApduError as error:
            raise DeviceFault(self.name, "garbage", f"{what}: {error}") from None
        except Mismatch as difference:
            raise DeviceFault(self.name, "write_failed", str(difference)) from None
        except Refused as refused:
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
