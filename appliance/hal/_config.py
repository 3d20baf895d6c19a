"""From the station config's `[devices.<name>]` tables to driver instances.

Each driver owns its config model (a `kind` tag plus its transport's settings); this
module is the one place that knows them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
from ._card_encoder import CardEncoder, CardEncoderConfig
from ._card_printer import CardPrinter, CardPrinterConfig
from ._device import Device
from ._keypad import KeypadConfig, SatisfactionKeypad
from ._signature_pad import SignaturePad, SignaturePadConfig
from ._ticket_printer import TicketPrinter, TicketPrinterConfig

DeviceConfig = Annotated[
    TicketPrinterConfig
    | CardPrinterConfig
    | CardEncoderConfig
    | SignaturePadConfig
    | KeypadConfig
    | SbiFaceCameraConfig
    | SbiFingerprintScannerConfig
    | SbiSingleFingerScannerConfig
    | SbiIrisScannerConfig,
    Field(discriminator="kind"),
]


class HalSection(BaseModel):
    """How the supervisor watches devices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_interval_s: float = Field(default=5.0, gt=0, le=60)
    """Between operations, how often a ready device is asked how it is (a hang or a
    quiet unplug is noticed this way; an operation notices at once). Every poll wakes
    the station: an idle station should do little else. A device that is there but not
    ready is asked again on the reconnect backoff instead, for a while."""
    reconnect_initial_s: float = Field(default=0.1, gt=0, le=60)
    reconnect_max_s: float = Field(default=1.0, gt=0, le=600)


def build_devices(configs: Mapping[str, DeviceConfig]) -> list[Device]:
    devices: list[Device] = []
    for name, config in configs.items():
        match config:
            case TicketPrinterConfig():
                devices.append(TicketPrinter.from_config(name=name, config=config))
            case CardPrinterConfig():
                devices.append(CardPrinter.from_config(name=name, config=config))
            case CardEncoderConfig():
                devices.append(CardEncoder.from_config(name=name, config=config))
            case SignaturePadConfig():
                devices.append(SignaturePad.from_config(name, config))
            case KeypadConfig():
                devices.append(SatisfactionKeypad.from_config(name, config))
            case SbiFaceCameraConfig():
                devices.append(SbiFaceCamera(name=name, config=config))
            case SbiFingerprintScannerConfig():
                devices.append(SbiFingerprintScanner(name=name, config=config))
            case SbiSingleFingerScannerConfig():
                devices.append(SbiSingleFingerScanner(name=name, config=config))
            case SbiIrisScannerConfig():
                devices.append(SbiIrisScanner(name=name, config=config))
    return devices
