"""MOSIP SBI (Secure Biometric Interface) messages: what we send and how answers are read.

Pure functions and models, no I/O, so the whole of the untrusted-input surface can be
fuzzed on its own. Every parser takes the raw body a device sent and either returns
validated values or raises `DeviceFault(..., "garbage")`: a library exception (JSON,
base64, pydantic, cryptography) never leaves this module.

What a device signs (`deviceInfo`, `digitalId`, capture `data`) arrives as a compact JWS
(RFC 7515, `header.payload.signature`, RS256 with the signing certificate in `x5c`). The
payload is always decoded; the signature is verified only when trust anchors are
configured (see `verify_jws`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from ._errors import DeviceBusy, DeviceError, DeviceFault, DeviceGone

_M = TypeVar("_M")

SPEC_VERSIONS: Final = ("0.9.5", "1.0.0")
FIRST_PREVIOUS_HASH: Final = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
"""SHA-256 of the empty string: the `previousHash` of the first capture of a chain."""


class BioType(StrEnum):
    FACE = "Face"
    FINGER = "Finger"
    IRIS = "Iris"


class Finger(StrEnum):
    LEFT_THUMB = "Left Thumb"
    LEFT_INDEX = "Left IndexFinger"
    LEFT_MIDDLE = "Left MiddleFinger"
    LEFT_RING = "Left RingFinger"
    LEFT_LITTLE = "Left LittleFinger"
    RIGHT_THUMB = "Right Thumb"
    RIGHT_INDEX = "Right IndexFinger"
    RIGHT_MIDDLE = "Right MiddleFinger"
    RIGHT_RING = "Right RingFinger"
    RIGHT_LITTLE = "Right LittleFinger"

    @property
    def iso_position(self) -> int:
        """The ISO/IEC 19794-2 finger position code: 1-5 right thumb to little, 6-10 left."""
        return _ISO_POSITIONS[self]

    @classmethod
    def from_iso_position(cls, code: int) -> Finger:
        for finger, position in _ISO_POSITIONS.items():
            if position == code:
                return finger
        raise ValueError(f"{code} is not an ISO/IEC 19794-2 finger position (1-10)")


_ISO_POSITIONS: Final = {
    Finger.RIGHT_THUMB: 1,
    Finger.RIGHT_INDEX: 2,
    Finger.RIGHT_MIDDLE: 3,
    Finger.RIGHT_RING: 4,
    Finger.RIGHT_LITTLE: 5,
    Finger.LEFT_THUMB: 6,
    Finger.LEFT_INDEX: 7,
    Finger.LEFT_MIDDLE: 8,
    Finger.LEFT_RING: 9,
    Finger.LEFT_LITTLE: 10,
}


class Eye(StrEnum):
    LEFT = "Left"
    RIGHT = "Right"


class Slap(StrEnum):
    """The three placements of a ten-print capture; the value is the SBI deviceSubId."""

    LEFT_FOUR = "1"
    RIGHT_FOUR = "2"
    THUMBS = "3"

    @property
    def fingers(self) -> tuple[Finger, ...]:
        return _SLAP_FINGERS[self]


_SLAP_FINGERS: Final = {
    Slap.LEFT_FOUR: (Finger.LEFT_INDEX, Finger.LEFT_MIDDLE, Finger.LEFT_RING, Finger.LEFT_LITTLE),
    Slap.RIGHT_FOUR: (
        Finger.RIGHT_INDEX,
        Finger.RIGHT_MIDDLE,
        Finger.RIGHT_RING,
        Finger.RIGHT_LITTLE,
    ),
    Slap.THUMBS: (Finger.LEFT_THUMB, Finger.RIGHT_THUMB),
}

Purpose = Literal["Registration", "Auth"]
Environment = Literal["Staging", "Developer", "Pre-Production", "Production"]


# --------------------------------------------------------------------------- error codes


@dataclass(frozen=True, slots=True)
class SbiErrorMeaning:
    """How one SBI error code reads for the station: our fault code, or busy/gone."""

    code: str
    outcome: Literal["fault", "busy", "gone"] = "fault"


SBI_ERRORS: Final[Mapping[str, SbiErrorMeaning]] = {
    "100": SbiErrorMeaning("device_error"),  # device not registered with its provider
    "101": SbiErrorMeaning("no_capture"),  # unable to detect a biometric object
    "102": SbiErrorMeaning("low_quality"),  # technical error during extraction
    "103": SbiErrorMeaning("device_error"),  # device tamper detected
    "104": SbiErrorMeaning("device_error"),  # management server unreachable
    "105": SbiErrorMeaning("low_quality"),  # image orientation error
    "106": SbiErrorMeaning("not_found", "gone"),  # device not found
    "107": SbiErrorMeaning("device_error"),  # device public key expired
    "108": SbiErrorMeaning("device_error"),  # domain public key missing
    "109": SbiErrorMeaning("device_error"),  # requested count not supported: our request
    "110": SbiErrorMeaning("device_error"),  # device is not ready
    "111": SbiErrorMeaning("device_busy", "busy"),  # device is busy
    "112": SbiErrorMeaning("device_error"),  # invalid transaction id: our request
}
"""The SBI error codes (MOSIP device service specification, "Error Codes") in our terms.

5xx codes are vendor-specific and, like any code not listed, read as `device_error`.
"""


def sbi_error(device: str, code: str, info: str) -> DeviceError:
    """The typed error for SBI error `code` (never "0", which is success)."""
    meaning = SBI_ERRORS.get(code, SbiErrorMeaning("device_error"))
    detail = f"SBI error {_printable(code)}: {_printable(info)}"
    if meaning.outcome == "busy":
        return DeviceBusy(device, detail)
    if meaning.outcome == "gone":
        return DeviceGone(device, detail, code=meaning.code)
    return DeviceFault(device, meaning.code, detail)


def _printable(text: str, limit: int = 80) -> str:
    # Device-provided text goes into operator messages and logs: keep it short and tame.
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


# --------------------------------------------------------------------------- models


def _int_as_text(value: object) -> object:
    # The spec's examples send codes and sub ids as strings, its 1.0.0 schemas as integers.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _score(value: object) -> object:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # left for the float validator to refuse
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


_Text = Annotated[str, BeforeValidator(_int_as_text)]
_Score = Annotated[float, BeforeValidator(_score), Field(ge=0, le=100, allow_inf_nan=False)]


class _Message(BaseModel):
    model_config = ConfigDict(
        strict=True, extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class SbiError(_Message):
    error_code: _Text = "0"
    error_info: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code == "0"


class DigitalId(_Message):
    serial_no: str = Field(min_length=1, max_length=200)
    make: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=200)
    device_type: str = Field(alias="type")
    device_sub_type: str
    device_provider: str = ""
    date_time: str = ""


class _DiscoveryEntry(_Message):
    device_id: _Text
    device_status: str
    device_sub_id: list[_Text] = []
    digital_id: str
    spec_version: list[str] = []
    purpose: str = ""
    error: SbiError = SbiError()


class _InfoEntry(_Message):
    device_info: str
    error: SbiError = SbiError()


class DeviceInfo(_Message):
    """The payload of `deviceInfo` (signed by registered devices)."""

    device_status: str
    device_id: _Text
    firmware: str = ""
    certification: str = ""
    service_version: str = ""
    device_sub_id: list[_Text] = []
    digital_id: str
    env: str = ""
    purpose: str = ""
    spec_version: list[str] = []


class _CaptureEntry(_Message):
    spec_version: str = ""
    data: str = ""
    chain_hash: str = Field(default="", alias="hash")
    session_key: str | None = None
    thumbprint: str | None = None
    error: SbiError = SbiError()


class _CaptureResponse(_Message):
    biometrics: list[_CaptureEntry]


class CaptureData(_Message):
    """The payload of one captured biometric's signed `data`."""

    digital_id: str = ""
    bio_type: str
    bio_sub_type: str | None = None
    purpose: str = ""
    env: str = ""
    bio_value: str = Field(min_length=1)
    transaction_id: str
    timestamp: str = ""
    requested_score: _Score
    quality_score: _Score


# --------------------------------------------------------------------------- parsed results


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    port: int
    device_id: str
    status: str
    sub_ids: tuple[str, ...]
    purpose: str
    spec_versions: tuple[str, ...]
    digital_id: DigitalId
    error: SbiError


@dataclass(frozen=True, slots=True)
class InfoAnswer:
    info: DeviceInfo
    digital_id: DigitalId
    error: SbiError


@dataclass(frozen=True, slots=True)
class CapturedEntry:
    """One biometric of a capture answer, decoded; `bio_value` is never logged."""

    data: CaptureData | None
    bio_value: bytes
    chain_hash: str
    session_key: bytes | None
    thumbprint: str | None
    error: SbiError

    def __repr__(self) -> str:
        return f"CapturedEntry(error={self.error.error_code!r}, bytes={len(self.bio_value)})"


# --------------------------------------------------------------------------- parsers


@dataclass(frozen=True, slots=True)
class Trust:
    """Certificates a device signature must chain to; empty means "decode, do not verify"."""

    anchors: tuple[x509.Certificate, ...] = ()


def parse_discovery(body: bytes, *, device: str, port: int) -> list[DiscoveredDevice]:
    """Read a MOSIPDISC answer: every device the service on `port` offers."""
    entries = _checked(device, _DISCOVERY, _json(device, body, "discovery"), "discovery")
    return [
        DiscoveredDevice(
            port=port,
            device_id=entry.device_id,
            status=entry.device_status,
            sub_ids=tuple(entry.device_sub_id),
            purpose=entry.purpose,
            spec_versions=tuple(entry.spec_version),
            # Discovery sends the digital id unsigned (payload only), sometimes as a JWS.
            digital_id=_digital_id(device, entry.digital_id, trust=Trust()),
            error=entry.error,
        )
        for entry in entries
    ]


def parse_info(body: bytes, *, device: str, trust: Trust = Trust()) -> list[InfoAnswer]:
    """Read a MOSIPDINFO answer: the signed status and identity of each device."""
    answers = []
    for entry in _checked(device, _INFO, _json(device, body, "device info"), "device info"):
        payload = decode_jws(entry.device_info, device=device, trust=trust)
        info = _checked(device, _DEVICE_INFO, payload, "device info")
        answers.append(
            InfoAnswer(
                info=info,
                digital_id=_digital_id(device, info.digital_id, trust=trust),
                error=entry.error,
            )
        )
    return answers


def parse_capture(body: bytes, *, device: str, trust: Trust = Trust()) -> list[CapturedEntry]:
    """Read a CAPTURE/RCAPTURE answer; entries with an error carry no data."""
    response = _checked(device, _CAPTURE, _json(device, body, "capture"), "capture answer")
    entries = []
    for entry in response.biometrics:
        if not entry.error.ok:
            entries.append(
                CapturedEntry(None, b"", entry.chain_hash, None, entry.thumbprint, entry.error)
            )
            continue
        payload = decode_jws(entry.data, device=device, trust=trust)
        data = _checked(device, _CAPTURE_DATA, payload, "capture data")
        session_key = (
            None if entry.session_key is None else b64url(entry.session_key, device=device)
        )
        entries.append(
            CapturedEntry(
                data=data,
                bio_value=b64url(data.bio_value, device=device),
                chain_hash=entry.chain_hash,
                session_key=session_key,
                thumbprint=entry.thumbprint,
                error=entry.error,
            )
        )
    return entries


def _digital_id(device: str, token: str, *, trust: Trust) -> DigitalId:
    return _checked(
        device, _DIGITAL_ID, decode_jws(token, device=device, trust=trust), "digital id"
    )


_DISCOVERY: Final = TypeAdapter(list[_DiscoveryEntry])
_INFO: Final = TypeAdapter(list[_InfoEntry])
_DEVICE_INFO: Final = TypeAdapter(DeviceInfo)
_DIGITAL_ID: Final = TypeAdapter(DigitalId)
_CAPTURE: Final = TypeAdapter(_CaptureResponse)
_CAPTURE_DATA: Final = TypeAdapter(CaptureData)


def _json(device: str, body: bytes | str, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # also bad UTF-8 and absurd integers
        raise DeviceFault(device, "garbage", f"{what} is not JSON") from exc


def _checked(device: str, adapter: TypeAdapter[_M], document: object, what: str) -> _M:
    try:
        return adapter.validate_python(document)
    except (ValidationError, RecursionError) as exc:
        raise DeviceFault(device, "garbage", f"{what} has the wrong shape") from exc


# --------------------------------------------------------------------------- JWS and base64

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def b64url(text: str, *, device: str) -> bytes:
    """Strict base64url (padding optional): anything else is garbage, not skipped."""
    if _B64URL.fullmatch(text) is None:
        raise DeviceFault(device, "garbage", "not base64url")
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DeviceFault(device, "garbage", "not base64url") from exc


def decode_jws(token: str, *, device: str, trust: Trust = Trust()) -> object:
    """The JSON payload of a compact JWS, or of a bare base64url payload (unsigned).

    With trust anchors, only a JWS whose signature verifies is accepted.
    """
    parts = token.split(".")
    if len(parts) == 1 and not trust.anchors:
        return _json(device, b64url(parts[0], device=device), "signed payload")
    if len(parts) != 3:
        raise DeviceFault(device, "garbage", "not a compact JWS")
    header = _json(device, b64url(parts[0], device=device), "JWS header")
    payload = b64url(parts[1], device=device)
    if trust.anchors:
        verify_jws(
            header,
            f"{parts[0]}.{parts[1]}".encode("ascii"),
            b64url(parts[2], device=device),
            device=device,
            trust=trust,
        )
    return _json(device, payload, "JWS payload")


def verify_jws(
    header: object, signing_input: bytes, signature: bytes, *, device: str, trust: Trust
) -> None:
    """Check an RS256 signature by the `x5c` certificate, which a trust anchor must be
    or must have issued directly (the device provider's CA)."""
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise DeviceFault(device, "garbage", "JWS is not RS256")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise DeviceFault(device, "garbage", "JWS carries no x5c certificate")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise DeviceFault(device, "garbage", "JWS certificate is not RSA")
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise DeviceFault(device, "garbage", "JWS signature does not verify") from exc
    if not any(_vouches(anchor, certificate) for anchor in trust.anchors):
        raise DeviceFault(device, "garbage", "JWS certificate is not from a trusted provider")


def _vouches(anchor: x509.Certificate, certificate: x509.Certificate) -> bool:
    if anchor == certificate:
        return True
    try:
        certificate.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------- requests


def capture_request(
    *,
    purpose: Purpose,
    env: Environment,
    spec_version: str,
    timeout_ms: int,
    capture_time: str,
    transaction_id: str,
    bio_type: BioType,
    device_id: str,
    device_sub_id: str,
    bio_sub_types: Sequence[str],
    exceptions: Sequence[str],
    requested_score: int,
    previous_hash: str,
    domain_uri: str | None = None,
) -> dict[str, Any]:
    """The body of an RCAPTURE (registration) or CAPTURE (authentication) request."""
    request: dict[str, Any] = {
        "env": env,
        "purpose": purpose,
        "specVersion": spec_version,
        "timeout": str(timeout_ms),
        "captureTime": capture_time,
        "transactionId": transaction_id,
        "bio": [
            {
                "type": bio_type.value,
                "count": str(len(bio_sub_types) or 1),
                "bioSubType": list(bio_sub_types),
                "exception": list(exceptions),
                "requestedScore": str(requested_score),
                "deviceId": device_id,
                "deviceSubId": device_sub_id,
                "previousHash": previous_hash,
            }
        ],
        "customOpts": None,
    }
    if domain_uri is not None:
        request["domainUri"] = domain_uri
    return request
