"""What an SBI device's words mean for the station: its error codes and its deviceStatus.

One table each, and every code in it chosen on purpose (docs/devices/sbi.md lists them with
their source). The codes come from the SBI specification's "Error Codes" (mosip/documentation
docs/biometrics/mds-specification.md and docs/secure-biometric-interface.md, which adds 202)
and from MOSIP's own mock device service (mosip-mock-services MockMDS/application.properties,
the codes its answers carry: 113-123, 500-551, 601-610, 700-810, 999).

Each code is read as one of four outcomes:
- `retry`: the applicant's moment, not the device's (nothing seen, a capture timeout): the
  capture tries again, and the device stays READY;
- `busy`: the device is capturing for someone else ("try after sometime"): DeviceBusy;
- `gone`: no device behind the service: DeviceGone (not_found);
- `fault`: everything else, with the fault code that tells the officer what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ._errors import DeviceBusy, DeviceError, DeviceFault, DeviceGone, status_for
from ._status import READY, DeviceStatus

Outcome = Literal["retry", "busy", "gone", "fault"]


@dataclass(frozen=True, slots=True)
class SbiErrorMeaning:
    """How one SBI error code reads for the station: a fault code and an outcome."""

    code: str
    outcome: Outcome = "fault"


_RETRY_NOTHING: Final = SbiErrorMeaning("no_capture", "retry")
_RETRY_QUALITY: Final = SbiErrorMeaning("low_quality", "retry")
_BUSY: Final = SbiErrorMeaning("device_busy", "busy")
_GONE: Final = SbiErrorMeaning("not_found", "gone")
_FAULT: Final = SbiErrorMeaning("device_error")
_NOT_REGISTERED: Final = SbiErrorMeaning("not_registered")

SBI_ERRORS: Final[Mapping[str, SbiErrorMeaning]] = {
    # The specification's codes.
    "100": _NOT_REGISTERED,  # device not registered: it cannot capture until it is
    "101": _RETRY_NOTHING,  # unable to detect a biometric object
    "102": _RETRY_QUALITY,  # technical error during extraction
    "103": _FAULT,  # device tamper detected
    "104": _FAULT,  # unable to connect to the management server
    "105": _RETRY_QUALITY,  # image orientation error
    "106": _GONE,  # device not found
    "107": _NOT_REGISTERED,  # device public key expired: registered again, it works
    "108": _FAULT,  # domain public key missing (the device's Auth encryption key)
    "109": _FAULT,  # requested number of biometrics not supported: our request
    "110": _FAULT,  # device is not ready
    "111": _BUSY,  # device is busy
    "112": _FAULT,  # invalid transaction id: our request
    "202": _GONE,  # no device connected (api/sbi/common.yaml)
    # MockMDS: a request it refuses (our request is wrong; nothing to retry).
    "113": _FAULT,  # count mismatch for the device type
    "114": _FAULT,  # device type mismatch
    "115": _FAULT,  # env value mismatch
    "116": _FAULT,  # count value mismatch
    "117": _FAULT,  # exception value mismatch
    "118": _FAULT,  # exception mismatch with the type of biometric data
    "119": _FAULT,  # bioSubType value mismatch
    "120": _FAULT,  # device type mismatch for the deviceId
    "121": _FAULT,  # purpose value mismatch
    "122": _FAULT,  # bioSubType/exception mismatch for the biometric type
    "123": _FAULT,  # request is not the JSON it expects
    # MockMDS: its service and admin answers.
    "500": _FAULT,  # invalid URL (an unknown method or path)
    "501": _FAULT,  # invalid type value in a discovery request
    "502": _FAULT,  # biometric type value mismatch
    "503": _GONE,  # devices are not connected, please connect devices
    "504": _FAULT,  # admin: device status value mismatch
    "505": _FAULT,  # admin: quality score out of range
    "506": _FAULT,  # admin: delay below 0
    "507": _FAULT,  # admin: unknown method in a delay
    "551": _FAULT,  # profile not set
    # MockMDS: STREAM (the station does not stream; read if a service sends them anyway).
    "601": _FAULT,  # stream asked of an Auth device
    "604": _FAULT,  # deviceId missing from the stream request
    "605": _GONE,  # no device connected (or registered) for that deviceId
    "606": _FAULT,  # stream asked of a device not for Registration
    "607": _BUSY,  # device Not Ready or Busy
    "608": _FAULT,  # no stream image
    "609": _FAULT,  # stream timeout
    "610": _FAULT,  # stream unknown error
    # MockMDS: RCAPTURE.
    "700": _RETRY_NOTHING,  # capture cut short (its live stream stopped)
    "701": _RETRY_NOTHING,  # capture timeout: nothing good enough before `timeout`
    "702": _FAULT,  # the stream runs for another deviceId/deviceSubId
    "703": _BUSY,  # a capture is already in progress: "try after sometime"
    "704": _FAULT,  # deviceId missing: our request
    "705": _GONE,  # no device connected (or registered) for that deviceId
    "706": _FAULT,  # the device is not for Registration: our configuration
    "707": _RETRY_NOTHING,  # no biometric for the bioSubType asked
    "708": _RETRY_NOTHING,  # no biometric for the type and sub id asked
    "709": _FAULT,  # RCAPTURE asked of an Auth device: our configuration
    "710": _FAULT,  # RCAPTURE unknown error
    # MockMDS: CAPTURE (authentication).
    "800": _RETRY_NOTHING,  # auth capture cut short
    "801": _RETRY_NOTHING,  # auth capture timeout
    "803": _BUSY,  # an auth capture is already in progress
    "804": _FAULT,  # deviceId missing: our request
    "805": _GONE,  # no device connected (or registered) for that deviceId
    "806": _FAULT,  # the device is not for Auth: our configuration
    "809": _FAULT,  # CAPTURE asked of a Registration device: our configuration
    "810": _FAULT,  # auth capture unknown error
    "999": _FAULT,  # unknown error
}
"""Every code the specification and MockMDS define; any other (the vendors' own 5xx among
them) reads as `device_error`."""


def sbi_error(device: str, code: str, info: str) -> DeviceError:
    """The typed error for SBI error `code` (never "0", which is success)."""
    meaning = SBI_ERRORS.get(code, _FAULT)
    detail = f"SBI error {printable(code)}: {printable(info)}"
    if meaning.outcome == "busy":
        return DeviceBusy(device, detail)
    if meaning.outcome == "gone":
        return DeviceGone(device, detail, code=meaning.code)
    return DeviceFault(device, meaning.code, detail)


def is_gone(code: str) -> bool:
    """Whether SBI error `code` says there is no device behind the service."""
    return SBI_ERRORS.get(code, _FAULT).outcome == "gone"


DEVICE_STATUSES: Final[Mapping[str, DeviceStatus]] = {
    "Ready": READY,
    "Busy": status_for("device_busy", "device service reports Busy"),
    "Not Ready": status_for("device_error", "device service reports Not Ready"),
    "Not Registered": status_for("not_registered"),
}
"""The specification's four deviceStatus values in our terms; anything else is garbage."""


def printable(text: str, limit: int = 80) -> str:
    """Device-provided text for operator messages and logs: short and tame."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])
