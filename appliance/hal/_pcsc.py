"""The HAL's PC/SC contexts: pcscd through pyscard's `smartcard.scard` calls.

Only the PC/SC calls themselves are used, not pyscard's CardMonitor, ReaderMonitor or
CardRequest: those run threads of their own that wait without a deadline and swallow
errors, where the HAL needs every call bounded and every error mapped. Every call runs
on the context's own worker thread (`BlockingCaller`); the one that waits,
SCardGetStatusChange, waits in long slices, and `close` cuts a wait short with
SCardCancel from another thread, again until the wait is over: it must never release
the context under a wait (see `_end_the_calls_in_flight`).

pcsc-lite serialises the calls on one context (a SCardGetStatusChange holds it while it
waits, a SCardTransmit would queue behind it), so a driver keeps one context per thing
it does at once: one watching the reader, one for the card.

When pcscd restarts, every context and card handle from before is dead: calls answer
SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED or SCARD_E_INVALID_HANDLE. The context is
then dropped and the next call establishes a new one (a query is retried once on it at
once). Every PC/SC result code becomes the HAL's taxonomy here, in `pcsc_error`, and
nowhere else.

The client library (libpcsclite) finds pcscd at /run/pcscd/pcscd.comm, or where
PCSCLITE_CSOCK_NAME says: it reads the variable once per process, at the first
SCardEstablishContext (not when pyscard is imported), and keeps it. So one process talks
to one pcscd; `use_socket` sets it, and refuses to point elsewhere once set.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar, cast

from smartcard import scard

from ._apdu import Transmit
from ._blocking import BlockingCaller
from ._errors import DeviceBusy, DeviceError, DeviceFault, DeviceGone, DeviceTimeout

T = TypeVar("T")

SOCKET_VARIABLE: Final = "PCSCLITE_CSOCK_NAME"

# pcscd is gone or was restarted: only a new context can help. A call in progress when
# pcscd dies gets SCARD_F_COMM_ERROR ("RPC transport error"); a connection pcscd closes
# before answering (it was dying, or polkit refused this user) SCARD_W_SECURITY_VIOLATION.
_SERVICE_GONE: Final = frozenset(
    {
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_E_INVALID_HANDLE,
        scard.SCARD_F_COMM_ERROR,
        scard.SCARD_W_SECURITY_VIOLATION,
    }
)
_READER_GONE: Final = frozenset(
    {
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_NO_READERS_AVAILABLE,
    }
)
# The card went away, or stopped answering, between or during APDUs. pcscd says
# SCARD_E_NOT_TRANSACTED when the exchange itself failed (a contactless card leaving
# the field mid-APDU), then SCARD_W_REMOVED_CARD once it has seen the card go.
_CARD_GONE: Final = frozenset(
    {
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_E_NOT_TRANSACTED,
    }
)
_CARD_UNUSABLE: Final = frozenset(
    {
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_E_PROTO_MISMATCH,
        scard.SCARD_W_UNSUPPORTED_CARD,
    }
)
_FAULTS: Final = (
    (_CARD_GONE, "card_removed"),
    (_CARD_UNUSABLE, "card_rejected"),
    # An answer longer than the client's buffer: longer than any APDU can be.
    (frozenset({scard.SCARD_E_INSUFFICIENT_BUFFER}), "garbage"),
)
_ABSENT: Final = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE


class PcscError(Exception):
    """A PC/SC call failed: which call, and its result code."""

    def __init__(self, what: str, code: int) -> None:
        self.what = what
        self.code = code & 0xFFFFFFFF
        message = scard.SCardGetErrorMessage(self.code).rstrip(". ")
        super().__init__(f"{what}: {message} ({self.code:#010x})")


def pcsc_error(device: str, error: PcscError) -> DeviceError:
    """The HAL error for a failed PC/SC call."""
    code, detail = error.code, str(error)
    if code in _SERVICE_GONE:
        return DeviceGone(device, detail, code="pcsc_unavailable")
    if code in _READER_GONE:
        return DeviceGone(device, detail, code="not_found")
    if code == scard.SCARD_E_TIMEOUT:
        return DeviceTimeout(device, detail)
    if code == scard.SCARD_E_SHARING_VIOLATION:
        return DeviceBusy(device, f"{detail} (another program holds the card)")
    fault = next((name for codes, name in _FAULTS if code in codes), "device_error")
    return DeviceFault(device, fault, detail)


def use_socket(device: str, path: str | None) -> None:
    """Point this process's PC/SC client at pcscd's socket `path` (None: the system's)."""
    if path is None:
        return
    current = os.environ.get(SOCKET_VARIABLE)
    if current not in (None, path):
        raise DeviceFault(
            device,
            "device_error",
            f"{SOCKET_VARIABLE} is already {current}: one process talks to one pcscd",
        )
    os.environ[SOCKET_VARIABLE] = path


def _checked(what: str, hresult: int) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscError(what, hresult)


@dataclass(frozen=True, slots=True)
class ReaderState:
    """A reader as pcscd last reported it."""

    name: str
    event: int  # SCARD_STATE_* bits; pcsc-lite counts card events in the high 16 bits
    atr: bytes

    @property
    def gone(self) -> bool:
        return bool(self.event & _ABSENT)

    @property
    def present(self) -> bool:
        """A card is in the reader, even a mute one (that did not answer its reset, or
        whose reset failed): connecting to it tells more than waiting would."""
        return bool(self.event & scard.SCARD_STATE_PRESENT)

    @property
    def known(self) -> int:
        """What to pass back to the next wait, to hear of the next change only."""
        known: int = self.event & ~scard.SCARD_STATE_CHANGED
        return known


UNAWARE: Final = scard.SCARD_STATE_UNAWARE
_QUEUE_BEHIND_S: Final = 0.25
_CANCEL_AGAIN_S: Final = 0.05


class PcscContext:
    """One PC/SC context on its own worker thread, established on first use and again
    after pcscd has restarted."""

    def __init__(self, *, device: str, name: str) -> None:
        self.device = device
        self._caller = BlockingCaller(name=name)
        # Cancels a wait from beside it; a daemon thread, like the caller's, so that a
        # hung pcscd cannot hold the process's exit.
        self._canceller = BlockingCaller(name=f"{name}-cancel")
        self._handle: int | None = None
        self._life = 0
        """Which context the calls are on: the next one after `close`, `forget` or the
        end of pcscd. A call from an earlier life makes no context, and `close` does
        not wait for it (it is stuck on a context given up)."""
        self._life_lock = threading.Lock()  # the loop's and the worker threads' view
        self._in_flight: dict[asyncio.Event, int] = {}
        """Each call running on a worker thread, set when it returns, with its life: a
        call whose caller gave up on it goes on there (see BlockingCaller)."""

    async def readers(self) -> list[str]:
        def call(context: int) -> list[str]:
            hresult, names = scard.SCardListReaders(context, [])
            if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            _checked("SCardListReaders", hresult)
            return list(names)

        return await self._query("list readers", call)

    async def reader_state(
        self, reader: str, known: int = UNAWARE, *, wait_s: float = 0.0
    ) -> ReaderState | None:
        """The reader's state once it differs from `known`; None if it did not change
        within `wait_s` (keep it short: a caller that gives up leaves the call waiting
        on the worker thread until then, or until `close` cancels it)."""
        milliseconds = max(0, round(wait_s * 1000))

        def call(context: int) -> ReaderState | None:
            hresult, states = scard.SCardGetStatusChange(context, milliseconds, [(reader, known)])
            if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                return None  # no change in time, or `close` cut the wait short
            _checked("SCardGetStatusChange", hresult)
            name, event, atr = states[0]
            return ReaderState(name, event, bytes(atr))

        return await self._query("reader state", call)

    async def connect(self, reader: str) -> CardLink:
        """Claim the card in `reader` for this context alone (no other program may use
        it until `CardLink.close`). A caller that gives up meanwhile leaves no claim
        behind: whichever side finishes last lets the card go."""
        handoff = _Handoff()

        life = self._life

        def call() -> CardLink:
            context = self._established(life)
            hresult, card, protocol = scard.SCardConnect(
                context,
                reader,
                scard.SCARD_SHARE_EXCLUSIVE,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            _checked("SCardConnect", hresult)
            hresult, _, _, _, atr = scard.SCardStatus(card)
            if hresult != scard.SCARD_S_SUCCESS:
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
                raise PcscError("SCardStatus", hresult)
            link = CardLink(self, card, protocol, bytes(atr), life=life)
            if not handoff.deliver(link):
                scard.SCardDisconnect(card, scard.SCARD_RESET_CARD)  # nobody took it
            return link

        try:
            return await self.run("connect", call)
        except asyncio.CancelledError:
            claimed = handoff.abandon()
            if claimed is not None:  # made just before the caller gave up
                await claimed.close(reset=True, timeout_s=_QUEUE_BEHIND_S)
            raise

    async def close(self, *, timeout_s: float = 1.0) -> None:
        """Release the context; a call still waiting on it is cancelled first."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._end_the_calls_in_flight()
                with self._life_lock:  # a call from now on makes a context of its own
                    handle, self._handle = self._handle, None
                    self._life += 1
                if handle is not None:
                    await self._caller.call(lambda: scard.SCardReleaseContext(handle))
        except TimeoutError:
            pass  # held by a call that never returns: it goes with the process
        finally:
            self._next_life()
            self._canceller.close()
            self._caller.close()

    async def _end_the_calls_in_flight(self) -> None:
        """Cancel a SCardGetStatusChange still waiting on the context (its caller may
        have given up on it) and wait until every call has returned.

        The release must not overtake such a call: libpcsclite's SCardReleaseContext
        waits for the context's lock holding the library's global one, so every PC/SC
        call in the process would stop until the wait ends. SCardCancel is lost if it
        comes before the wait has begun (it cancels only a wait in progress), or before
        the call has even made its context, so it is sent again until the calls are
        over; from another thread than the context's own."""
        while calls := [call for call, life in self._in_flight.items() if life == self._life]:
            handle = self._handle
            if handle is not None:
                await self._canceller.call(functools.partial(scard.SCardCancel, handle))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CANCEL_AGAIN_S):
                    await calls[0].wait()

    def forget(self) -> None:
        """Give the context up without releasing it: a call stuck on it would hold the
        release too. The next call establishes a new one."""
        self._next_life()

    def _next_life(self) -> None:
        with self._life_lock:
            self._life += 1
            self._handle = None

    async def _query(self, what: str, call: Callable[[int], T]) -> T:
        """A call that can be repeated: after a pcscd restart, once more on a new context."""
        stale = self._handle is not None
        life = self._life
        try:
            return await self.run(what, lambda: call(self._established(life)))
        except DeviceGone as error:
            if not (stale and error.code == "pcsc_unavailable"):
                raise
        life = self._life
        return await self.run(what, lambda: call(self._established(life)))

    async def run(self, what: str, call: Callable[[], T], *, life: int | None = None) -> T:
        """`call` on the worker thread, its PC/SC failure as the HAL's error; `life`,
        when the call is on a card of an earlier context than the current one."""

        returned = asyncio.Event()
        loop = asyncio.get_running_loop()

        def settle() -> None:
            returned.set()
            self._in_flight.pop(returned, None)

        def guarded() -> _Outcome[T]:
            # Failures come back as values: a call abandoned by a cancelled caller must
            # not leave an exception that nobody will ever retrieve.
            try:
                return _Outcome(call())
            except Exception as error:  # noqa: BLE001 - raised again by the awaiting task
                return _Outcome(None, error)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(settle)

        if life is None:
            life = self._life
        self._in_flight[returned] = life
        try:
            outcome = await self._caller.call(guarded)
        except asyncio.CancelledError:
            raise  # the call goes on without its caller: `settle` follows it
        except BaseException:
            self._in_flight.pop(returned, None)  # it never reached the thread
            raise
        error = outcome.error
        if error is None:
            return cast(T, outcome.value)
        if not isinstance(error, PcscError):
            raise error
        if error.code in _SERVICE_GONE and life == self._life:
            self._next_life()  # the context died with the pcscd that issued it
        raise pcsc_error(self.device, PcscError(f"{what}: {error.what}", error.code))

    def _established(self, life: int) -> int:
        """The context of `life` (on the worker thread), establishing it if there is
        none; none for a call whose life is over."""
        with self._life_lock:
            if life == self._life and self._handle is not None:
                return self._handle
        if life == self._life:
            hresult, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            _checked("SCardEstablishContext", hresult)
            with self._life_lock:
                current = life == self._life
                if current and self._handle is None:
                    self._handle = int(handle)
                    return self._handle
                existing = self._handle
            # Closed or given up while it was made, or another call of this life (one
            # whose caller gave up while it made a context) got there first.
            scard.SCardReleaseContext(handle)
            if current and existing is not None:
                return existing
        # Not a service error: this call's end must not end the context that follows.
        raise PcscError("SCardEstablishContext", scard.SCARD_E_CANCELLED)


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[T]):
    value: T | None
    error: Exception | None = None


class _Handoff:
    """A card link made on the worker thread for a caller that may have given up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._link: CardLink | None = None

    def deliver(self, link: CardLink) -> bool:
        """On the worker thread: False if the caller is gone (the link is then its own)."""
        with self._lock:
            self._link = link
            return not self._abandoned

    def abandon(self) -> CardLink | None:
        """On the loop: the link already made, which the caller must now let go."""
        with self._lock:
            self._abandoned = True
            return self._link


class _Stopped(Exception):
    """The caller gave up: the exchange ends before its next APDU."""


class CardLink:
    """A claimed card: APDU exchanges on the context's worker thread."""

    def __init__(
        self, context: PcscContext, card: int, protocol: int, atr: bytes, *, life: int
    ) -> None:
        self._context = context
        self._life = life  # the context's, when the card was connected
        self._card = card
        self._protocol = protocol
        self.atr = atr
        self.apdus = 0
        self._exchanging = False  # an APDU is on the wire (perhaps in an abandoned call)

    async def run(self, what: str, work: Callable[[Transmit], T]) -> T:
        """Run `work` on the worker thread with a transmit function; if the caller is
        cancelled, `work` stops before its next APDU (the one on the wire finishes)."""
        stop = threading.Event()

        def transmit(apdu: bytes) -> bytes:
            if stop.is_set():
                raise _Stopped
            self._exchanging = True
            try:
                hresult, answer = scard.SCardTransmit(self._card, self._protocol, list(apdu))
            finally:
                self._exchanging = False
            _checked("SCardTransmit", hresult)
            self.apdus += 1
            return bytes(answer)

        def job() -> T:
            try:
                return work(transmit)
            except _Stopped:
                # Only ever after the caller was cancelled: nobody waits for this result.
                return cast(T, None)

        try:
            return await self._context.run(what, job, life=self._life)
        except asyncio.CancelledError:
            stop.set()
            raise

    async def close(self, *, reset: bool, timeout_s: float) -> None:
        """Let the card go (reset: its volatile state too); bounded, never raises. The
        card stays in the reader: taking it out is the card printer's."""
        disposition = scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD
        if self._exchanging:
            # An abandoned APDU still holds the context: the disconnect can only queue
            # behind it, so do not wait for it (it still happens, on its own thread).
            timeout_s = min(timeout_s, _QUEUE_BEHIND_S)

        def disconnect() -> None:
            scard.SCardDisconnect(self._card, disposition)  # a card gone: nothing to free

        try:
            async with asyncio.timeout(timeout_s):
                await self._context.run("disconnect", disconnect, life=self._life)
        except TimeoutError:
            # An APDU that never returns holds the context: drop it. The disconnect
            # still runs once that APDU ends, and frees the reader for the next card.
            self._context.forget()
