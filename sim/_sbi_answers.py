"""The SBI answers as MOSIP's mock device service (mosip-mock-services, MockMDS) writes them.

The facts here are read from its source, none of its code: the HTTP framing is
SBIResponseInfo's, the error messages are MockMDS/application.properties' (the file it
loads at run time), the error bodies SBIJsonInfo's, and the JSON field order that of the
DTOs Jackson serialises (io.mosip.registration.mdm.dto: DiscoverDto, DeviceInfo,
DeviceInfoDto, DigitalId, BioMetricsDto, BioMetricsDataDto, ErrorInfo).
tests/vectors/sbi holds what these make, derived from the same source, and
tests/test_sbi_vectors.py holds the simulator to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

CORS_METHODS: Final = '"OPTIONS, RCAPTURE, CAPTURE, MOSIPDINFO, MOSIPDISC, STREAM, GET, POST"'
"""`cors.headers.allowed.methods` as MockMDS loads it: java.util.Properties keeps the quotes,
so they reach the header too. It is also the list of methods MockMDS answers."""

ERROR_MESSAGES: Final[Mapping[str, str]] = {
    "0": "Success",
    "100": "Device not registered",
    "101": "Unable to detect a biometric object",
    "102": "Technical error during extraction",
    "103": "Device tamper detected",
    "104": "Unable to connect to management server",
    "105": "Image orientation error",
    "106": "Device not found",
    "107": "Device public key expired",
    "108": "Domain public key missing",
    "109": "Requested number of biometric (Finger/IRIS) not supported",
    "110": "Device is not ready",
    "111": "Device is busy",
    "112": "Invalid Transaction ID",
    "113": "Count MisMatch for given deviceType",
    "114": "Device Type Mismatch('Finger', 'Iris', 'Face')",
    "115": "Env values Mismatch('Staging', 'Developer', 'Pre-Production', 'Production')",
    "116": "Count Value Mismatch (Max 4 for Four Slap Finger/2 For Double Iris/1 For Face)",
    "117": "Exception Value Mismatch('Left IndexFinger', 'Left MiddleFinger', "
    "'Left RingFinger', 'Left LittleFinger', 'Left Thumb', 'Right IndexFinger', "
    "'Right MiddleFinger', 'Right RingFinger', 'Right LittleFinger', 'Right Thumb', "
    "'Left', 'Right')",
    "118": "Exception Mismatch with Type of biometeric Data(Left Four Slap/Right Four "
    "Slap/Two Thumbs/Left Iris/Right Iris/Both Iris)",
    "119": "Bio SubType Value Mismatch('Left IndexFinger', 'Left MiddleFinger', "
    "'Left RingFinger', 'Left LittleFinger', 'Left Thumb', 'Right IndexFinger', "
    "'Right MiddleFinger', 'Right RingFinger', 'Right LittleFinger', 'Right Thumb', "
    "'UNKNOWN', 'Left', 'Right')",
    "120": "Device Type MisMatch for given deviceId",
    "121": "Purpose Value Mismatch('Registration', 'Auth')",
    "122": "BioSubType/Exception MisMatch for given Biometric Type",
    "500": "Invalid URL",
    "501": "Invalid Type Value in Device Discovery Request",
    "502": "Biometric Type values Mismatch('Biometric Device', 'Finger', 'Face', 'Iris')",
    "503": "Devices are not Connected, please connect devices",
    "608": "Live Stream Image not present",
    "700": "RCapture Failed because Live streaming was stopped",
    "701": "RCapture Failed because Capture Timeout has happened",
    "703": "RCapture process already in progress, try after sometime",
    "704": "Device Id value not present in RCapture request object",
    "705": "Device is not connected or not Registered for the deviceId given in RCapture "
    "request object",
    "706": "Device connected purpose should be for Registration only for RCapture",
    "709": "RCapture request can not be done for Auth Devices",
    "710": "RCapture unknown error",
    "801": "Auth Capture Failed because Capture Timeout has happened",
    "803": "Auth Capture process already in progress, try after sometime",
    "804": "Device Id value not present in Auth Capture request object",
    "805": "Device is not connected or not Registered for the deviceId given in Auth "
    "Capture request object",
    "806": "Device connected purpose should be for Auth only for Auth Capture",
    "809": "Auth Capture request can not be done for Registration Devices",
    "810": "Auth Capture unknown error",
    "999": "Unknown Error",
}
"""The messages MockMDS sends with the codes this simulator answers."""


def error_info(code: str, extra: str = "") -> str:
    # SBIJsonInfo: (description + " " + exceptionMessage).trim(); a code without a message
    # (123, for one) is "No Description available.".
    return f"{ERROR_MESSAGES.get(code, 'No Description available.')} {extra}".strip()


def error(code: str) -> dict[str, str]:
    return {"errorCode": code, "errorInfo": error_info(code)}


def json_text(document: Any) -> str:
    """JSON as Jackson writes it: compact, keys in the order given."""
    return json.dumps(document, separators=(",", ":"))


def error_list(code: str) -> str:
    """`[{"error": {...}}]`: a discovery or device info answer without a device."""
    return json_text([{"error": error(code)}])


def capture_error(code: str, spec_version: str, *, auth_fields: bool, extra: str = "") -> str:
    """A capture answer that failed as a whole (SBIJsonInfo.getCaptureErrorJson): one
    biometric with empty data and hash, with `sessionKey` and `thumbprint` too when MockMDS
    built it for CAPTURE (its `isRCapture` false)."""
    entry: dict[str, Any] = {"specVersion": spec_version, "data": "", "hash": ""}
    if auth_fields:
        entry |= {"sessionKey": "", "thumbprint": ""}
    entry["error"] = {"errorCode": code, "errorInfo": error_info(code, extra)}
    return json_text({"biometrics": [entry]})


def biometric_error(code: str, spec_version: str, *, auth_fields: bool) -> dict[str, Any]:
    """One biometric that was not captured, inside an answer with others
    (SBIServiceResponse.getBiometricErrorData): 701, or 801 for an Auth capture."""
    entry: dict[str, Any] = {"specVersion": spec_version, "data": "", "hash": ""}
    if auth_fields:
        entry |= {"sessionKey": "", "thumbprint": ""}
    entry["error"] = error(code)
    return entry


# --------------------------------------------------------------------------- DTOs


def discovery_entry(
    *,
    device_id: str,
    status: str,
    certification: str,
    service_version: str,
    callback_id: str,
    digital_id: str,
    device_code: str,
    purpose: str,
    status_error: str,
    spec_versions: Sequence[str],
    sub_ids: Sequence[str],
) -> dict[str, Any]:
    """One DiscoverDto, its fields in their declared order."""
    return {
        "deviceId": device_id,
        "deviceStatus": status,
        "certification": certification,
        "serviceVersion": service_version,
        "callbackId": callback_id,
        "digitalId": digital_id,
        "deviceCode": device_code,
        "purpose": purpose,
        "error": error(status_error),
        "specVersion": list(spec_versions),
        "deviceSubId": list(sub_ids),
    }


def device_info(
    *,
    spec_versions: Sequence[str],
    env: str,
    digital_id: str,
    device_id: str,
    device_code: str,
    purpose: str,
    service_version: str,
    status: str,
    firmware: str,
    certification: str,
    sub_ids: Sequence[str],
    callback_id: str,
) -> dict[str, Any]:
    """One DeviceInfo (the payload of `deviceInfo`), its fields in their declared order."""
    return {
        "specVersion": list(spec_versions),
        "env": env,
        "digitalId": digital_id,
        "deviceId": device_id,
        "deviceCode": device_code,
        "purpose": purpose,
        "serviceVersion": service_version,
        "deviceStatus": status,
        "firmware": firmware,
        "certification": certification,
        "deviceSubId": list(sub_ids),
        "callbackId": callback_id,
    }


STATUS_ERRORS: Final[Mapping[str, str]] = {
    "Ready": "0",
    "Busy": "111",
    "Not Ready": "110",
    "Not Registered": "100",
}
"""The error a discovery entry and a device info carry for each deviceStatus
(SBIDeviceHelper.getDiscoverInfo and getDeviceInfoDto)."""


# --------------------------------------------------------------------------- HTTP


def _cors_headers() -> str:
    return (
        "Access-Control-Allow-Headers:DNT,X-Mx-ReqToken,Keep-Alive,User-Agent,"
        "X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,X-PINGOTHER,"
        "Authorization\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        f"Access-Control-Allow-Methods: {CORS_METHODS}\r\n"
        "Access-Control-Allow-Credentials: true\r\n"
    )


def http_response(body: str, *, host: str, port: int, status: str = "200 OK") -> bytes:
    """An answer framed as SBIResponseInfo.generateResponse frames it: `Content-Length` is
    the body's length in characters, and two CRLFs follow the body."""
    head = (
        f"HTTP/1.1 {status}\r\n"
        + _cors_headers()
        + "CACHE-CONTROL:no-cache\r\n"
        + f"Content-Length: {len(body)}\r\n"
        + "Content-Type: application/json\r\n"
        + f"LOCATION: HTTP://{host}:{port}/\r\n"
        + "Connection: close\r\n\r\n"
    )
    return (head + body + "\r\n\r\n").encode()


def http_error(code: str, *, host: str, port: int) -> bytes:
    """SBIResponseInfo.generateErrorResponse: "405 OK" and `[{"error": {...}}]`."""
    return http_response(error_list(code), host=host, port=port, status="405 OK")


def http_options() -> bytes:
    """SBIResponseInfo.generateOptionsResponse: a CORS preflight answer, no body."""
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"Access-Control-Allow-Origin:*\r\n"
        b"Access-Control-Allow-Headers:Content-Type\r\n"
        b"Access-Control-Allow-Methods:OPTIONS, RCAPTURE, CAPTURE, MOSIPDINFO, MOSIPDISC, "
        b"STREAM, GET, POST\r\n"
        b"CACHE-CONTROL:no-cache\r\n"
        b"Connection: Keep-Alive\r\n\r\n"
    )
