"""Every request the SBI driver sends validates against MOSIP's compliance-toolkit schemas
(mosip-compliance-toolkit resources/schemas/sbi/0.9.5, copied in tests/vectors/sbi/schemas).

The requests are taken off the wire: the real drivers talk to the simulator, which keeps
every request it reads, and each is validated against the schema of its method. The
simulator's answers are checked against the toolkit's answer schemas the way the toolkit
does it: with the JWS and base64url parts decoded beside them (`...Decoded`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from jsonschema.exceptions import ValidationError

from appliance.hal import (
    Eye,
    Finger,
    SbiFaceCamera,
    SbiFaceCameraConfig,
    SbiFingerprintScanner,
    SbiFingerprintScannerConfig,
    SbiIrisScanner,
    SbiIrisScannerConfig,
    SbiSingleFingerScanner,
    SbiSingleFingerScannerConfig,
    Slap,
)
from sim._base import Timing
from sim.sbi import SbiKind, SbiSimulator

SCHEMAS = Path(__file__).parent / "vectors" / "sbi" / "schemas"


def validator(name: str) -> Draft201909Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    # With the format checker, "date-time" is checked (rfc3339-validator), not skipped.
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


REQUEST_SCHEMAS = {
    "MOSIPDISC": validator("DiscoverRequestSchema"),
    "MOSIPDINFO": validator("DeviceInfoRequestSchema"),
    "RCAPTURE": validator("RegistrationCaptureRequestSchema"),
    "CAPTURE": validator("AuthCaptureRequestSchema"),
}

Session = Callable[[SbiSimulator, Any], Awaitable[None]]


async def _face(_sim: SbiSimulator, camera: SbiFaceCamera) -> None:
    await camera.capture_face()
    # An exception photo: a face with the missing fingers and eye it stands for.
    await camera.capture_face(exceptions={Finger.LEFT_THUMB, Eye.RIGHT})


async def _slap(_sim: SbiSimulator, scanner: SbiFingerprintScanner) -> None:
    await scanner.capture_ten_prints()
    await scanner.capture_ten_prints(
        missing={Finger.LEFT_RING, Finger.LEFT_LITTLE, Finger.RIGHT_THUMB}
    )
    await scanner.capture_slap(Slap.RIGHT_FOUR, missing={Finger.RIGHT_INDEX, Finger.RIGHT_RING})


async def _iris(_sim: SbiSimulator, scanner: SbiIrisScanner) -> None:
    await scanner.capture_irises()
    await scanner.capture_irises(missing={Eye.LEFT})
    await scanner.capture_irises(missing={Eye.RIGHT})


async def _single(_sim: SbiSimulator, scanner: SbiSingleFingerScanner) -> None:
    for finger in (Finger.RIGHT_INDEX, Finger.LEFT_THUMB):
        await scanner.capture_finger(finger)


SESSIONS: list[tuple[str, SbiKind, str | None, type[Any], type[Any], Session]] = [
    ("face", SbiKind.FACE, None, SbiFaceCamera, SbiFaceCameraConfig, _face),
    ("slap", SbiKind.FINGER_SLAP, None, SbiFingerprintScanner, SbiFingerprintScannerConfig, _slap),
    ("iris", SbiKind.IRIS, None, SbiIrisScanner, SbiIrisScannerConfig, _iris),
    (
        "single-auth",
        SbiKind.FINGER_SINGLE,
        None,
        SbiSingleFingerScanner,
        SbiSingleFingerScannerConfig,
        _single,
    ),
    (
        "single-registration",
        SbiKind.FINGER_SINGLE,
        "Registration",
        SbiSingleFingerScanner,
        SbiSingleFingerScannerConfig,
        _single,
    ),
]


@pytest.fixture
async def on_the_wire() -> AsyncIterator[Callable[..., Awaitable[SbiSimulator]]]:
    """Run a driver's session against the simulator; the simulator keeps the requests."""
    started: list[SbiSimulator] = []

    async def run(
        kind: SbiKind, purpose: str | None, cls: Any, config: Any, session: Session
    ) -> SbiSimulator:
        sim = SbiSimulator(
            name=f"schema-{kind}",
            kind=kind,
            seed=uuid.uuid4().int,
            timing=Timing(scale=0),
            purpose=purpose,
        )
        await sim.start()
        started.append(sim)
        overlay = {**sim.config_overlay(), "capture_timeout_s": 0.5, "retries": 0}
        if purpose == "Registration":
            overlay = {k: v for k, v in overlay.items() if not k.startswith("domain")}
        device = cls(name=f"schema-{kind}", config=config.model_validate(overlay))
        await device.connect()
        await device.check()
        await session(sim, device)
        await device.disconnect()
        return sim

    yield run
    for sim in started:
        await sim.stop()


@pytest.mark.parametrize("session", SESSIONS, ids=[s[0] for s in SESSIONS])
async def test_every_request_validates_against_the_toolkit_schemas(
    on_the_wire: Callable[..., Awaitable[SbiSimulator]],
    session: tuple[str, SbiKind, str | None, type[Any], type[Any], Session],
) -> None:
    _, kind, purpose, cls, config, run = session
    sim = await on_the_wire(kind, purpose, cls, config, run)

    methods = {method for method, _, _ in sim.requests}
    capture = "CAPTURE" if (purpose or sim.profile.purpose) == "Auth" else "RCAPTURE"
    assert methods == {"MOSIPDISC", "MOSIPDINFO", capture}
    for method, _target, body in sim.requests:
        # Device info has no request body ("NA" in the specification): the empty object.
        document = json.loads(body) if body else {}
        errors = [e.message for e in REQUEST_SCHEMAS[method].iter_errors(document)]
        assert errors == [], f"{method} {document}"


def test_the_schemas_do_refuse_what_mockmds_refuses() -> None:
    """The check can fail: the requests the driver used to send do not validate."""
    base = {
        "env": "Production",
        "specVersion": "0.9.5",
        "timeout": "10000",
        "captureTime": "2025-01-02T03:04:05Z",
        "transactionId": str(uuid.uuid4()),
        "customOpts": None,
    }
    bio = {"requestedScore": "60", "deviceId": "1", "previousHash": ""}
    one_eye_as_sub_id_2 = base | {
        "purpose": "Registration",
        "bio": [
            bio
            | {
                "type": "Iris",
                "count": "1",
                "bioSubType": ["Right"],
                "exception": ["Left"],
                "deviceSubId": "2",
            }
        ],
    }
    auth_with_exception = base | {
        "purpose": "Auth",
        "domainUri": None,
        "bio": [
            bio
            | {
                "type": "Finger",
                "count": "1",
                "bioSubType": ["Right IndexFinger"],
                "exception": [],
                "deviceSubId": "0",
            }
        ],
    }
    bad_time = base | {
        "purpose": "Registration",
        "captureTime": "yesterday",
        "bio": [
            bio
            | {"type": "Face", "count": "1", "bioSubType": [], "exception": [], "deviceSubId": "0"}
        ],
    }
    for schema, request in (
        ("RCAPTURE", one_eye_as_sub_id_2),
        ("CAPTURE", auth_with_exception),
        ("RCAPTURE", bad_time),
    ):
        with pytest.raises(ValidationError):
            REQUEST_SCHEMAS[schema].validate(request)


# --------------------------------------------------------------------------- the simulator's answers


def _b64json(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _payload(token: str) -> Any:
    return _b64json(token.split(".")[1]) if "." in token else _b64json(token)


def _decoded_capture(document: dict[str, Any]) -> dict[str, Any]:
    for entry in document["biometrics"]:
        data = _payload(entry["data"])
        data["digitalIdDecoded"] = _payload(data["digitalId"])
        entry["dataDecoded"] = data
    return document


async def test_the_simulators_answers_validate_against_the_toolkit_schemas() -> None:
    checked = 0
    for kind in SbiKind:
        sim = SbiSimulator(name=f"answers-{kind}", kind=kind, seed=7, timing=Timing(scale=0))
        await sim.start()
        try:
            overlay = {**sim.config_overlay(), "capture_timeout_s": 0.5, "retries": 0}
            cls, config, session = next((s[3], s[4], s[5]) for s in SESSIONS if s[1] is kind)
            device = cls(name="answers", config=config.model_validate(overlay))
            await device.connect()
            discovery = json.loads(
                await _raw(sim, "MOSIPDISC", "/device", {"type": "Biometric Device"})
            )
            info = json.loads(await _raw(sim, "MOSIPDINFO", "/info", None))
            await session(sim, device)
            capture = json.loads(
                await _raw(sim, _method(sim), "/capture", sim.last_capture_request)
            )
        finally:
            await sim.stop()
        for entry in discovery:
            entry["digitalIdDecoded"] = _b64json(entry["digitalId"])
        for entry in info:
            decoded = _payload(entry["deviceInfo"])
            decoded["digitalIdDecoded"] = _payload(decoded["digitalId"])
            entry["deviceInfoDecoded"] = decoded
        capture_schema = (
            "AuthCaptureResponseSchema"
            if _method(sim) == "CAPTURE"
            else "RegistrationCaptureResponseSchema"
        )
        for schema, document in (
            ("DiscoverResponseSchema", discovery),
            ("DeviceInfoResponseSchema", info),
            (capture_schema, _decoded_capture(capture)),
        ):
            errors = [e.message for e in validator(schema).iter_errors(document)]
            assert errors == [], f"{kind} {schema}"
            checked += 1
    assert checked == 3 * len(SbiKind)


def _method(sim: SbiSimulator) -> str:
    return "CAPTURE" if sim.profile.purpose == "Auth" else "RCAPTURE"


async def _raw(sim: SbiSimulator, method: str, path: str, body: Any) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if payload:
        head += f"Content-Length: {len(payload)}\r\n"
    writer.write(head.encode() + b"\r\n" + payload)
    raw = await reader.read()
    writer.close()
    header, _, rest = raw.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in header.split(b"\r\n")
        if line.startswith(b"Content-Length")
    )
    return rest[:length]
