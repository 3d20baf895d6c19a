"""What a device is and how it is doing: identity and the status model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from appliance._text import Text


class DeviceState(StrEnum):
    READY = "READY"
    BUSY = "BUSY"
    NOT_READY = "NOT_READY"  # present and answering, but needs a person (paper, cover)
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"  # present but misbehaving: hung, garbage, a fault it reports


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who made the device and what it runs; recorded with every capture."""

    make: str
    model: str
    serial: str
    firmware: str

    def to_json(self) -> dict[str, str]:
        return {
            "make": self.make,
            "model": self.model,
            "serial": self.serial,
            "firmware": self.firmware,
        }


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's state at a moment, with the reason when it is not usable.

    `code` is the stable machine-readable reason (a key of FAULT_CODES); `reason` is
    what the operator reads.
    """

    state: DeviceState
    code: str | None = None
    reason: Text | None = None

    @property
    def usable(self) -> bool:
        return self.state is DeviceState.READY

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "code": self.code,
            "reason": None if self.reason is None else {"id": self.reason.id, "en": self.reason.en},
        }


READY = DeviceStatus(DeviceState.READY)
BUSY = DeviceStatus(DeviceState.BUSY)
