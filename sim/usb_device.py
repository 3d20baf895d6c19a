"""A simulated USB device as the bus (`sim.usb.UsbBus`) sees it: the descriptors it
enumerates with (`UsbDescriptor`, `UsbEndpoint`), what it does with bulk transfers and a
reset (`SimulatedUsbDevice`), and the bytes it has for the host, waiting on its IN
endpoint (`UsbInPipe`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ._base import FaultState

_BULK: Final = 0x02


@dataclass(frozen=True, slots=True)
class UsbEndpoint:
    address: int  # bit 7 set for IN
    attributes: int = _BULK
    max_packet: int = 64


@dataclass(frozen=True, slots=True)
class UsbDescriptor:
    """The descriptors a simulated device enumerates with: one configuration, one interface."""

    vendor_id: int
    product_id: int
    manufacturer: str
    product: str
    serial: str
    bcd_device: int = 0x0100
    interface_class: int = 0x07  # printer
    interface_subclass: int = 0x01
    interface_protocol: int = 0x02  # bidirectional
    endpoints: tuple[UsbEndpoint, ...] = (UsbEndpoint(0x01), UsbEndpoint(0x82))

    def strings(self) -> dict[int, str]:
        """String descriptors by index (0 is the language list, answered separately)."""
        return {1: self.manufacturer, 2: self.product, **({3: self.serial} if self.serial else {})}

    def tree(self, *, port: int, address: int) -> dict[str, Any]:
        """Every descriptor as pyusb's backends present them, for the client to keep."""
        endpoints = [
            {
                "bLength": 7,
                "bDescriptorType": 5,
                "bEndpointAddress": ep.address,
                "bmAttributes": ep.attributes,
                "wMaxPacketSize": ep.max_packet,
                "bInterval": 0,
                "bRefresh": 0,
                "bSynchAddress": 0,
                "extra_descriptors": [],
            }
            for ep in self.endpoints
        ]
        interface = {
            "bLength": 9,
            "bDescriptorType": 4,
            "bInterfaceNumber": 0,
            "bAlternateSetting": 0,
            "bNumEndpoints": len(endpoints),
            "bInterfaceClass": self.interface_class,
            "bInterfaceSubClass": self.interface_subclass,
            "bInterfaceProtocol": self.interface_protocol,
            "iInterface": 0,
            "extra_descriptors": [],
        }
        configuration = {
            "bLength": 9,
            "bDescriptorType": 2,
            "wTotalLength": 9 + 9 + 7 * len(endpoints),
            "bNumInterfaces": 1,
            "bConfigurationValue": 1,
            "iConfiguration": 0,
            "bmAttributes": 0xC0,
            "bMaxPower": 50,
            "extra_descriptors": [],
        }
        device = {
            "bLength": 18,
            "bDescriptorType": 1,
            "bcdUSB": 0x0200,
            "bDeviceClass": 0,
            "bDeviceSubClass": 0,
            "bDeviceProtocol": 0,
            "bMaxPacketSize0": 64,
            "idVendor": self.vendor_id,
            "idProduct": self.product_id,
            "bcdDevice": self.bcd_device,
            "iManufacturer": 1,
            "iProduct": 2,
            "iSerialNumber": 3 if self.serial else 0,
            "bNumConfigurations": 1,
            "bus": 1,
            "address": address,
            "port_number": port,
            "port_numbers": [port],
            "speed": 2,  # full speed, as most receipt printers
        }
        return {
            "port": port,
            "address": address,
            "device": device,
            "configurations": [
                {
                    "descriptor": configuration,
                    "interfaces": [[{**interface, "endpoints": endpoints}]],
                }
            ],
        }


class SimulatedUsbDevice(Protocol):
    """A device the bus can host: its descriptors and what it does with bulk transfers."""

    name: str
    faults: FaultState
    usb_descriptor: UsbDescriptor

    async def bulk_out(self, endpoint: int, data: bytes) -> None:
        """Take data the host sent to an OUT endpoint."""

    async def bulk_in(self, endpoint: int, size: int) -> bytes:
        """Wait until the device has something for the host, then give up to `size` bytes."""
        ...

    def usb_reset(self) -> None:
        """The host reset or re-enumerated the device: drop half-received commands and
        answers nobody read."""


class UsbInPipe:
    """The bytes a device has for the host, waiting to be read from its IN endpoint."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ready = asyncio.Event()

    def put(self, data: bytes) -> None:
        self._data += data
        if self._data:
            self._ready.set()

    async def get(self, size: int) -> bytes:
        while not self._data:
            self._ready.clear()
            await self._ready.wait()
        chunk = bytes(self._data[:size])
        del self._data[:size]
        return chunk

    def clear(self) -> None:
        self._data.clear()
