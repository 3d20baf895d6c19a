"""USB devices with a bulk OUT and a bulk IN endpoint, through pyusb.

The device is found afresh (`usb.core.find`) on every open, by vendor, product and
optionally serial number, so a printer that comes back after an unplug, at another
address, is found again; nothing from a previous open is reused. The pyusb backend is
injectable: None lets pyusb pick libusb, and `_usb_transport` has the one that forwards
to a USB bus on a socket (the simulator's), so the same code runs against both.

Every pyusb call runs through a BlockingCaller, so a transfer that never returns costs
a thread, not the daemon; and every pyusb error is turned into the HAL's taxonomy here,
in `usb_error`, and nowhere else.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import usb.core
import usb.util
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from appliance._text import Text

from ._blocking import BlockingCaller
from ._errors import DeviceError, DeviceFault, DeviceGone, DeviceTimeout
from ._registry import Checklist, ConfiguredDevice
from ._status import DeviceIdentity
from ._usb_transport import LIBUSB_BACKEND, check_backend_spec, pyusb_backend

T = TypeVar("T")

# Errors after which only reopening can help: the device went away (ENODEV, or ENOENT
# when libusb no longer finds what it asks for) or the link broke under a transfer (EIO,
# which libusb reports for a reset device or a bad cable).
_GONE: Final = frozenset({errno.ENODEV, errno.ENOENT, errno.ESHUTDOWN, errno.EIO})


def usb_error(device: str, what: str, error: Exception) -> DeviceError:
    """The HAL error for a pyusb error raised while doing `what`."""
    code = getattr(error, "errno", None)
    detail = f"{what}: {error}"
    if isinstance(error, usb.core.USBTimeoutError) or code == errno.ETIMEDOUT:
        return DeviceTimeout(device, detail)
    if isinstance(error, usb.core.NoBackendError):
        return DeviceFault(device, "device_error", f"{what}: no USB library (libusb) installed")
    if code in _GONE:
        return DeviceGone(device, detail)
    if code in (errno.EACCES, errno.EPERM):
        return DeviceFault(device, "device_error", f"{detail} (is the udev rule installed?)")
    if code == errno.EBUSY:
        return DeviceFault(device, "device_error", f"{detail} (claimed by another program)")
    return DeviceFault(device, "device_error", detail)


class UsbDeviceConfig(BaseModel):
    """What every USB device's `[devices.<name>]` table has: which device, and which pyusb
    backend reaches it: "libusb1", or "socket:/path" for a USB bus served on a UNIX
    socket (the simulator's; see `_usb_transport`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor_id: int = Field(ge=0, le=0xFFFF)
    product_id: int = Field(ge=0, le=0xFFFF)
    serial: str | None = None  # to pick one of several identical devices
    usb_backend: Annotated[str, AfterValidator(check_backend_spec)] = LIBUSB_BACKEND

    def pyusb_backend(self) -> Any:
        """The pyusb backend object for `usb.core.find`; None lets pyusb find libusb."""
        return pyusb_backend(self.usb_backend)


class _UsbChecklist(Checklist[UsbDeviceConfig]):
    """A USB device is found by its vendor and product ids, once it has power."""

    def not_found(self, device: ConfiguredDevice[UsbDeviceConfig]) -> Text | None:
        return Text(
            " Nyalakan alatnya (sakelar, adaptor); `lsusb -d {ids}` harus menampilkannya.",
            " Switch it on (switch, adapter); `lsusb -d {ids}` must list it.",
        ).format(ids=f"{device.config.vendor_id:04x}:{device.config.product_id:04x}")

    def garbage(self, device: ConfiguredDevice[UsbDeviceConfig]) -> Text | None:
        label = device.label
        return Text(
            "{Label} menjawab dengan data yang tidak dikenal: pastikan vendor_id dan "
            "product_id di [devices.{name}] memang alat ini, lalu matikan dan nyalakan "
            "kembali alatnya.",
            "The {label} answers with data it should not: make sure vendor_id and product_id "
            "in [devices.{name}] are this device's, then switch it off and on again.",
        ).format(
            Label=label.id[:1].upper() + label.id[1:],
            label=label.en,
            name=device.name,
        )


USB_CHECKLIST: Final = _UsbChecklist()


class UsbBulkDevice:
    """One USB device, opened by vendor/product/serial, talked to over bulk endpoints."""

    def __init__(
        self,
        *,
        name: str,
        vendor_id: int,
        product_id: int,
        serial: str | None = None,
        backend: Any = None,
        interface: int = 0,
    ) -> None:
        self.name = name
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.serial = serial
        self.backend = backend
        self.interface = interface
        self._caller = BlockingCaller(name=name)
        self._device: Any = None
        self._reenumerated = False
        self._out: int = 0
        self._in: int = 0

    @property
    def is_open(self) -> bool:
        return self._device is not None

    async def open(self, *, reset: bool = False) -> DeviceIdentity:
        """Find the device, claim its interface and read its identity strings.

        With `reset`, the device gets a USB port reset once its interface is ours (a
        device another program holds is left alone): a device whose command parser may
        be in the middle of something a dead host started (half a bitmap) starts again
        from nothing. A device that re-enumerates after its reset is DeviceGone for now;
        the next open finds it new, and does not reset it again.
        """
        await self.close()
        return await self._run("open", lambda: self._open(reset=reset))

    async def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            await self._caller.call(lambda: _dispose_quietly(device))
        self._caller.close()

    async def write(self, data: bytes, *, timeout_s: float) -> None:
        device, endpoint = self._opened(), self._out
        written = await self._run(
            "write", lambda: device.write(endpoint, data, _milliseconds(timeout_s))
        )
        if written != len(data):
            raise DeviceFault(self.name, "device_error", f"wrote {written} of {len(data)} bytes")

    async def read(self, *, size: int, timeout_s: float) -> bytes:
        device, endpoint = self._opened(), self._in
        return await self._run(
            "read", lambda: bytes(device.read(endpoint, size, _milliseconds(timeout_s)))
        )

    def _opened(self) -> Any:
        if self._device is None:
            raise DeviceGone(self.name, "USB device is not open")
        return self._device

    async def _run(self, what: str, action: Callable[[], T]) -> T:
        try:
            return await self._caller.call(action)
        except (usb.core.USBError, usb.core.NoBackendError) as exc:
            error = usb_error(self.name, what, exc)
        if isinstance(error, DeviceGone):
            await self.close()  # the next open must enumerate again
        raise error

    def _open(self, *, reset: bool) -> DeviceIdentity:
        device = self._find()
        try:
            identity = self._claim(device)
            if reset and not self._reenumerated:
                self._reset(device)
                identity = self._claim(device)
            self._reenumerated = False
        except BaseException:
            _dispose_quietly(device)  # pyusb's reset leaves its handle open when it fails
            raise
        self._device = device
        return identity

    def _reset(self, device: Any) -> None:
        try:
            device.reset()  # releases the interface and closes the handle: claim again
        except usb.core.USBError as error:
            if getattr(error, "errno", None) not in (errno.ENOENT, errno.ENODEV):
                raise
            # libusb could not restore the device as it was: it is enumerating afresh,
            # at a new address, and comes back as new as a reset would make it.
            self._reenumerated = True
            raise DeviceGone(self.name, "re-enumerating after a USB reset") from None

    def _find(self) -> Any:
        device = usb.core.find(
            backend=self.backend,
            idVendor=self.vendor_id,
            idProduct=self.product_id,
            custom_match=None if self.serial is None else self._has_serial,
        )
        if device is None:
            raise DeviceGone(self.name, f"no USB device {self._wanted()}", code="not_found")
        return device

    def _claim(self, device: Any) -> DeviceIdentity:
        try:
            configuration = device.get_active_configuration()
        except usb.core.USBError:
            device.set_configuration()  # not configured yet (no kernel did it for us)
            configuration = device.get_active_configuration()
        interface = configuration[(self.interface, 0)]
        number = interface.bInterfaceNumber
        try:
            if device.is_kernel_driver_active(number):
                device.detach_kernel_driver(number)  # usblp claims printers on Linux
        except NotImplementedError:
            pass  # pyusb's contract for a backend that has no kernel drivers to detach
        usb.util.claim_interface(device, number)
        self._out = _bulk_endpoint(interface, usb.util.ENDPOINT_OUT, self.name)
        self._in = _bulk_endpoint(interface, usb.util.ENDPOINT_IN, self.name)
        return DeviceIdentity(
            make=_string(device, device.iManufacturer) or f"{device.idVendor:04x}",
            model=_string(device, device.iProduct) or f"{device.idProduct:04x}",
            serial=_string(device, device.iSerialNumber),
            firmware=f"{device.bcdDevice >> 8:x}.{device.bcdDevice & 0xFF:02x}",
        )

    def _has_serial(self, device: Any) -> bool:
        try:
            matches: bool = _string(device, device.iSerialNumber) == self.serial
        except usb.core.USBError:
            matches = False  # a device we may not read (another user's): not ours
        if not matches:
            _dispose_quietly(device)
        return matches

    def _wanted(self) -> str:
        serial = "" if self.serial is None else f" serial {self.serial}"
        return f"{self.vendor_id:04x}:{self.product_id:04x}{serial}"


def _dispose_quietly(device: Any) -> None:
    # Releasing a device that is gone: nothing left to release.
    with contextlib.suppress(usb.core.USBError):
        usb.util.dispose_resources(device)


def _bulk_endpoint(interface: Any, direction: int, device: str) -> int:
    endpoint = usb.util.find_descriptor(
        interface,
        custom_match=lambda e: (
            usb.util.endpoint_direction(e.bEndpointAddress) == direction
            and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        ),
    )
    if endpoint is None:
        way = "IN" if direction == usb.util.ENDPOINT_IN else "OUT"
        raise DeviceFault(device, "device_error", f"the interface has no bulk {way} endpoint")
    address: int = endpoint.bEndpointAddress
    return address


def _string(device: Any, index: int) -> str:
    """A string descriptor, or "" if the device has none (no language, index 0)."""
    try:
        text = usb.util.get_string(device, index)
    except ValueError:
        return ""
    return "" if text is None else str(text)


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))  # 0 would mean "no timeout" to libusb
