"""The hardware abstraction layer: one async interface per device class, real drivers
on real transports, and the device supervisor.

Every driver declares itself once, at the bottom of its own module (`_registry`): its
kind, config model, factory and readiness checklist. Nothing else lists the drivers.
"""

from appliance._backoff import Backoff

from ._biometric import (
    SbiFaceCamera,
    SbiFaceCameraConfig,
    SbiFingerprintScanner,
    SbiFingerprintScannerConfig,
    SbiIrisScanner,
    SbiIrisScannerConfig,
    SbiSingleFingerScanner,
    SbiSingleFingerScannerConfig,
)
from ._blocking import BlockingCaller
from ._card_access import AccessKeys, PersonalisationKeys
from ._card_encoder import CardEncoder, CardEncoderConfig, CardInfo
from ._card_printer import CardPrinter, CardPrinterConfig
from ._card_printer_status import CardPosition, CardPrinterReport
from ._card_session import CardApplication
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
from ._registry import (
    UDEV_RULES_FILE,
    Checklist,
    ConfiguredDevice,
    DeviceFactory,
    DeviceKind,
    DeviceType,
    device_kind,
    device_type_of,
    device_types,
    register,
    unregister,
)
from ._sbi_captures import (
    BiometricCapture,
    CaptureNotAccepted,
    CaptureResult,
    choose_chip_fingers,
)
from ._sbi_codes import SBI_ERRORS
from ._sbi_config import SbiDeviceConfig
from ._sbi_device import SbiDevice
from ._sbi_protocol import BioType, Eye, Finger, Slap
from ._serial import SerialLineDevice
from ._signature_pad import PenSample, Signature, SignaturePad, SignaturePadConfig
from ._status import BUSY, READY, DeviceIdentity, DeviceState, DeviceStatus
from ._supervisor import DeviceSupervisor, StatusChange
from ._ticket_printer import Slip, Ticket, TicketPrinter, TicketPrinterConfig
from ._usb import UsbBulkDevice, UsbDeviceConfig
from ._usb_transport import SocketUsbBackend

__all__ = [
    "BUSY",
    "FAULT_CODES",
    "READY",
    "SBI_ERRORS",
    "UDEV_RULES_FILE",
    "AccessKeys",
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
    "Checklist",
    "ConfiguredDevice",
    "Device",
    "DeviceBusy",
    "DeviceConfig",
    "DeviceError",
    "DeviceFactory",
    "DeviceFault",
    "DeviceGone",
    "DeviceIdentity",
    "DeviceKind",
    "DeviceState",
    "DeviceStatus",
    "DeviceSupervisor",
    "DeviceTimeout",
    "DeviceType",
    "Eye",
    "FaultSpec",
    "Finger",
    "Frame",
    "FrameError",
    "HalSection",
    "KeypadConfig",
    "PenSample",
    "PersonalisationKeys",
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
    "SocketUsbBackend",
    "StatusChange",
    "StatusListener",
    "Ticket",
    "TicketPrinter",
    "TicketPrinterConfig",
    "UsbBulkDevice",
    "UsbDeviceConfig",
    "build_devices",
    "choose_chip_fingers",
    "device_kind",
    "device_type_of",
    "device_types",
    "register",
    "status_for",
    "unregister",
]
