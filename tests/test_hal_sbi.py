"""The SBI biometric drivers against the SBI simulator, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from appliance.hal import (
    BiometricCapture,
    CaptureNotAccepted,
    CaptureResult,
    SbiDevice,
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
from appliance.hal._errors import DeviceBusy, DeviceError, DeviceFault, DeviceGone, DeviceTimeout
from appliance.hal._sbi_protocol import BioType, Eye, Finger, Slap
from appliance.hal._status import DeviceIdentity, DeviceState
from sim._base import Fault, Timing
from sim.sbi import SbiKind, SbiSimulator

PNG = b"\x89PNG\r\n\x1a\n"

# Short deadlines so that every failure shows within a second.
FAST: dict[str, Any] = {
    "capture_timeout_s": 0.2,
    "reply_margin_s": 0.3,
    "retries": 1,
    "probe_timeout_s": 0.3,
    "connect_timeout_s": 2.0,
    "discovery_probe_timeout_s": 0.3,
}


@dataclass(frozen=True)
class Kind:
    cls: type[SbiDevice]
    config: type[SbiFaceCameraConfig | SbiFingerprintScannerConfig]  # any SBI config class
    capture: Callable[[Any], Coroutine[Any, Any, CaptureResult]]


KINDS: dict[SbiKind, Kind] = {
    SbiKind.FACE: Kind(SbiFaceCamera, SbiFaceCameraConfig, lambda d: d.capture_face()),
    SbiKind.FINGER_SLAP: Kind(
        SbiFingerprintScanner,
        SbiFingerprintScannerConfig,
        lambda d: d.capture_slap(Slap.RIGHT_FOUR),
    ),
    SbiKind.FINGER_SINGLE: Kind(
        SbiSingleFingerScanner,
        SbiSingleFingerScannerConfig,  # type: ignore[arg-type]
        lambda d: d.capture_finger(Finger.RIGHT_INDEX),
    ),
    SbiKind.IRIS: Kind(SbiIrisScanner, SbiIrisScannerConfig, lambda d: d.capture_irises()),  # type: ignore[arg-type]
}

SimFactory = Callable[..., Awaitable[SbiSimulator]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    started: list[SbiSimulator] = []

    async def start(kind: SbiKind, **options: Any) -> SbiSimulator:
        options.setdefault("timing", Timing(scale=0))
        # A fresh seed per simulator: serials stay unique even when other test runs
        # share the machine's SBI port range.
        sim = SbiSimulator(name=f"sim-{kind}", kind=kind, seed=uuid.uuid4().int, **options)
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


def driver_for(sim: SbiSimulator, **overrides: Any) -> Any:
    kind = KINDS[sim.kind]
    config = kind.config.model_validate({**sim.config_overlay(), **FAST, **overrides})
    return kind.cls(name=f"dev-{sim.kind}", config=config)


async def connected(sim: SbiSimulator, **overrides: Any) -> Any:
    device = driver_for(sim, **overrides)
    await device.connect()
    return device


# --------------------------------------------------------------------------- discovery, identity


async def test_discovery_scans_the_port_range_and_takes_the_configured_device(
    make_sim: SimFactory,
) -> None:
    await make_sim(SbiKind.FINGER_SLAP)  # another device type on another port: not ours
    face_sim = await make_sim(SbiKind.FACE)
    # A probe of the whole range on a loaded 2-core machine (a garbage collection of a
    # long test session's heap, a daemon starting beside it) can outlast FAST's 0.3 s:
    # how long the scan takes is benchmarks/hal.py's to measure, not this test's.
    options = {**FAST, "discovery_probe_timeout_s": 2.0}
    config = SbiFaceCameraConfig(serial=face_sim.serial, **options)  # no port: scan 4501-4600
    camera = SbiFaceCamera(name="camera", config=config)

    await camera.connect()

    assert camera.port == face_sim.port
    assert camera.status.state is DeviceState.READY
    assert camera.identity is not None
    assert camera.identity.serial == face_sim.serial
    assert (camera.identity.make, camera.identity.firmware) == ("KTPel Sim", "sim-1.4.2")


async def test_discovery_without_a_matching_device_reports_not_found(make_sim: SimFactory) -> None:
    face_sim = await make_sim(SbiKind.FACE)
    assert face_sim.port is not None
    config = SbiIrisScannerConfig(port_range=(face_sim.port, face_sim.port), **FAST)
    iris = SbiIrisScanner(name="iris", config=config)

    with pytest.raises(DeviceGone) as caught:
        await iris.connect()

    assert caught.value.code == "not_found"
    assert iris.status.state is DeviceState.DISCONNECTED
    assert iris.status.code == "not_found"


@pytest.mark.parametrize("kind", list(SbiKind))
async def test_capture_records_identity_quality_and_image(
    make_sim: SimFactory, kind: SbiKind
) -> None:
    sim = await make_sim(kind)
    device = await connected(sim)

    result = await KINDS[kind].capture(device)

    assert result.captures
    assert result.attempts == 1
    assert not result.below_threshold
    for capture in result.captures:
        assert capture.device == device.identity
        assert capture.quality >= device.config.quality_threshold
        assert len(capture.transaction_id) == 36
        assert len(capture.chain_hash) == 64
        assert "bio_value" not in repr(capture)
        assert "session_key" not in repr(capture)
    assert all(c.bio_value.startswith(PNG) for c in result.captures)
    assert device.status.state is DeviceState.READY
    assert sim.last_capture_request is not None
    assert sim.last_capture_request["purpose"] == device.config.purpose


async def test_an_auth_device_seals_its_capture_and_the_station_opens_it_as_its_domain(
    make_sim: SimFactory,
) -> None:
    sim = await make_sim(SbiKind.FINGER_SINGLE)  # an Auth device, as MOSIP certifies them
    device = await connected(sim)

    result = await device.capture_finger(Finger.RIGHT_INDEX)

    asked = sim.last_capture_request
    assert asked is not None
    assert asked["purpose"] == "Auth"
    assert "exception" not in asked["bio"][0]
    assert asked["domainUri"] == device.config.domain_uri
    (capture,) = result.captures
    assert capture.bio_value.startswith(PNG)  # opened with the station's domain key
    assert not capture.sealed
    assert capture.thumbprint is not None
    assert len(capture.thumbprint) == 64


async def test_an_auth_capture_sealed_for_another_domain_stays_sealed(
    make_sim: SimFactory,
) -> None:
    sim = await make_sim(SbiKind.FINGER_SINGLE)
    device = await connected(sim, domain_key=None)

    result = await device.capture_finger(Finger.RIGHT_INDEX)

    (capture,) = result.captures
    assert capture.sealed
    assert not capture.bio_value.startswith(PNG)


async def test_a_capture_sealed_for_another_domain_than_the_stations_is_refused_clearly(
    make_sim: SimFactory, tmp_path: Path
) -> None:
    sim = await make_sim(SbiKind.FINGER_SINGLE)
    other = tmp_path / "other-domain.pem"
    other.write_bytes(_other_domain_pem())
    device = await connected(sim, domain_key=str(other))

    with pytest.raises(DeviceFault) as caught:
        await device.capture_finger(Finger.RIGHT_INDEX)

    assert caught.value.code == "device_error"
    assert "sealed for certificate" in str(caught.value)


def _other_domain_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another domain")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem + certificate.public_bytes(serialization.Encoding.PEM)


async def test_captures_are_chained_by_previous_hash(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FACE)
    camera = await connected(sim)

    first = await camera.capture_face()
    await camera.capture_face()

    assert sim.last_capture_request is not None
    assert sim.last_capture_request["bio"][0]["previousHash"] == first.captures[0].chain_hash


# --------------------------------------------------------------------------- exceptions, retries


async def test_missing_fingers_are_declared_as_exceptions(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP)
    scanner = await connected(sim)

    result = await scanner.capture_slap(
        Slap.LEFT_FOUR, missing={Finger.LEFT_RING, Finger.RIGHT_THUMB}
    )

    asked = sim.last_capture_request["bio"][0]  # type: ignore[index]
    assert asked["deviceSubId"] == "1"
    assert asked["exception"] == ["Left RingFinger"]
    assert asked["bioSubType"] == ["Left IndexFinger", "Left MiddleFinger", "Left LittleFinger"]
    assert asked["count"] == "3"
    assert result.exceptions == ("Left RingFinger",)
    assert [c.bio_subtype for c in result.captures] == asked["bioSubType"]


async def test_a_slap_with_every_finger_missing_asks_nothing(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP)
    scanner = await connected(sim)

    result = await scanner.capture_slap(
        Slap.THUMBS, missing={Finger.LEFT_THUMB, Finger.RIGHT_THUMB}
    )

    assert result.captures == ()
    assert result.exceptions == ("Left Thumb", "Right Thumb")
    assert sim.captures_served == 0


async def test_ten_prints_capture_three_placements(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP)
    scanner = await connected(sim)

    prints = await scanner.capture_ten_prints(missing={Finger.LEFT_LITTLE})

    fingers = [c.bio_subtype for result in prints.values() for c in result.captures]
    assert len(fingers) == 9
    assert Finger.LEFT_LITTLE.value not in fingers
    assert sim.captures_served == 3


async def test_iris_with_one_eye_missing_asks_the_other_alone(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.IRIS)
    scanner = await connected(sim)

    result = await scanner.capture_irises(missing={Eye.LEFT})

    asked = sim.last_capture_request["bio"][0]  # type: ignore[index]
    # Sub id 3 with the missing eye an exception: MockMDS answers 1 or 2 with an
    # exception by 109, and the toolkit's schema allows none there.
    assert (asked["deviceSubId"], asked["count"], asked["bioSubType"], asked["exception"]) == (
        "3",
        "1",
        ["Right"],
        ["Left"],
    )
    assert [c.bio_subtype for c in result.captures] == ["Right"]


async def test_two_fingers_missing_on_a_slap_ask_the_two_present(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP)
    scanner = await connected(sim)

    result = await scanner.capture_slap(
        Slap.RIGHT_FOUR, missing={Finger.RIGHT_INDEX, Finger.RIGHT_LITTLE}
    )

    asked = sim.last_capture_request["bio"][0]  # type: ignore[index]
    # count + exceptions make the placement's four, as MockMDS requires (else 109).
    assert (asked["deviceSubId"], asked["count"]) == ("2", "2")
    assert asked["bioSubType"] == ["Right MiddleFinger", "Right RingFinger"]
    assert asked["exception"] == ["Right IndexFinger", "Right LittleFinger"]
    assert [c.bio_subtype for c in result.captures] == asked["bioSubType"]
    assert result.exceptions == ("Right IndexFinger", "Right LittleFinger")


@pytest.mark.parametrize("kind", [SbiKind.FACE, SbiKind.FINGER_SINGLE])
async def test_a_capture_timeout_is_retried_and_the_retry_succeeds(
    make_sim: SimFactory, kind: SbiKind
) -> None:
    sim = await make_sim(kind)
    device = await connected(sim, retries=2)
    # Nothing presented for one capture: MockMDS's 701 (801 for Auth) at its timeout.
    sim.inject(Fault.NO_FINGER, {"attempts": 1})

    result = await KINDS[kind].capture(device)

    assert result.attempts == 2
    assert result.captures
    assert device.status.state is DeviceState.READY
    assert Fault.NO_FINGER not in sim.faults


@pytest.mark.parametrize("kind", [SbiKind.FACE, SbiKind.FINGER_SINGLE])
async def test_a_capture_while_another_station_app_captures_is_busy(
    make_sim: SimFactory, kind: SbiKind
) -> None:
    # Another application on the same machine holds the device mid-capture: MockMDS
    # answers RCAPTURE with 703 ("try after sometime"), CAPTURE with 111 (device busy).
    sim = await make_sim(kind, timing=Timing(scale=1.0), capture_delay_s=30)
    other_app = await connected(sim, capture_timeout_s=5)
    ours = await connected(sim, capture_timeout_s=5)
    started = sim.capture_started
    first = asyncio.create_task(KINDS[kind].capture(other_app))
    async with asyncio.timeout(2):
        await started.wait()

    with pytest.raises(DeviceBusy) as caught:
        await KINDS[kind].capture(ours)

    assert ("703" if kind is SbiKind.FACE else "111") in str(caught.value)
    assert ours.status.state is DeviceState.BUSY
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_the_spec_version_is_one_the_device_offers(make_sim: SimFactory) -> None:
    newer = await make_sim(SbiKind.FACE, spec_versions=("1.0.0",))
    camera = await connected(newer)  # prefers 0.9.5, which this device does not speak

    await camera.capture_face()

    assert camera.spec_version == "1.0.0"
    assert newer.last_capture_request["specVersion"] == "1.0.0"  # type: ignore[index]


async def test_a_device_offering_no_version_of_ours_fails_clearly(make_sim: SimFactory) -> None:
    older = await make_sim(SbiKind.FACE, spec_versions=("0.9.2",))
    camera = driver_for(older)

    with pytest.raises(DeviceFault) as caught:
        await camera.connect()

    assert caught.value.code == "unsupported_version"
    assert "0.9.2" in str(caught.value)
    assert camera.status.reason is not None
    assert "SBI" in camera.status.reason.en


async def test_requests_go_to_the_callback_the_device_names(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FACE)
    discovery_answer = await _raw_answer(sim, "MOSIPDISC", "/device", b'{"type":"Face"}')

    async def front(writer: asyncio.StreamWriter) -> None:
        # A service that answers discovery only; its callbackId points at the device.
        writer.write(discovery_answer)
        await writer.drain()

    server = await _serve_raw(front)
    port = server.sockets[0].getsockname()[1]
    try:
        camera = SbiFaceCamera(
            name="camera",
            config=SbiFaceCameraConfig.model_validate(
                {**sim.config_overlay(), **FAST, "port": port}
            ),
        )
        await camera.connect()
        result = await camera.capture_face()
    finally:
        server.close()

    assert camera.port == port  # found there...
    assert result.captures  # ...and spoken to where its callbackId said
    assert [m for m, _, _ in sim.requests].count("MOSIPDINFO") >= 1


async def test_a_callback_that_leaves_the_machine_is_refused(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FACE)
    raw = await _raw_answer(sim, "MOSIPDISC", "/device", b'{"type":"Face"}')
    raw = raw.replace(f"http://127.0.0.1:{sim.port}/".encode(), b"http://10.0.0.9:4501/")

    async def front(writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    server = await _serve_raw(front)
    try:
        camera = SbiFaceCamera(
            name="camera",
            config=SbiFaceCameraConfig.model_validate(
                {**sim.config_overlay(), **FAST, "port": server.sockets[0].getsockname()[1]}
            ),
        )
        with pytest.raises(DeviceFault) as caught:
            await camera.connect()
    finally:
        server.close()

    assert caught.value.code == "garbage"
    assert "callbackId" in str(caught.value)


async def test_a_single_finger_scanner_is_found_as_the_auth_device_it_is(
    make_sim: SimFactory,
) -> None:
    sim = await make_sim(SbiKind.FINGER_SINGLE)
    overlay = {k: v for k, v in sim.config_overlay().items() if k != "purpose"}

    scanner = SbiSingleFingerScanner(
        name="scanner", config=SbiSingleFingerScannerConfig.model_validate({**overlay, **FAST})
    )
    await scanner.connect()  # the default purpose is Auth
    assert scanner.status.state is DeviceState.READY

    as_registration = {k: v for k, v in overlay.items() if not k.startswith("domain")}
    wrong = SbiSingleFingerScanner(
        name="scanner",
        config=SbiSingleFingerScannerConfig.model_validate(
            {**as_registration, **FAST, "purpose": "Registration"}
        ),
    )
    with pytest.raises(DeviceGone) as caught:
        await wrong.connect()
    assert "Registration" in str(caught.value)


async def _raw_answer(sim: SbiSimulator, method: str, path: str, body: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(f"{method} {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    raw = await reader.read()
    writer.close()
    return raw


async def test_retries_until_the_quality_threshold_is_met(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FACE)
    camera = await connected(sim, retries=3, quality_threshold=65, requested_score=80)
    sim.script_scores(40, 70)

    result = await camera.capture_face()

    assert result.attempts == 2
    assert result.captures[0].quality == 70
    assert sim.last_capture_request["bio"][0]["requestedScore"] == "80"  # type: ignore[index]


async def test_per_finger_best_is_kept_across_attempts(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP)
    scanner = await connected(sim, retries=2, quality_threshold=60)
    sim.script_scores(90, 30)  # first attempt: left thumb good, right thumb poor
    sim.script_scores(35, 80)  # second: left thumb poor, right thumb good

    result = await scanner.capture_slap(Slap.THUMBS)

    assert result.attempts == 2
    assert [(c.bio_subtype, c.quality) for c in result.captures] == [
        ("Left Thumb", 90),
        ("Right Thumb", 80),
    ]


async def test_retries_exhausted_keep_the_best_capture(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FACE)
    camera = await connected(sim, retries=2, quality_threshold=60)
    sim.script_scores(30, 55, 40)

    with pytest.raises(CaptureNotAccepted) as caught:
        await camera.capture_face()

    assert caught.value.code == "low_quality"
    assert caught.value.best.attempts == 3
    assert caught.value.best.captures[0].quality == 55
    assert camera.status.state is DeviceState.READY


async def test_the_best_capture_is_kept_when_the_budget_runs_out(make_sim: SimFactory) -> None:
    # Realistic timing: each attempt takes its capture delay plus, as the score stays
    # below the requested one, the device's whole timeout before it returns its best.
    sim = await make_sim(SbiKind.FACE, timing=Timing(scale=1.0), capture_delay_s=0.03)
    camera = await connected(
        sim, retries=10, capture_timeout_s=0.05, capture_budget_s=0.5, quality_threshold=60
    )
    sim.script_scores(30, 55, *[20] * 20)

    started = time.monotonic()
    with pytest.raises(CaptureNotAccepted) as caught:
        await camera.capture_face()

    assert time.monotonic() - started < 0.5 + 0.3
    assert 2 <= caught.value.best.attempts < 11
    assert caught.value.best.captures[0].quality == 55


# --------------------------------------------------------------------------- chip fingers


def _fingers(**quality: float) -> list[Any]:
    identity = DeviceIdentity("m", "m", "s", "f")
    return [
        BiometricCapture(
            bio_type=BioType.FINGER,
            bio_subtype=Finger[name].value,
            quality=score,
            requested_score=60,
            bio_value=b"",
            device=identity,
            transaction_id="t",
            timestamp="",
            chain_hash="",
        )
        for name, score in quality.items()
    ]


PREFERENCE = (Finger.RIGHT_THUMB, Finger.RIGHT_INDEX, Finger.LEFT_THUMB, Finger.LEFT_INDEX)


def test_chip_fingers_are_the_two_best_preferred_fingers() -> None:
    captures = _fingers(
        RIGHT_THUMB=70, RIGHT_INDEX=88, LEFT_THUMB=91, LEFT_INDEX=60, RIGHT_MIDDLE=99
    )

    assert choose_chip_fingers(captures, preference=PREFERENCE) == (
        Finger.LEFT_THUMB,
        Finger.RIGHT_INDEX,
    )


def test_chip_finger_ties_go_to_the_earlier_preference() -> None:
    captures = _fingers(LEFT_INDEX=80, RIGHT_INDEX=80, LEFT_THUMB=80)

    assert choose_chip_fingers(captures, preference=PREFERENCE) == (
        Finger.RIGHT_INDEX,
        Finger.LEFT_THUMB,
    )


def test_chip_fingers_fall_back_to_other_fingers_when_preferred_ones_are_missing() -> None:
    captures = _fingers(RIGHT_THUMB=75, LEFT_RING=50, RIGHT_MIDDLE=65)

    assert choose_chip_fingers(captures, preference=PREFERENCE) == (
        Finger.RIGHT_THUMB,
        Finger.RIGHT_MIDDLE,
    )


async def test_scanner_uses_its_configured_chip_preference(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP)
    scanner = await connected(sim, chip_fingers=[Finger.LEFT_LITTLE, Finger.LEFT_RING])
    sim.script_scores(70, 80, 90, 85)

    result = await scanner.capture_slap(Slap.LEFT_FOUR)

    assert scanner.chip_fingers(result.captures) == (Finger.LEFT_RING, Finger.LEFT_LITTLE)


# --------------------------------------------------------------------------- HAL rules


async def test_a_second_caller_is_refused_at_once(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FACE, timing=Timing(scale=1.0), capture_delay_s=30)
    camera = await connected(sim, capture_timeout_s=5)
    started = sim.capture_started
    first = asyncio.create_task(camera.capture_face())
    async with asyncio.timeout(2):
        await started.wait()

    with pytest.raises(DeviceBusy):
        await camera.capture_face()

    # The pipeline giving up (cancelling) leaves the device usable.
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert camera.status.state is DeviceState.READY


async def test_unplug_in_the_middle_of_a_capture(make_sim: SimFactory) -> None:
    sim = await make_sim(SbiKind.FINGER_SLAP, timing=Timing(scale=1.0), capture_delay_s=30)
    scanner = await connected(sim, capture_timeout_s=5)
    capture = asyncio.create_task(scanner.capture_slap(Slap.LEFT_FOUR))
    started = sim.capture_started
    async with asyncio.timeout(2):
        await started.wait()

    await sim.unplug()
    async with asyncio.timeout(1):
        with pytest.raises(DeviceGone):
            await capture

    assert scanner.status.state is DeviceState.DISCONNECTED
    await sim.replug()
    await scanner.connect()
    assert scanner.status.usable


def test_config_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SbiFaceCameraConfig(host="192.168.1.20")


# --------------------------------------------------------------------------- hostile services


async def _serve_raw(answer: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        with contextlib.suppress(ConnectionError):
            await answer(writer)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b"[" * 2000, "garbage"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "garbage"),
        (b"\x00\x01 this is not HTTP \xff\r\n\r\n", "garbage"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", "device_error"),
    ],
    ids=["oversized", "endless-chunks", "not-http", "http-500"],
)
async def test_hostile_answers_end_as_typed_faults(answer: bytes, code: str) -> None:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        if b"chunked" in answer:
            chunk = b"[" * 65536
            for _ in range(200):  # 13 MB of "[" and counting: more than the cap
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        await writer.drain()

    server = await _serve_raw(reply)
    port = server.sockets[0].getsockname()[1]
    config = SbiFaceCameraConfig(port=port, max_response_bytes=64 * 1024, **FAST)
    camera = SbiFaceCamera(name="camera", config=config)
    try:
        with pytest.raises(DeviceError) as caught:
            await camera.connect()
    finally:
        server.close()

    assert caught.value.code == code
    assert camera.status.code == code


async def test_a_service_that_accepts_and_never_answers_times_out() -> None:
    silent = asyncio.Event()

    async def reply(_writer: asyncio.StreamWriter) -> None:
        await silent.wait()

    server = await _serve_raw(reply)
    port = server.sockets[0].getsockname()[1]
    camera = SbiFaceCamera(name="camera", config=SbiFaceCameraConfig(port=port, **FAST))
    started = time.monotonic()
    try:
        with pytest.raises(DeviceTimeout):
            await camera.connect()
    finally:
        silent.set()
        server.close()

    assert time.monotonic() - started < FAST["discovery_probe_timeout_s"] + 0.5
    assert camera.status.code == "not_responding"


# --------------------------------------------------------------------------- the fault matrix


@dataclass(frozen=True)
class Expected:
    error: type[DeviceError]
    code: str
    state: DeviceState


MATRIX: dict[Fault, Expected] = {
    Fault.UNPLUG: Expected(DeviceGone, "disconnected", DeviceState.DISCONNECTED),
    Fault.HANG: Expected(DeviceTimeout, "not_responding", DeviceState.ERROR),
    Fault.GARBAGE: Expected(DeviceFault, "garbage", DeviceState.ERROR),
    Fault.SLOW: Expected(DeviceTimeout, "not_responding", DeviceState.ERROR),
    # The applicant's outcomes: the device itself stays READY.
    Fault.LOW_QUALITY: Expected(CaptureNotAccepted, "low_quality", DeviceState.READY),
    Fault.NO_FINGER: Expected(CaptureNotAccepted, "no_capture", DeviceState.READY),
    Fault.BUSY: Expected(DeviceBusy, "device_busy", DeviceState.BUSY),
}


@pytest.mark.parametrize("fault", list(MATRIX))
@pytest.mark.parametrize("kind", list(SbiKind))
async def test_fault_matrix(make_sim: SimFactory, kind: SbiKind, fault: Fault) -> None:
    sim = await make_sim(kind)
    device = await connected(sim)
    expected = MATRIX[fault]
    if fault is Fault.UNPLUG:
        await sim.unplug()
    else:
        sim.faults.inject(fault, {"delay_s": 2.0} if fault is Fault.SLOW else None)
    deadline = device.config.budget_s + device.config.reply_margin_s

    started = time.monotonic()
    with pytest.raises(expected.error) as caught:
        await KINDS[kind].capture(device)
    elapsed = time.monotonic() - started

    # Bounded, with room for a loaded machine to unwind: not a speed measurement.
    assert elapsed <= deadline + 1.0
    assert caught.value.code == expected.code
    assert device.status.state is expected.state
    if expected.state is not DeviceState.READY:
        assert device.status.code == expected.code
        assert device.status.reason is not None

    if fault is Fault.UNPLUG:
        await sim.replug()
        await device.connect()
    else:
        sim.faults.clear(fault)
        await device.check()
    assert device.status.state is DeviceState.READY
    assert (await KINDS[kind].capture(device)).captures


@pytest.mark.parametrize(
    ("fault", "state", "code"),
    [
        (Fault.HANG, DeviceState.ERROR, "not_responding"),
        (Fault.GARBAGE, DeviceState.ERROR, "garbage"),
        (Fault.BUSY, DeviceState.BUSY, "device_busy"),
        (Fault.UNPLUG, DeviceState.DISCONNECTED, "disconnected"),
    ],
)
async def test_status_check_reports_the_fault(
    make_sim: SimFactory, fault: Fault, state: DeviceState, code: str
) -> None:
    sim = await make_sim(SbiKind.FACE)
    camera = await connected(sim)
    if fault is Fault.UNPLUG:
        await sim.unplug()
    else:
        sim.faults.inject(fault)

    started = time.monotonic()
    status = await camera.check()

    assert time.monotonic() - started <= camera.probe_timeout_s + 0.2
    assert (status.state, status.code) == (state, code)
    if fault is Fault.UNPLUG:
        await sim.replug()
    else:
        sim.faults.clear(fault)
    assert (await camera.check()).state is DeviceState.READY
