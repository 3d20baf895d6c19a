"""A USB bus for simulated devices, served on a UNIX socket to the HAL's USB transport.

The daemon's driver makes the same pyusb calls it makes against libusb; with
`usb_backend = "socket:PATH"` the HAL's `SocketUsbBackend` forwards each of them, as one
small request, to a `UsbBus` that may live in another process (`appliance sim`). The wire
protocol is the HAL's own, documented in `appliance/hal/_usb_transport.py`; this module
serves the other end of it. The bus hosts `SimulatedUsbDevice`s (`sim.usb_device`): it
answers descriptor and string requests from their `UsbDescriptor`, hands bulk transfers
to them, and plays the faults any USB device can have:

- unplug: the device leaves the enumeration, every call on a handle opened before fails
  with errno ENODEV (libusb's LIBUSB_ERROR_NO_DEVICE), and a replug gives it a new address;
- hang: a bulk transfer that never returns, whatever its timeout (a wedged device or host
  controller); only the caller's own deadline gets it back;
- slow: bulk transfers start late (param `delay_s`, real seconds), so a short transfer
  timeout expires as it would with libusb, leaving the late answer in the pipe;
- reset (libusb_reset_device): the device drops what it was in the middle of; one set to
  `reenumerate_on_reset` comes back at a new address instead, and the reset fails with
  LIBUSB_ERROR_NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from appliance.hal._usb_transport import (
    SOCKET_PREFIX,
    b64,
    check_backend_spec,
    encode_frame,
    error_reply,
    read_frame,
)

from ._base import Fault
from .usb_device import SimulatedUsbDevice, UsbDescriptor

T = TypeVar("T")

_LANGID_EN_US: Final = 0x0409
_GET_DESCRIPTOR: Final = 0x06
_STRING_DESCRIPTOR: Final = 0x03
_DIRECTION_IN: Final = 0x80
_DEFAULT_SLOW_S: Final = 2.0


class _UsbFailure(Exception):
    """A failure to report to the client as the USBError libusb would raise."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        self.errno = code
        self.detail = detail
        super().__init__(detail or os.strerror(code))

    def to_json(self) -> dict[str, Any]:
        return error_reply(self.errno, self.detail)


@dataclass(eq=False, slots=True)
class _Slot:
    device: SimulatedUsbDevice
    port: int
    address: int = 0  # 0 while unplugged
    configuration: int = 1  # as Linux leaves a device after enumeration
    unplugged: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None
    reenumerates_on_reset: bool = False


@dataclass(frozen=True, slots=True)
class _Handle:
    slot: _Slot
    address: int  # the address it was opened at: a replugged device is another device


class UsbBus:
    """Hosts simulated USB devices and serves the HAL's `SocketUsbBackend` on a UNIX socket."""

    def __init__(self, *, socket_path: Path) -> None:
        self.backend_spec = check_backend_spec(f"{SOCKET_PREFIX}{socket_path}")
        """What a station's `usb_backend` says to reach this bus."""
        self.socket_path = socket_path
        self._slots: list[_Slot] = []
        self._handles: dict[int, _Handle] = {}
        self._next_handle = 1
        self._last_address = 0
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task[Any]] = set()
        self._operations: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "enumerate": self._enumerate,
            "open": self._open,
            "close": self._close,
            "set_configuration": self._set_configuration,
            "get_configuration": self._get_configuration,
            "claim_interface": self._accept,
            "release_interface": self._accept,
            "set_interface_altsetting": self._accept,
            "clear_halt": self._accept,
            "detach_kernel_driver": self._accept,
            "attach_kernel_driver": self._accept,
            "is_kernel_driver_active": self._kernel_driver_active,
            "reset_device": self._reset,
            "ctrl_transfer": self._ctrl_transfer,
            "bulk_write": self._bulk_write,
            "bulk_read": self._bulk_read,
        }

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=self.socket_path)

    async def stop(self) -> None:
        for slot in list(self._slots):
            self.detach(slot.device)
        if self._server is not None:
            self._server.close()
            self._server = None
        # Calls still running (hung transfers) end with their connections: their clients
        # see the simulator go away.
        calls = list(self._calls)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def __aenter__(self) -> UsbBus:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def config_overlay(self, kind: str, descriptor: UsbDescriptor) -> dict[str, Any]:
        """The `[devices.<name>]` table that points a station's driver at a device here."""
        return {
            "kind": kind,
            "vendor_id": descriptor.vendor_id,
            "product_id": descriptor.product_id,
            "serial": descriptor.serial,
            "usb_backend": self.backend_spec,
        }

    def attach(self, device: SimulatedUsbDevice) -> None:
        """Plug `device` into a free port (unless its UNPLUG fault is active)."""
        slot = _Slot(device=device, port=len(self._slots) + 1)
        self._slots.append(slot)
        slot.watcher = asyncio.create_task(self._watch(slot), name=f"usb-{device.name}")

    def reenumerate_on_reset(self, device: SimulatedUsbDevice, *, enabled: bool = True) -> None:
        """Make `device` come back from a USB reset at a new address, as one whose
        descriptors change across a reset does: libusb cannot keep the handle
        (LIBUSB_ERROR_NOT_FOUND), and the host must find the device again."""
        for slot in self._slots:
            if slot.device is device:
                slot.reenumerates_on_reset = enabled

    def detach(self, device: SimulatedUsbDevice) -> None:
        for slot in self._slots:
            if slot.device is device:
                self._slots.remove(slot)
                if slot.watcher is not None:
                    slot.watcher.cancel()
                self._unplug(slot)
                return

    def address_of(self, device: SimulatedUsbDevice) -> int | None:
        """The device's address on the bus now; None while unplugged."""
        for slot in self._slots:
            if slot.device is device:
                self._reconcile(slot)
                return slot.address or None
        return None

    @property
    def open_handles(self) -> int:
        """Handles opened by clients and not closed yet: a leak shows here."""
        return len(self._handles)

    async def _watch(self, slot: _Slot) -> None:
        # Follows the device's UNPLUG fault as it changes, so that an unplug and replug
        # between two calls still kills the handles opened before. (An unplug cleared in
        # the same instant it was injected is a glitch no host would notice either.)
        while True:
            self._reconcile(slot)
            await slot.device.faults.changed.wait()

    def _reconcile(self, slot: _Slot) -> None:
        present = Fault.UNPLUG not in slot.device.faults
        if present and not slot.address:
            slot.address = self._free_address()
            slot.configuration = 1
            slot.unplugged = asyncio.Event()
            slot.device.usb_reset()
        elif not present and slot.address:
            self._unplug(slot)

    def _unplug(self, slot: _Slot) -> None:
        slot.address = 0
        slot.unplugged.set()
        self._handles = {key: h for key, h in self._handles.items() if h.slot is not slot}

    def _free_address(self) -> int:
        used = {slot.address for slot in self._slots}
        while True:
            self._last_address = self._last_address % 127 + 1
            if self._last_address not in used:
                return self._last_address

    # -- the wire

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._calls.add(task)
        try:
            request = await read_frame(reader)
            if request is None:
                return
            reply = await self._answer(request)
            writer.write(encode_frame(reply))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, TypeError):
            pass  # a client that went away or sent nonsense: nothing to answer
        except asyncio.CancelledError:
            # The bus is stopping: end the call quietly (the stream protocol reports a
            # cancelled handler as an error); closing the connection tells the client.
            pass
        finally:
            self._calls.discard(task)
            writer.close()

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        operation = self._operations.get(str(request.get("op")))
        if operation is None:
            return {"error": _UsbFailure(errno.EINVAL, "unknown operation").to_json()}
        try:
            return {"ok": await operation(request)}
        except _UsbFailure as failure:
            return {"error": failure.to_json()}
        except (KeyError, TypeError, ValueError) as exc:
            return {"error": _UsbFailure(errno.EINVAL, f"bad request: {exc!r}").to_json()}

    # -- operations

    async def _enumerate(self, _: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for slot in self._slots:
            self._reconcile(slot)
            if slot.address:
                found.append(slot.device.usb_descriptor.tree(port=slot.port, address=slot.address))
        return found

    async def _open(self, request: dict[str, Any]) -> int:
        for slot in self._slots:
            self._reconcile(slot)
            if slot.port == request["port"] and slot.address == request["address"] != 0:
                handle = self._next_handle
                self._next_handle += 1
                self._handles[handle] = _Handle(slot=slot, address=slot.address)
                return handle
        raise _UsbFailure(errno.ENODEV)

    async def _close(self, request: dict[str, Any]) -> None:
        self._handles.pop(request["handle"], None)  # closing a dead handle always works

    async def _set_configuration(self, request: dict[str, Any]) -> None:
        slot = self._live(request)
        if request["value"] not in (0, 1):
            raise _UsbFailure(errno.EINVAL, "no such configuration")
        slot.configuration = request["value"]

    async def _get_configuration(self, request: dict[str, Any]) -> int:
        return self._live(request).configuration

    async def _accept(self, request: dict[str, Any]) -> None:
        # Claiming, releasing and the like only need a device that is still there.
        self._live(request)

    async def _kernel_driver_active(self, request: dict[str, Any]) -> bool:
        self._live(request)
        return False

    async def _reset(self, request: dict[str, Any]) -> None:
        slot = self._live(request)
        if not slot.reenumerates_on_reset:
            slot.device.usb_reset()
            return
        # Back at once at a new address, as new. The handles opened before stay open,
        # dead, until their owner closes them, as libusb's do: a leak shows in
        # `open_handles`.
        slot.unplugged.set()
        slot.address = 0
        self._reconcile(slot)
        raise _UsbFailure(errno.ENOENT)

    async def _ctrl_transfer(self, request: dict[str, Any]) -> dict[str, Any]:
        slot = self._live(request)
        kind, index = request["value"] >> 8, request["value"] & 0xFF
        if (
            request["request_type"] & _DIRECTION_IN
            and request["request"] == _GET_DESCRIPTOR
            and kind == _STRING_DESCRIPTOR
        ):
            if index == 0:
                body = _LANGID_EN_US.to_bytes(2, "little")
            elif (text := slot.device.usb_descriptor.strings().get(index)) is not None:
                body = text.encode("utf-16-le")
            else:
                raise _UsbFailure(errno.EPIPE, "no such string")
            descriptor = bytes([2 + len(body), _STRING_DESCRIPTOR]) + body
            return {"data": b64(descriptor[: request["length"]])}
        raise _UsbFailure(errno.EPIPE, "request not supported")  # a stall, as devices answer

    async def _bulk_write(self, request: dict[str, Any]) -> int:
        slot = self._live(request)
        data = base64.b64decode(request["data"], validate=True)
        endpoint = self._endpoint(slot, request["endpoint"], incoming=False)
        await self._transfer(slot, request, lambda: slot.device.bulk_out(endpoint, data))
        return len(data)

    async def _bulk_read(self, request: dict[str, Any]) -> str:
        slot = self._live(request)
        endpoint = self._endpoint(slot, request["endpoint"], incoming=True)
        size = max(0, int(request["size"]))
        data = await self._transfer(slot, request, lambda: slot.device.bulk_in(endpoint, size))
        return b64(data)

    # -- helpers

    def _live(self, request: dict[str, Any]) -> _Slot:
        handle = self._handles.get(request["handle"])
        if handle is None:
            raise _UsbFailure(errno.ENODEV)
        self._reconcile(handle.slot)
        if handle.slot.address != handle.address:
            raise _UsbFailure(errno.ENODEV)
        return handle.slot

    @staticmethod
    def _endpoint(slot: _Slot, address: int, *, incoming: bool) -> int:
        for endpoint in slot.device.usb_descriptor.endpoints:
            if endpoint.address == address and bool(address & _DIRECTION_IN) == incoming:
                return address
        raise _UsbFailure(errno.EINVAL, f"no such endpoint {address:#04x}")

    async def _transfer(
        self, slot: _Slot, request: dict[str, Any], work: Callable[[], Awaitable[T]]
    ) -> T:
        """Run one bulk transfer as libusb would see it: hung, late, timed out or unplugged."""
        faults = slot.device.faults
        if Fault.HANG in faults:
            await self._hang(slot)
        delay = faults.param(Fault.SLOW, "delay_s", _DEFAULT_SLOW_S) if Fault.SLOW in faults else 0

        async def late() -> T:
            await asyncio.sleep(delay)
            return await work()

        timeout_ms = int(request["timeout"])
        job = asyncio.ensure_future(late())
        gone = asyncio.ensure_future(slot.unplugged.wait())
        try:
            done, _ = await asyncio.wait(
                {job, gone},
                timeout=timeout_ms / 1000 if timeout_ms > 0 else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            job.cancel()
            gone.cancel()
        if job in done:
            return job.result()
        if gone in done:
            raise _UsbFailure(errno.ENODEV)
        raise _UsbFailure(errno.ETIMEDOUT)

    async def _hang(self, slot: _Slot) -> None:
        faults = slot.device.faults
        while Fault.HANG in faults and Fault.UNPLUG not in faults:
            await faults.changed.wait()
        if Fault.UNPLUG in faults:
            raise _UsbFailure(errno.ENODEV)
        # Whoever started this transfer gave up long ago: fail it rather than let it
        # consume an answer meant for a later one.
        raise _UsbFailure(errno.EIO, "transfer abandoned while the device hung")
