"""The hardware abstraction layer: one async interface per device class, real drivers
on real transports, and the device supervisor."""

from appliance._backoff import Backoff

from ._biometric import (
    BiometricCapture,
    CaptureNotAccepted,
    CaptureResult,
    SbiDevice,
    SbiDeviceConfig,
    SbiFaceCamera,
    SbiFaceCameraConfig,
    SbiFingerprintScanner,
    SbiFingerprintScannerConfig,
    SbiIrisScanner,
    SbiIrisScannerConfig,
    SbiSingleFingerScanner,
    SbiSingleFingerScannerConfig,
    choose_chip_fingers,
)
from ._blocking import BlockingCaller
from ._card_encoder import CardApplication, CardEncoder, CardEncoderConfig, CardInfo
from ._card_printer import CardPosition, CardPrinter, CardPrinterConfig, CardPrinterReport
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
from ._sbi_protocol import SBI_ERRORS, BioType, Eye, Finger, Slap
from ._serial import SerialLineDevice
from ._signature_pad import PenSample, Signature, SignaturePad, SignaturePadConfig
from ._status import BUSY, READY, DeviceIdentity, DeviceKind, DeviceState, DeviceStatus
from ._supervisor import DeviceSupervisor, StatusChange
from ._ticket_printer import Slip, Ticket, TicketPrinter, TicketPrinterConfig
from ._usb import UsbBulkDevice

__all__ = [
    "BUSY",
    "FAULT_CODES",
    "READY",
    "SBI_ERRORS",
    "Backoff",
    "BioType",
    "BiometricCapture",
    "BlockingCaller",
    "CaptureNotAccepted",
    "CaptureResult",
    "CardApplication",
    "CardEncoder",
    "CardEncoderConfig",
    "CardInfo",
    "CardPosition",
    "CardPrinter",
    "CardPrinterConfig",
    "CardPrinterReport",
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
    "Eye",
    "FaultSpec",
    "Finger",
    "Frame",
    "FrameError",
    "HalSection",
    "KeypadConfig",
    "PenSample",
    "Rating",
    "SatisfactionKeypad",
    "SbiDevice",
    "SbiDeviceConfig",
    "SbiFaceCamera",
    "SbiFaceCameraConfig",
    "SbiFingerprintScanner",
    "SbiFingerprintScannerConfig",
    "SbiIrisScanner",
    "SbiIrisScannerConfig",
    "SbiSingleFingerScanner",
    "SbiSingleFingerScannerConfig",
    "SerialLineDevice",
    "Signature",
    "SignaturePad",
    "SignaturePadConfig",
    "Slap",
    "Slip",
    "StatusChange",
    "StatusListener",
    "Ticket",
    "TicketPrinter",
    "TicketPrinterConfig",
    "UsbBulkDevice",
    "build_devices",
    "choose_chip_fingers",
    "status_for",
]
