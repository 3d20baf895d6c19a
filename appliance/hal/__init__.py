"""The hardware abstraction layer: one async interface per device class, real drivers
on real transports, and the device supervisor."""

from ._blocking import BlockingCaller
from ._config import DeviceConfig, HalSection, build_devices
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
from ._keypad import KeypadConfig, Rating, SatisfactionKeypad
from ._lineproto import Frame, FrameError
from ._serial import SerialLineDevice
from ._signature_pad import PenSample, Signature, SignaturePad, SignaturePadConfig
from ._status import BUSY, READY, DeviceIdentity, DeviceKind, DeviceState, DeviceStatus
from ._supervisor import Backoff, DeviceSupervisor, StatusChange

__all__ = [
    "BUSY",
    "FAULT_CODES",
    "READY",
    "Backoff",
    "BlockingCaller",
    "Device",
    "DeviceBusy",
    "DeviceConfig",
    "DeviceError",
    "DeviceFault",
    "DeviceGone",
    "DeviceIdentity",
    "DeviceKind",
    "DeviceState",
    "DeviceStatus",
    "DeviceSupervisor",
    "DeviceTimeout",
    "FaultSpec",
    "Frame",
    "FrameError",
    "HalSection",
    "KeypadConfig",
    "PenSample",
    "Rating",
    "SatisfactionKeypad",
    "SerialLineDevice",
    "Signature",
    "SignaturePad",
    "SignaturePadConfig",
    "StatusChange",
    "StatusListener",
    "build_devices",
    "status_for",
]
