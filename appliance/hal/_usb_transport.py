"""Which pyusb backend reaches a USB device: libusb, or a USB bus served on a UNIX socket.

`usb_backend` in a USB device's `[devices.<name>]` table names it:

- `"libusb1"` (the default): pyusb's libusb 1.0 backend, the machine's own USB bus;
- `"socket:/path/to/usb.sock"`: `SocketUsbBackend`, which forwards every call pyusb makes
  on its backend to a server on that UNIX socket. The simulator (`sim.usb.UsbBus`) is such
  a server; the same driver code runs against both, in the same way that httpcore's
  backends and the mock beside them do.

The wire protocol is the HAL's own, and this module is its one home (the server imports
its framing and its error table from here):

- One connection per call, closed after the reply: a call its caller abandoned (a hung
  transfer) can never mix its late reply into another call's.
- A request and a reply are each one frame: a 4-byte big-endian length, then a UTF-8
  JSON object of at most `MAX_FRAME` bytes. Bytes travel base64-encoded.
- A request is `{"op": OPERATION, ...arguments}`; the reply is `{"ok": RESULT}` or
  `{"error": {"errno": POSIX errno, "code": libusb's error code, "message": text}}`, which
  the client raises as the `usb.core.USBError` (`USBTimeoutError` for ETIMEDOUT) libusb
  would have raised.
- Operations, mirroring pyusb's `IBackend` (`handle` is what `open` returned):
  `enumerate` -> a list of device trees (`port`, `address`, `device`: the device
  descriptor's fields, `configurations`: [{`descriptor`, `interfaces`: [[alternate
  settings, each with its `endpoints`]]}]); `open` (port, address) -> handle; `close`
  (handle); `set_configuration` (handle, value); `get_configuration` (handle) -> value;
  `claim_interface`, `release_interface`, `is_kernel_driver_active` -> bool,
  `detach_kernel_driver`, `attach_kernel_driver` (handle, intf);
  `set_interface_altsetting` (handle, intf, alt); `clear_halt` (handle, endpoint);
  `reset_device` (handle); `bulk_write` (handle, endpoint, data, timeout ms) -> bytes
  written; `bulk_read` (handle, endpoint, size, timeout ms) -> data;
  `ctrl_transfer` (handle, request_type, request, value, index, length, timeout ms) ->
  {`data`} for an IN transfer.

A server that cannot be reached is no bus, and no bus is no device: the client raises
ENODEV, which the driver reports as DeviceGone.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import errno
import json
import os
import socket
import struct
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final

import usb.backend
import usb.core

MAX_FRAME: Final = 16 * 1024 * 1024
SOCKET_PREFIX: Final = "socket:"
LIBUSB_BACKEND: Final = "libusb1"
_HEADER: Final = struct.Struct(">I")
_DIRECTION_IN: Final = 0x80

# libusb's own codes and texts, so that an error over the socket reads like one from the
# hardware (pyusb keeps the code in `backend_error_code`).
LIBUSB_ERRORS: Final = {
    errno.EIO: (-1, "Input/Output Error"),
    errno.EINVAL: (-2, "Invalid parameter"),
    errno.ENODEV: (-4, "No such device (it may have been disconnected)"),
    errno.ENOENT: (-5, "Entity not found"),
    errno.ETIMEDOUT: (-7, "Operation timed out"),
    errno.EPIPE: (-9, "Pipe error"),
}


def check_backend_spec(spec: str) -> str:
    """`spec` if it names a backend (for the config's validator), else ValueError."""
    if spec == LIBUSB_BACKEND:
        return spec
    path = spec.removeprefix(SOCKET_PREFIX)
    if path == spec or not path:
        raise ValueError(f'usb_backend is "{LIBUSB_BACKEND}" or "{SOCKET_PREFIX}/path/to/socket"')
    if len(os.fsencode(path)) >= 108:
        raise ValueError(f"UNIX socket path too long (108 bytes at most): {path}")
    return spec


def pyusb_backend(spec: str) -> Any:
    """The pyusb backend `spec` names: None lets pyusb find libusb."""
    if spec.startswith(SOCKET_PREFIX):
        return SocketUsbBackend(spec.removeprefix(SOCKET_PREFIX))
    return None


# ---------------------------------------------------------------- frames, for both ends


def error_reply(code: int, detail: str | None = None) -> dict[str, Any]:
    """The `error` of a reply for a failure with POSIX errno `code`."""
    backend_code, text = LIBUSB_ERRORS.get(code, (-99, "Other error"))
    message = text if detail is None else f"{text} ({detail})"
    return {"errno": code, "code": backend_code, "message": message}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame from `reader`; None if the peer closed before one began.

    Raises ValueError for a frame too large or not JSON, TypeError for one not an object.
    """
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError:
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ValueError("frame too large")
    message = json.loads(await reader.readexactly(length))
    if not isinstance(message, dict):
        raise TypeError("a frame holds a JSON object")
    return message


# ---------------------------------------------------------------- the client


@dataclass(frozen=True, slots=True)
class _RemoteDevice:
    """What `enumerate_devices` yields: where the device sits and all its descriptors."""

    port: int
    address: int
    tree: dict[str, Any]


class SocketUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend whose devices live on a USB bus served at `socket_path`.

    Pass it as `backend=` to `usb.core.find`. Every call blocks like a libusb call would
    (a hung transfer blocks for good), so callers bound it the same way.
    """

    def __init__(self, socket_path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.socket_path = os.fspath(socket_path)

    def enumerate_devices(self) -> list[_RemoteDevice]:
        return [
            _RemoteDevice(port=tree["port"], address=tree["address"], tree=tree)
            for tree in self._call("enumerate")
        ]

    def get_parent(self, dev: _RemoteDevice) -> None:  # noqa: ARG002 - pyusb's signature
        return None  # every device on the socket's bus sits on its root hub

    def get_device_descriptor(self, dev: _RemoteDevice) -> SimpleNamespace:
        fields = dict(dev.tree["device"])
        fields["port_numbers"] = tuple(fields["port_numbers"])
        return SimpleNamespace(**fields)

    def get_configuration_descriptor(self, dev: _RemoteDevice, config: int) -> SimpleNamespace:
        return SimpleNamespace(**dev.tree["configurations"][config]["descriptor"])

    def get_interface_descriptor(
        self, dev: _RemoteDevice, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        # IndexError past the last alternate setting is how pyusb stops iterating.
        fields = dict(dev.tree["configurations"][config]["interfaces"][intf][alt])
        del fields["endpoints"]
        return SimpleNamespace(**fields)

    def get_endpoint_descriptor(
        self, dev: _RemoteDevice, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        interface = dev.tree["configurations"][config]["interfaces"][intf][alt]
        return SimpleNamespace(**interface["endpoints"][ep])

    def open_device(self, dev: _RemoteDevice) -> int:
        return int(self._call("open", port=dev.port, address=dev.address))

    def close_device(self, dev_handle: int) -> None:
        # Closing never fails in libusb; without a server there is nothing left open.
        with contextlib.suppress(usb.core.USBError):
            self._call("close", handle=dev_handle)

    def set_configuration(self, dev_handle: int, config_value: int) -> None:
        self._call("set_configuration", handle=dev_handle, value=config_value)

    def get_configuration(self, dev_handle: int) -> int:
        return int(self._call("get_configuration", handle=dev_handle))

    def set_interface_altsetting(self, dev_handle: int, intf: int, altsetting: int) -> None:
        self._call("set_interface_altsetting", handle=dev_handle, intf=intf, alt=altsetting)

    def claim_interface(self, dev_handle: int, intf: int) -> None:
        self._call("claim_interface", handle=dev_handle, intf=intf)

    def release_interface(self, dev_handle: int, intf: int) -> None:
        self._call("release_interface", handle=dev_handle, intf=intf)

    def is_kernel_driver_active(self, dev_handle: int, intf: int) -> bool:
        return bool(self._call("is_kernel_driver_active", handle=dev_handle, intf=intf))

    def detach_kernel_driver(self, dev_handle: int, intf: int) -> None:
        self._call("detach_kernel_driver", handle=dev_handle, intf=intf)

    def attach_kernel_driver(self, dev_handle: int, intf: int) -> None:
        self._call("attach_kernel_driver", handle=dev_handle, intf=intf)

    def clear_halt(self, dev_handle: int, ep: int) -> None:
        self._call("clear_halt", handle=dev_handle, endpoint=ep)

    def reset_device(self, dev_handle: int) -> None:
        self._call("reset_device", handle=dev_handle)

    def bulk_write(
        self,
        dev_handle: int,
        ep: int,
        intf: int,  # noqa: ARG002 - the endpoint address says it all
        data: array.array[int],
        timeout: int,
    ) -> int:
        return int(
            self._call(
                "bulk_write",
                handle=dev_handle,
                endpoint=ep,
                data=b64(data.tobytes()),
                timeout=timeout,
            )
        )

    def bulk_read(
        self,
        dev_handle: int,
        ep: int,
        intf: int,  # noqa: ARG002 - the endpoint address says it all
        buff: array.array[int],
        timeout: int,
    ) -> int:
        size = len(buff) * buff.itemsize
        reply = self._call("bulk_read", handle=dev_handle, endpoint=ep, size=size, timeout=timeout)
        return _fill(buff, base64.b64decode(reply))

    def ctrl_transfer(  # noqa: PLR0917 - pyusb's signature
        self,
        dev_handle: int,
        bmRequestType: int,  # noqa: N803 - pyusb's parameter names
        bRequest: int,  # noqa: N803
        wValue: int,  # noqa: N803
        wIndex: int,  # noqa: N803
        data: array.array[int],
        timeout: int,
    ) -> int:
        reply = self._call(
            "ctrl_transfer",
            handle=dev_handle,
            request_type=bmRequestType,
            request=bRequest,
            value=wValue,
            index=wIndex,
            length=len(data) * data.itemsize,
            timeout=timeout,
        )
        if bmRequestType & _DIRECTION_IN:
            return _fill(data, base64.b64decode(reply["data"]))
        return len(data) * data.itemsize

    def _call(self, op: str, **arguments: Any) -> Any:
        request = encode_frame({"op": op, **arguments})
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(self.socket_path)
                connection.sendall(request)
                reply = _receive(connection)
            except (OSError, ValueError) as exc:
                # No server is no bus, and no bus is no device.
                raise usb.core.USBError(
                    f"USB bus at {self.socket_path} not reachable: {exc}",
                    LIBUSB_ERRORS[errno.ENODEV][0],
                    errno.ENODEV,
                ) from None
        if "error" in reply:
            error = reply["error"]
            kind = (
                usb.core.USBTimeoutError if error["errno"] == errno.ETIMEDOUT else usb.core.USBError
            )
            raise kind(error["message"], error["code"], error["errno"])
        return reply["ok"]


def _receive(connection: socket.socket) -> dict[str, Any]:
    (length,) = _HEADER.unpack(_receive_exactly(connection, _HEADER.size))
    if length > MAX_FRAME:
        raise ConnectionError("reply too large")
    reply = json.loads(_receive_exactly(connection, length))
    if not isinstance(reply, dict):
        raise ConnectionError("malformed reply")
    return reply


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the USB bus closed the connection")
        chunks += chunk
    return bytes(chunks)


def _fill(buffer: array.array[int], data: bytes) -> int:
    size = min(len(data), len(buffer) * buffer.itemsize)
    memoryview(buffer).cast("B")[:size] = data[:size]
    return size
