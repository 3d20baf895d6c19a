"""The base every driver builds on: status, identity, one operation at a time, timeouts.

A driver implements the protocol (`_connect`, `_disconnect`, `_probe` and its own
operations); this class owns the rules every device shares, so no driver can forget
them: a second caller gets DeviceBusy at once, every operation ends by its deadline,
and every failure leaves the status saying why.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ClassVar, Final

from ._errors import DeviceBusy, DeviceError, DeviceFault, DeviceGone, DeviceTimeout, status_for
from ._registry import DeviceKind
from ._status import BUSY, READY, DeviceIdentity, DeviceState, DeviceStatus

StatusListener = Callable[["Device", DeviceStatus], None]


_CHECK: Final = "check"


class Device(ABC):
    kind: ClassVar[DeviceKind]
    """What sort of device this driver drives; declared by each driver class."""

    def __init__(
        self, *, name: str, connect_timeout_s: float = 5.0, probe_timeout_s: float = 1.0
    ) -> None:
        self.name = name
        self.connect_timeout_s = connect_timeout_s
        self.probe_timeout_s = probe_timeout_s
        self._status = status_for("disconnected")
        self._identity: DeviceIdentity | None = None
        self._in_use: str | None = None
        self._checked = asyncio.Event()
        self._checked.set()
        self._listeners: list[StatusListener] = []

    @property
    def status(self) -> DeviceStatus:
        return self._status

    @property
    def identity(self) -> DeviceIdentity | None:
        """Known once connected; kept after a disconnect, for the record."""
        return self._identity

    @property
    def in_use(self) -> bool:
        return self._in_use is not None

    def add_listener(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    def _set_status(self, status: DeviceStatus) -> None:
        if status == self._status:
            return
        self._status = status
        for listener in self._listeners:
            listener(self, status)

    def _lost(self, detail: str) -> None:
        """The transport noticed the device went away (called from a reader loop)."""
        if self._status.state is not DeviceState.DISCONNECTED:
            self._set_status(status_for("disconnected", detail))

    async def connect(self) -> None:
        """Open the transport, learn the identity and the status; bounded in time."""
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                self._identity = await self._connect()
                status = await self._probe()
        except TimeoutError:
            await self._close_quietly()
            error = DeviceTimeout(
                self.name, f"no answer within {self.connect_timeout_s:g} s of opening"
            )
            self._set_status(error.status)
            raise error from None
        except DeviceError as error:
            await self._close_quietly()
            self._set_status(error.status)
            raise
        self._set_status(status)

    async def disconnect(self) -> None:
        await self._close_quietly()
        self._set_status(status_for("disconnected"))

    async def check(self) -> DeviceStatus:
        """Ask the device how it is (between operations); the supervisor calls this."""
        if self._in_use is not None:
            return self._status
        self._in_use = _CHECK
        self._checked.clear()
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                status = await self._probe()
        except TimeoutError:
            status = status_for(
                "not_responding", f"no status answer within {self.probe_timeout_s:g} s"
            )
        except DeviceError as error:
            status = error.status
        finally:
            self._in_use = None
            self._checked.set()
        self._set_status(status)
        return status

    @asynccontextmanager
    async def operation(self, what: str, *, timeout_s: float) -> AsyncIterator[None]:
        """Hold the device for one operation, which must end within `timeout_s`.

        Waits for a status check in progress (short, and bounded by its own timeout);
        fails at once with DeviceBusy if another operation holds it, and with the
        device's own reason if it is not usable. A timeout becomes DeviceTimeout and
        calls `_abandon` so the driver can leave the device safe.
        """
        while self._in_use == _CHECK:
            await self._checked.wait()
        if self._in_use is not None:
            raise DeviceBusy(self.name, f"in use by {self._in_use}")
        self._refuse_unless_usable()
        self._in_use = what
        self._set_status(BUSY)
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    yield
            except TimeoutError:
                raise DeviceTimeout(
                    self.name, f"{what} did not finish within {timeout_s:g} s"
                ) from None
        except DeviceError as error:
            if isinstance(error, DeviceTimeout):
                await self._abandon()
            self._after_failure(error)
            raise
        except BaseException:
            # Cancelled by the caller (the pipeline's step budget): leave the device safe.
            await self._abandon()
            if self._status is BUSY:
                self._set_status(READY)
            raise
        finally:
            self._in_use = None
        self._set_status(READY)

    def ensure_usable(self) -> None:
        """Raise now what an operation would raise (DeviceGone, DeviceBusy, DeviceFault)
        if the device cannot take one: for a caller about to commit to using it."""
        self._refuse_unless_usable()

    def _refuse_unless_usable(self) -> None:
        state = self._status.state
        if state is DeviceState.BUSY:  # the device says so itself (another host holds it)
            raise DeviceBusy(self.name, "the device reports it is busy")
        if state is DeviceState.DISCONNECTED:
            raise DeviceGone(self.name, self._status.reason.en if self._status.reason else None)
        if state in (DeviceState.NOT_READY, DeviceState.ERROR):
            raise DeviceFault(self.name, self._status.code or "device_error")

    def _after_failure(self, error: DeviceError) -> None:
        if self._status.state is DeviceState.DISCONNECTED:
            return  # the reader saw it go first; keep its reason
        # Outcomes such as low quality or "no finger" are the applicant's, not the
        # device's: the device itself is fine.
        self._set_status(READY if error.status.state is DeviceState.READY else error.status)

    async def _close_quietly(self) -> None:
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                await self._disconnect()
        except (TimeoutError, DeviceError, OSError):
            pass  # closing a device that is gone or hung: nothing more to do

    @abstractmethod
    async def _connect(self) -> DeviceIdentity:
        """Open the transport and return the identity the device reports."""

    @abstractmethod
    async def _disconnect(self) -> None:
        """Close the transport; must not hang on a dead device."""

    @abstractmethod
    async def _probe(self) -> DeviceStatus:
        """Ask the device for its status; raise DeviceError if it cannot be asked."""

    async def _abandon(self) -> None:  # noqa: B027 - most devices need nothing here
        """An operation was cut short: stop what the device is doing, if it can be told."""
