"""MOSIP SBI (Secure Biometric Interface) messages: what we send and how answers are read.

Pure functions and models, no I/O, so the whole of the untrusted-input surface can be
fuzzed on its own. Every parser takes the raw body a device sent and either returns
validated values or raises a DeviceError (`garbage` for anything malformed, `untrusted`
for a signature that does not hold): a library exception (JSON, base64, pydantic,
cryptography) never leaves these modules.

The shapes are the SBI 0.9.5 specification's (mosip/documentation
docs/biometrics/mds-specification.md) as MOSIP's own tools produce and check them: the
requests validate against the compliance toolkit's schemas
(mosip-compliance-toolkit resources/schemas/sbi/0.9.5) and the answers read are MockMDS's
(mosip-mock-services MockMDS), including its error answers `[{"error": {...}}]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from ._errors import DeviceFault
from ._sbi_trust import NO_TRUST, Trust, b64url, decode_jws, is_signed, json_of

_M = TypeVar("_M")

SPEC_VERSIONS: Final = ("0.9.5", "1.0.0")
"""The SBI versions the station speaks, in its order of preference."""


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

IRIS_BOTH: Final = "3"
"""The deviceSubId of a two-eye iris capture, also when one eye is declared missing:
MockMDS answers a left (1) or right (2) sub id with an exception by error 109, and the
toolkit's schema allows no exception for them."""

Purpose = Literal["Registration", "Auth"]
Environment = Literal["Staging", "Developer", "Pre-Production", "Production"]


# --------------------------------------------------------------------------- models


def _int_as_text(value: object) -> object:
    # The specification sends codes and sub ids as strings; some devices send integers
    # (MockMDS/files/MockMDS/discoverInfo.txt, a real device's answer: "deviceSubId": [1, 2, 3]).
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _null_as_empty(value: object) -> object:
    # MockMDS serialises its discovery answer without dropping nulls.
    return "" if value is None else _int_as_text(value)


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
_Lenient = Annotated[str, BeforeValidator(_null_as_empty)]
_Score = Annotated[float, BeforeValidator(_score), Field(ge=0, le=100, allow_inf_nan=False)]


class _Message(BaseModel):
    model_config = ConfigDict(
        strict=True, extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class SbiError(_Message):
    error_code: _Text = "0"
    error_info: _Lenient = ""

    @property
    def ok(self) -> bool:
        return self.error_code == "0"


SUCCESS: Final = SbiError()


class DigitalId(_Message):
    serial_no: str = Field(min_length=1, max_length=200)
    make: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=200)
    device_type: str = Field(alias="type")
    device_sub_type: str
    device_provider: str = ""
    device_provider_id: str = ""
    date_time: str = ""


class _DiscoveryEntry(_Message):
    device_id: _Lenient = ""
    device_status: _Lenient = ""
    device_sub_id: list[_Text] | None = None
    callback_id: _Lenient = ""
    digital_id: _Lenient = ""
    spec_version: list[str] | None = None
    purpose: _Lenient = ""
    error: SbiError | None = None


class _InfoEntry(_Message):
    device_info: _Lenient = ""
    error: SbiError | None = None


class DeviceInfo(_Message):
    """The payload of `deviceInfo` (signed by registered devices)."""

    device_status: str
    device_id: _Lenient = ""
    firmware: _Lenient = ""
    certification: _Lenient = ""
    service_version: _Lenient = ""
    device_sub_id: list[_Text] = []
    callback_id: _Lenient = ""
    digital_id: str
    device_code: _Lenient = ""
    env: _Lenient = ""
    purpose: _Lenient = ""
    spec_version: list[str] = []


class _CaptureEntry(_Message):
    spec_version: _Lenient = ""
    data: _Lenient = ""
    chain_hash: _Lenient = Field(default="", alias="hash")
    session_key: _Lenient = ""
    thumbprint: _Lenient = ""
    error: SbiError = SUCCESS


class _CaptureResponse(_Message):
    biometrics: list[_CaptureEntry] = Field(min_length=1)


class CaptureData(_Message):
    """The payload of one captured biometric's signed `data`."""

    digital_id: str = ""
    device_code: str = ""
    bio_type: str
    bio_sub_type: str | None = None
    purpose: str = ""
    env: str = ""
    domain_uri: str | None = None
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
    callback_id: str
    digital_id: DigitalId
    error: SbiError


@dataclass(frozen=True, slots=True)
class Discovery:
    """A MOSIPDISC answer: the devices offered, and the errors said instead of devices."""

    devices: tuple[DiscoveredDevice, ...]
    errors: tuple[SbiError, ...]


@dataclass(frozen=True, slots=True)
class InfoAnswer:
    info: DeviceInfo
    digital_id: DigitalId
    error: SbiError


@dataclass(frozen=True, slots=True)
class Info:
    """A MOSIPDINFO answer: each device's info, and the errors said instead of devices."""

    answers: tuple[InfoAnswer, ...]
    errors: tuple[SbiError, ...]


@dataclass(frozen=True, slots=True)
class CapturedEntry:
    """One biometric of a capture answer, decoded; `bio_value` is never logged.

    `bio_value` is the record as sent: for an Auth capture with a `session_key`, sealed.
    """

    data: CaptureData | None
    bio_value: bytes
    chain_hash: str
    session_key: bytes | None
    thumbprint: str
    error: SbiError

    def __repr__(self) -> str:
        return f"CapturedEntry(error={self.error.error_code!r}, bytes={len(self.bio_value)})"


# --------------------------------------------------------------------------- parsers

NOT_REGISTERED: Final = "Not Registered"


def parse_discovery(body: bytes, *, device: str, port: int) -> Discovery:
    """Read a MOSIPDISC answer: every device the service on `port` offers."""
    entries = _checked(device, _DISCOVERY, json_of(device, body, "discovery"), "discovery")
    devices, errors = [], []
    for entry in entries:
        error = entry.error or SUCCESS
        if not entry.digital_id:
            # `[{"error": {...}}]`: no device, only why (MockMDS: 502, 503).
            errors.append(_saying_why(device, error, "discovery"))
            continue
        devices.append(
            DiscoveredDevice(
                port=port,
                device_id=entry.device_id,
                status=entry.device_status,
                sub_ids=tuple(entry.device_sub_id or ()),
                purpose=entry.purpose,
                spec_versions=tuple(entry.spec_version or ()),
                callback_id=entry.callback_id,
                # Discovery sends the digital id unsigned (payload only), as the
                # specification's "Signature" table says.
                digital_id=_digital_id(device, entry.digital_id, trust=NO_TRUST),
                error=error,
            )
        )
    return Discovery(tuple(devices), tuple(errors))


def parse_info(body: bytes, *, device: str, trust: Trust = NO_TRUST) -> Info:
    """Read a MOSIPDINFO answer: the status and identity of each device.

    A registered device signs its info with its device key and its digital id with its
    chip's (L1) or device (L0) key. A device not registered sends both unsigned, which is
    read as such, anchors or not: its status says it cannot capture.
    """
    entries = _checked(device, _INFO, json_of(device, body, "device info"), "device info")
    answers, errors = [], []
    for entry in entries:
        error = entry.error or SUCCESS
        if not entry.device_info:
            errors.append(_saying_why(device, error, "device info"))  # MockMDS: 106
            continue
        unsigned = not is_signed(entry.device_info)
        payload = decode_jws(entry.device_info, device=device, trust=trust, unsigned_ok=unsigned)
        info = _checked(device, _DEVICE_INFO, payload, "device info")
        if unsigned and info.device_status != NOT_REGISTERED and trust.verifies:
            raise DeviceFault(
                device, "untrusted", f"unsigned info from a device that says {info.device_status}"
            )
        answers.append(
            InfoAnswer(
                info=info,
                digital_id=_digital_id(device, info.digital_id, trust=trust, unsigned_ok=unsigned),
                error=error,
            )
        )
    return Info(tuple(answers), tuple(errors))


def parse_capture(body: bytes, *, device: str, trust: Trust = NO_TRUST) -> list[CapturedEntry]:
    """Read a CAPTURE/RCAPTURE answer; entries with an error carry no data."""
    response = _checked(device, _CAPTURE, json_of(device, body, "capture"), "capture answer")
    entries = []
    for entry in response.biometrics:
        if not entry.error.ok:
            entries.append(
                CapturedEntry(None, b"", entry.chain_hash, None, entry.thumbprint, entry.error)
            )
            continue
        payload = decode_jws(entry.data, device=device, trust=trust)
        data = _checked(device, _CAPTURE_DATA, payload, "capture data")
        if data.digital_id:  # signed too: by the chip key of an L1 device
            _digital_id(device, data.digital_id, trust=trust)
        session_key = b64url(entry.session_key, device=device) if entry.session_key else None
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


def _saying_why(device: str, error: SbiError, what: str) -> SbiError:
    # An entry without a device must at least say why: one that says nothing is garbage.
    if error.ok:
        raise DeviceFault(device, "garbage", f"{what} entry with neither device nor error")
    return error


def choose_spec_version(offered: Sequence[str], preferred: str) -> str | None:
    """The version to speak: `preferred` if the device offers it, else the first of ours
    it offers; None when it offers none of them."""
    if preferred in offered:
        return preferred
    return next((version for version in SPEC_VERSIONS if version in offered), None)


def _digital_id(device: str, token: str, *, trust: Trust, unsigned_ok: bool = False) -> DigitalId:
    payload = decode_jws(token, device=device, trust=trust, unsigned_ok=unsigned_ok)
    return _checked(device, _DIGITAL_ID, payload, "digital id")


_DISCOVERY: Final = TypeAdapter(list[_DiscoveryEntry])
_INFO: Final = TypeAdapter(list[_InfoEntry])
_DEVICE_INFO: Final = TypeAdapter(DeviceInfo)
_DIGITAL_ID: Final = TypeAdapter(DigitalId)
_CAPTURE: Final = TypeAdapter(_CaptureResponse)
_CAPTURE_DATA: Final = TypeAdapter(CaptureData)


def _checked(device: str, adapter: TypeAdapter[_M], document: object, what: str) -> _M:
    try:
        return adapter.validate_python(document)
    except (ValidationError, RecursionError) as exc:
        raise DeviceFault(device, "garbage", f"{what} has the wrong shape") from exc


# --------------------------------------------------------------------------- requests


def discovery_request(bio_type: BioType) -> dict[str, Any]:
    """The body of MOSIPDISC /device: the type of device wanted."""
    return {"type": bio_type.value}


@dataclass(frozen=True, slots=True)
class CaptureAsk:
    """What one capture asks of the device, whatever the purpose."""

    bio_type: BioType
    device_id: str
    device_sub_id: str
    bio_sub_types: tuple[str, ...]
    exceptions: tuple[str, ...]
    requested_score: int
    previous_hash: str


def capture_request(
    ask: CaptureAsk,
    *,
    purpose: Purpose,
    env: Environment,
    spec_version: str,
    timeout_ms: int,
    capture_time: str,
    transaction_id: str,
    domain_uri: str | None = None,
) -> dict[str, Any]:
    """The body of an RCAPTURE (Registration) or CAPTURE (Auth) request.

    Numbers travel as strings (MockMDS refuses a number where the specification shows a
    string). `count` is the number of biometrics asked, `1` for a face. A Registration
    request carries `exception` (the fingers or eyes declared missing; for a face, those
    an exception photo stands for); an Auth request has no `exception` and carries
    `domainUri`, as the toolkit's AuthCaptureRequestSchema defines it.
    """
    bio: dict[str, Any] = {
        "type": ask.bio_type.value,
        "count": str(len(ask.bio_sub_types) or 1),
        "bioSubType": list(ask.bio_sub_types),
    }
    if purpose == "Registration":
        bio["exception"] = list(ask.exceptions)
    bio |= {
        "requestedScore": str(ask.requested_score),
        "deviceId": ask.device_id,
        "deviceSubId": ask.device_sub_id,
        "previousHash": ask.previous_hash,
    }
    request: dict[str, Any] = {
        "env": env,
        "purpose": purpose,
        "specVersion": spec_version,
        "timeout": str(timeout_ms),
        "captureTime": capture_time,
    }
    if purpose == "Auth":
        request["domainUri"] = domain_uri
    request |= {"transactionId": transaction_id, "bio": [bio], "customOpts": None}
    return request
