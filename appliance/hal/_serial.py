"""Serial devices: the transport (pyserial through pyserial-asyncio-fast) and the base
for peripherals that speak the checksummed line protocol.

The port is opened by its stable path (`/dev/serial/by-id/...`), so a device that comes
back on another ttyUSB number after a replug is found again. One reader task per open
port splits what arrives into answers to the driver's commands and spontaneous events
(pen samples, key presses); it is also what notices an unplug, at once, because the
read fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from pathlib import Path
from typing import Final, Self

import serial
import serial_asyncio_fast
from pydantic import BaseModel, ConfigDict, Field

from appliance._text import Text

from ._device import Device
from ._errors import DeviceError, DeviceFault, DeviceGone, DeviceTimeout
from ._lineproto import MAX_LINE, Frame, FrameError, decode, encode
from ._registry import UDEV_RULES_FILE, Checklist, ConfiguredDevice
from ._status import READY, DeviceIdentity, DeviceStatus

_REPLY_KINDS: Final = frozenset({"ID", "STAT", "ACK", "ERR"})
_EVENT_QUEUE: Final = 4096


class SerialDeviceConfig(BaseModel):
    """What every serial peripheral's `[devices.<name>]` table has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="stable serial path, e.g. /dev/serial/by-id/usb-...-if00")
    baudrate: int = 115_200
    reply_timeout_s: float = Field(default=1.0, gt=0)


class SerialLineDevice(Device):
    """A peripheral on a serial line speaking `_lineproto` frames.

    Commands are answered by ID/STAT/ACK/ERR frames, one command at a time; every other
    frame is an event for the driver, queued in arrival order.
    """

    def __init__(
        self,
        *,
        name: str,
        path: str,
        baudrate: int = 115_200,
        reply_timeout_s: float = 1.0,
        connect_timeout_s: float = 5.0,
        probe_timeout_s: float = 1.0,
    ) -> None:
        super().__init__(
            name=name, connect_timeout_s=connect_timeout_s, probe_timeout_s=probe_timeout_s
        )
        self.path = path
        self.baudrate = baudrate
        self.reply_timeout_s = reply_timeout_s
        self.garbage_lines = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._replies: asyncio.Queue[Frame | DeviceError] = asyncio.Queue()
        self._events: asyncio.Queue[Frame | DeviceError] = asyncio.Queue(_EVENT_QUEUE)

    @classmethod
    def from_config(cls, *, name: str, config: SerialDeviceConfig) -> Self:
        return cls(
            name=name,
            path=config.path,
            baudrate=config.baudrate,
            reply_timeout_s=config.reply_timeout_s,
        )

    async def _connect(self) -> DeviceIdentity:
        await self._disconnect()  # a port left open by an earlier connect is let go first
        if not Path(self.path).exists():  # noqa: ASYNC240 - one stat of a device node
            # Unplugged adapters vanish from /dev/serial/by-id: the usual, plain case.
            raise DeviceGone(self.name, f"{self.path} does not exist", code="not_found")
        try:
            reader, writer = await serial_asyncio_fast.open_serial_connection(
                url=self.path, baudrate=self.baudrate, exclusive=True, limit=MAX_LINE * 4
            )
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(self.name, f"cannot open {self.path}: {exc}") from None
        self._writer = writer
        self._replies = asyncio.Queue()
        self._events = asyncio.Queue(_EVENT_QUEUE)
        self._reader_task = asyncio.create_task(
            self._read_loop(reader), name=f"hal-{self.name}-reader"
        )
        frame = await self.command("ID")
        if len(frame.fields) < 4:
            raise DeviceFault(self.name, "garbage", "identity frame has too few fields")
        self._identified(frame)
        make, model, serial_no, firmware = frame.fields[:4]
        return DeviceIdentity(make=make, model=model, serial=serial_no, firmware=firmware)

    def _identified(self, frame: Frame) -> None:
        """Read device-specific parameters from the ID frame (geometry, key count...)."""

    async def _disconnect(self) -> None:
        task, self._reader_task = self._reader_task, None
        writer, self._writer = self._writer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if writer is not None:
            writer.close()

    async def _probe(self) -> DeviceStatus:
        frame = await self.command("STAT")
        if frame.fields[:1] == ("OK",):
            return READY
        code = frame.fields[1] if len(frame.fields) > 1 else "device_error"
        raise DeviceFault(
            self.name, code if code in _DEVICE_CODES else "device_error", ",".join(frame.fields)
        )

    async def command(self, kind: str, *fields: str | int) -> Frame:
        """Send one command and wait for its answer (ACK/ID/STAT), bounded in time."""
        writer = self._writer
        if writer is None:
            raise DeviceGone(self.name, "port is not open")
        while not self._replies.empty():  # a late answer to an abandoned command
            self._replies.get_nowait()
        try:
            writer.write(encode(kind, *fields))
            await writer.drain()
        except (OSError, serial.SerialException) as exc:
            raise DeviceGone(self.name, f"write failed: {exc}") from None
        garbled: list[DeviceFault] = []
        try:
            async with asyncio.timeout(self.reply_timeout_s):
                reply = await self._reply_to(kind, garbled)
        except TimeoutError:
            if garbled:
                # Only noise came back: that, not silence, is what to report.
                raise garbled[-1] from None
            raise DeviceTimeout(
                self.name, f"no answer to {kind} within {self.reply_timeout_s:g} s"
            ) from None
        if reply.kind == "ERR":
            code = reply.fields[0] if reply.fields else "device_error"
            raise DeviceFault(
                self.name, code if code in _DEVICE_CODES else "device_error", f"{kind} refused"
            )
        return reply

    async def _reply_to(self, kind: str, garbled: list[DeviceFault]) -> Frame:
        # A late answer to an abandoned command may still arrive, and a noisy line may
        # garble a line or two: skip what does not answer this command, rather than
        # take it for the answer, until the deadline.
        while True:
            reply = await self._replies.get()
            if isinstance(reply, DeviceFault) and reply.code == "garbage":
                garbled.append(reply)
                continue
            if isinstance(reply, DeviceError):
                raise reply
            if reply.kind == kind or (reply.kind == "ACK" and reply.fields[:1] == (kind,)):
                return reply
            if reply.kind == "ERR" and reply.fields[1:2] in {(), (kind,)}:
                return reply

    def send(self, kind: str, *fields: str | int) -> None:
        """Send a command without waiting for its answer (to stop a device that may be hung)."""
        if self._writer is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self._writer.write(encode(kind, *fields))

    async def next_event(self) -> Frame:
        """The next spontaneous frame from the device; raises if the device fails meanwhile."""
        item = await self._events.get()
        if isinstance(item, DeviceError):
            raise item
        return item

    def drop_events(self) -> None:
        while not self._events.empty():
            self._events.get_nowait()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                # An endless line: discard it (and what follows up to the next newline).
                await reader.readexactly(exc.consumed)
                self._garbage("line longer than the protocol allows")
                continue
            except (asyncio.IncompleteReadError, OSError, serial.SerialException) as exc:
                self._port_lost(f"read failed: {exc or 'end of stream'}")
                return
            try:
                frame = decode(line)
            except FrameError as exc:
                self._garbage(str(exc))
                continue
            if frame.kind in _REPLY_KINDS:
                self._replies.put_nowait(frame)
            elif self._events.full():
                self._garbage("event queue overflow: the device floods the line")
            else:
                self._events.put_nowait(frame)

    def _garbage(self, detail: str) -> None:
        self.garbage_lines += 1
        error = DeviceFault(self.name, "garbage", detail)
        # Whoever waits learns it now rather than at its timeout.
        self._replies.put_nowait(error)
        if not self._events.full():
            self._events.put_nowait(error)

    def _port_lost(self, detail: str) -> None:
        self._lost(detail)
        error = DeviceGone(self.name, detail)
        self._replies.put_nowait(error)
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(error)

    @abstractmethod
    async def _abandon(self) -> None:
        """Put the device back to idle after an interrupted operation."""


# Codes a serial peripheral may name in ERR/STAT frames; anything else is device_error.
_DEVICE_CODES: Final = frozenset({"paper_out", "cover_open", "device_error", "device_busy"})


class _SerialChecklist(Checklist[SerialDeviceConfig]):
    """A serial device is reached through its stable path under /dev, at its baud rate."""

    def not_found(self, device: ConfiguredDevice[SerialDeviceConfig]) -> Text | None:
        config = device.config
        if Path(config.path).exists():
            return None  # the port is there: its cable or power is the thing to check
        return Text(
            " {path} tidak ada: lihat `ls -l /dev/ktpel/`, aturan udev ({rules}) dan "
            "`path` di [devices.{name}].",
            " {path} does not exist: see `ls -l /dev/ktpel/`, the udev rules ({rules}) "
            "and `path` in [devices.{name}].",
        ).format(path=config.path, rules=UDEV_RULES_FILE, name=device.name)

    def garbage(self, device: ConfiguredDevice[SerialDeviceConfig]) -> Text | None:
        config, label = device.config, device.label
        the = Text("{label}", "the {label}").format(label=label)
        return Text(
            "Data dari {path} rusak: `baudrate` di [devices.{name}] ({baud}) mungkin "
            "tidak sama dengan {label}, atau path itu menunjuk alat lain. Periksa juga "
            "kabelnya.",
            "The data from {path} is corrupted: `baudrate` in [devices.{name}] ({baud}) "
            "may not match {the}, or that path leads to another device. Check the cable "
            "too.",
        ).format(path=config.path, name=device.name, baud=config.baudrate, label=label, the=the)

    def device_path(self, device: ConfiguredDevice[SerialDeviceConfig]) -> str | None:
        return device.config.path


SERIAL_CHECKLIST: Final = _SerialChecklist()
