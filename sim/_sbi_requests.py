"""The requests an SBI device service reads, as MockMDS reads and checks them.

The facts are MockMDS's (mosip-mock-services), read from its source: SBIWorker reads a
request line by line up to its `Content-Length`; CaptureRequestDto's deserializers and
validateCaptureRequest say what a capture request must hold; SBIServiceResponse's
processRCaptureInfo and processCaptureInfo check the rest, in this order, each refusal with
its error code.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final

_MAX_REQUEST: Final = 1024 * 1024
_MAX_HEADER_LINES: Final = 100
_FINGER_NAMES: Final = frozenset(
    (
        "Left IndexFinger",
        "Left MiddleFinger",
        "Left RingFinger",
        "Left LittleFinger",
        "Left Thumb",
        "Right IndexFinger",
        "Right MiddleFinger",
        "Right RingFinger",
        "Right LittleFinger",
        "Right Thumb",
    )
)
_BIO_TYPES: Final = ("Finger", "Iris", "Face")
_ENVS: Final = ("Staging", "Developer", "Pre-Production", "Production")
_TRANSACTION_ID: Final = re.compile(r"[a-zA-Z0-9-]{4,50}")
_JAVA_INT: Final = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the checks need to know of the device asked."""

    bio_type: str
    purpose: str
    device_id: str
    status: str


class Refused(Exception):
    """A capture request MockMDS answers with an error code instead of a capture."""

    def __init__(self, code: str, extra: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes] | None:
    """A request as SBIWorker reads it: lines up to an empty one, `Content-Length` from a
    line holding "content-length:" or "Content-Length:" (its value after 16 characters),
    then that many bytes of body. None if the client left first."""
    lines: list[str] = []
    length = 0
    while len(lines) < _MAX_HEADER_LINES:
        raw = await reader.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            break
        if "content-length:" in line or "Content-Length:" in line:
            value = line[16:].strip()
            length = int(value) if value.isdigit() else 0
        lines.append(line)
    if not lines or length > _MAX_REQUEST:
        return None
    return lines[0], await reader.readexactly(length)


def _valid_capture_request(request: dict[str, Any]) -> bool:
    """CaptureRequestDto's own checks (its deserializers and validateCaptureRequest): the
    strings present and not blank, the numbers sent as non-blank strings, `bio` a list of
    objects with theirs, `previousHash` present (it may be empty)."""
    text = ("env", "purpose", "specVersion", "captureTime", "transactionId", "timeout")
    if not all(_filled(request.get(name)) for name in text):
        return False
    bio = request.get("bio")
    if not isinstance(bio, list) or not all(isinstance(item, dict) for item in bio):
        return False
    for item in bio:
        needed = ("type", "count", "requestedScore", "deviceId", "deviceSubId")
        if not all(_filled(item.get(name)) for name in needed):
            return False
        if not isinstance(item.get("previousHash"), str):
            return False
        for name in ("exception", "bioSubType"):
            names = item.get(name)
            if names is not None and not (
                isinstance(names, list) and all(isinstance(n, str) for n in names)
            ):
                return False
    return True


def _java_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_capture(
    body: bytes, *, auth: bool, device: DeviceFacts
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request and its first biometric, or the code MockMDS refuses it with, in the
    order it checks (processRCaptureInfo, processCaptureInfo)."""
    unknown = "810" if auth else "710"  # a number that does not parse: its catch-all
    if (device.purpose == "Auth") != auth:
        raise Refused("809" if auth else "709")
    request = json_object(body)
    if not _valid_capture_request(request):
        raise Refused("123")
    if not request["bio"]:
        raise Refused("115")  # env is read only with a first biometric
    bio: dict[str, Any] = request["bio"][0]
    if not _JAVA_INT.fullmatch(bio["deviceSubId"]):
        raise Refused(unknown)
    _check_address(request, bio, auth=auth, device=device)
    _check_ask(request, bio, auth=auth, device=device)
    return request, bio


def _check_address(
    request: dict[str, Any], bio: dict[str, Any], *, auth: bool, device: DeviceFacts
) -> None:
    """Is the request for this device, in this environment and purpose?"""
    if request["env"] not in _ENVS:
        raise Refused("115")
    if request["purpose"] != ("Auth" if auth else "Registration"):
        raise Refused("121")
    if bio["type"] not in _BIO_TYPES:
        raise Refused("114")
    if bio["deviceId"] != device.device_id:
        raise Refused("805" if auth else "705")
    if bio["type"] != device.bio_type:
        raise Refused("120")


def _check_ask(
    request: dict[str, Any], bio: dict[str, Any], *, auth: bool, device: DeviceFacts
) -> None:
    """Can this device take what is asked, now?"""
    unknown = "810" if auth else "710"  # a number that does not parse: its catch-all
    status = device.status
    if status == "Not Registered":
        raise Refused("100")
    if status == "Not Ready":
        raise Refused("110")
    if auth and status == "Busy":
        raise Refused("111")
    if not _TRANSACTION_ID.fullmatch(request["transactionId"]):
        raise Refused("112")
    if not all(_JAVA_INT.fullmatch(v) for v in (bio["count"], request["timeout"])):
        raise Refused(unknown)
    if not _java_float(bio["requestedScore"]):
        raise Refused(unknown)
    if not _valid_names(bio, auth=auth, bio_type=device.bio_type):
        raise Refused("122")
    if not _valid_count(bio, auth=auth, bio_type=device.bio_type):
        raise Refused("109")
    if status == "Busy":  # capturing already (a CAPTURE got 111 above)
        raise Refused("703")
    if not _JAVA_INT.fullmatch(bio["requestedScore"]):
        # Read again as an integer while the answer is built, and failing there.
        if not auth:
            raise Refused(unknown)
        raise Refused("999", f'For input string: "{bio["requestedScore"]}"')


def _valid_names(bio: dict[str, Any], *, auth: bool, bio_type: str) -> bool:
    names = {
        "Finger": _FINGER_NAMES,
        "Iris": frozenset(("Left", "Right")),
    }.get(bio_type)
    subtypes, exceptions = bio.get("bioSubType"), bio.get("exception")
    if names is None:  # a face takes anything
        return True
    if auth and subtypes is None:
        return False
    if subtypes is not None and not set(subtypes) <= names | {"UNKNOWN"}:
        return False
    return auth or exceptions is None or set(exceptions) <= names


def _valid_count(bio: dict[str, Any], *, auth: bool, bio_type: str) -> bool:
    count, sub_id = int(bio["count"]), int(bio["deviceSubId"])
    if auth:
        return 0 <= count <= {"Finger": 10, "Iris": 2, "Face": 1}[bio_type]
    missing = len(bio.get("exception") or ())
    if bio_type == "Face":
        return count == 1
    if bio_type == "Iris" and sub_id in (1, 2):
        return count == 1 and missing == 0
    expected = {"Finger": {1: 4, 2: 4, 3: 2}, "Iris": {3: 2}}[bio_type]
    return sub_id not in expected or count + missing == expected[sub_id]


def json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
