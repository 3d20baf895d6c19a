"""The hardware abstraction layer: one async interface per device class, real drivers
on real transports, and the device supervisor."""

from ._blocking import BlockingCaller
from ._device import Device, StatusListener
from ._errors import (
    FAULT_CODES,
    DeviceBusy,
    DeviceError,
    DeviceFault,
    DeviceGone,
    DeviceTimeout,
    FaultSpec,
    status_for,
)
from ._lineproto import Frame, FrameError
from ._serial import SerialLineDevice
from ._status import BUSY, READY, DeviceIdentity, DeviceKind, DeviceState, DeviceStatus

__all__ = [
    "BUSY",
    "FAULT_CODES",
    "READY",
    "BlockingCaller",
    "Device",
    "DeviceBusy",
    "DeviceError",
    "DeviceFault",
    "DeviceGone",
    "DeviceIdentity",
    "DeviceKind",
    "DeviceState",
    "DeviceStatus",
    "DeviceTimeout",
    "FaultSpec",
    "Frame",
    "FrameError",
    "SerialLineDevice",
    "StatusListener",
    "status_for",
]
