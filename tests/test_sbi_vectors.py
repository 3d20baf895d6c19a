"""The SBI driver and the simulator against MOSIP's own reference material (tests/vectors/sbi).

The answers in tests/vectors/sbi/answers are MockMDS's, derived from its files and source
by tests/vectors/sbi/derive.py (its README says how each one was made); the real-device
answers are recordings MockMDS ships. The driver must read them all as the reference means
them; the simulator must answer each request the way MockMDS does: the same HTTP framing,
the same fields in the same order, the same error codes and messages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.hal import (
    DeviceBusy,
    DeviceFault,
    DeviceGone,
    DeviceState,
    Eye,
    Finger,
    SbiDevice,
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
from appliance.hal._sbi_protocol import parse_discovery, parse_info
from sim._base import Fault, Timing
from sim.sbi import SbiKind, SbiSimulator

VECTORS = Path(__file__).parent / "vectors" / "sbi"
MOCKMDS = VECTORS / "mockmds"
MANIFEST: list[dict[str, Any]] = json.loads((VECTORS / "answers" / "manifest.json").read_text())
BY_NAME = {vector["name"]: vector for vector in MANIFEST}
VECTOR_TIME = datetime(2022, 1, 15, 10, 0, tzinfo=UTC)
VECTOR_PORT = 4600
"""When the vectors were made: inside the validity of every MockMDS certificate."""


def answer(name: str) -> bytes:
    return (VECTORS / "answers" / f"{name}.http").read_bytes()


def iso_record(name: str) -> bytes:
    return (MOCKMDS / "profile" / f"{name}.iso").read_bytes()


# --------------------------------------------------------------------------- HTTP on the wire


@dataclass(frozen=True)
class Http:
    """An HTTP answer as bytes on the wire: status line, headers, body, what follows it."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    after: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Http:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, *lines = head.decode().split("\r\n")
        headers = [(name, value) for name, _, value in (line.partition(":") for line in lines)]
        length = next((int(v) for n, v in headers if n.lower() == "content-length"), len(rest))
        return cls(status, headers, rest[:length], rest[length:])

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class VectorService:
    """A device service that answers each method with the vectors given, in turn (the last
    one again once they run out), and keeps what it was asked."""

    answers: dict[str, list[bytes]]
    asked: list[tuple[str, bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        # Where the answers' callbackId points (derive.py): the driver follows it.
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", VECTOR_PORT, reuse_address=True
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method = head.split(b" ", 1)[0].decode()
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        body = await reader.readexactly(length)
        self.asked.append((method, body))
        queue = self.answers.get(method, [answer("unknown-method")])
        writer.write(queue.pop(0) if len(queue) > 1 else queue[0])
        await writer.drain()
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[VectorService]]]:
    started: list[VectorService] = []

    async def start(**answers: list[str]) -> VectorService:
        service = VectorService(
            {method: [answer(n) for n in names] for method, names in answers.items()}
        )
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        assert service.server is not None
        service.server.close()


def mockmds_trust(tmp_path: Path, *, ftm: bool = False) -> dict[str, Any]:
    """The driver's trust in MockMDS's roots (its device root, and its FTM root)."""
    anchors = [str(MOCKMDS / "keys" / "rootca.cer")]
    if ftm:
        anchors.append(str(MOCKMDS / "keys" / "rootcaftm.cer"))
    return {"trust_anchors": anchors}


def domain_key(tmp_path: Path) -> Path:
    """MockMDS's test certificate and its key (files/keys), the domain its Auth vector is
    sealed for, as the station keeps a domain key: one PEM file."""
    path = tmp_path / "domain.pem"
    keys = MOCKMDS / "keys"
    path.write_bytes(
        (keys / "PrivateKey.pem").read_bytes() + (keys / "MosipTestCert.pem").read_bytes()
    )
    return path


CONFIGS: dict[str, tuple[type[SbiDevice], type[Any]]] = {
    "face": (SbiFaceCamera, SbiFaceCameraConfig),
    "finger": (SbiFingerprintScanner, SbiFingerprintScannerConfig),
    "iris": (SbiIrisScanner, SbiIrisScannerConfig),
    "single": (SbiSingleFingerScanner, SbiSingleFingerScannerConfig),
}


def driver(kind: str, service: VectorService, **config: Any) -> Any:
    cls, model = CONFIGS[kind]
    settings = {
        "port": service.port,
        # As the vectors' requests ask: MockMDS scores every capture 44.
        "env": "Staging",
        "capture_timeout_s": 10,
        "requested_score": 60,
        "quality_threshold": 40,
        "retries": 1,
        **config,
    }
    return cls(
        name=f"vector-{kind}",
        config=model.model_validate(settings),
        trust_clock=lambda: VECTOR_TIME,
    )


@pytest.fixture
def transaction_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make the driver's next transaction ids the vector's (its answer is signed for it)."""

    def use(transaction_id: str) -> None:
        monkeypatch.setattr(
            "appliance.hal._sbi_device.uuid.uuid4", lambda: uuid.UUID(transaction_id)
        )

    return use


# --------------------------------------------------------------------------- the driver


@pytest.mark.parametrize(
    ("kind", "slug", "model", "serial"),
    [
        ("face", "face", "FACE01", "2345678901"),
        ("finger", "finger", "SLAP01", "1234567890"),
        ("iris", "iris", "IRIS01", "3456789012"),
    ],
)
async def test_registration_devices_are_found_and_trusted_through_mockmds_root(
    serve: Any, tmp_path: Path, kind: str, slug: str, model: str, serial: str
) -> None:
    service = await serve(MOSIPDISC=[f"discovery-{slug}"], MOSIPDINFO=[f"info-{slug}"])
    device = driver(kind, service, **mockmds_trust(tmp_path))

    await device.connect()

    assert device.status.state is DeviceState.READY
    assert (device.identity.make, device.identity.model, device.identity.serial) == (
        "MOSIP",
        model,
        serial,
    )
    assert device.spec_version == "0.9.5"
    assert json.loads(service.asked[0][1]) == {
        "type": BY_NAME[f"discovery-{slug}"]["request"]["type"]
    }


async def test_a_single_finger_scanner_is_an_auth_device_whose_chip_signed_id_is_trusted(
    serve: Any, tmp_path: Path
) -> None:
    service = await serve(MOSIPDISC=["discovery-auth-finger"], MOSIPDINFO=["info-auth-finger"])
    device = driver("single", service, **mockmds_trust(tmp_path, ftm=True))

    await device.connect()

    assert device.config.purpose == "Auth"  # the default: MockMDS offers it in Auth only
    assert device.status.state is DeviceState.READY
    assert device.identity.model == "SINGLE01"


async def test_without_the_ftm_root_an_auth_devices_chip_signature_is_refused(
    serve: Any, tmp_path: Path
) -> None:
    service = await serve(MOSIPDISC=["discovery-auth-finger"], MOSIPDINFO=["info-auth-finger"])
    device = driver("single", service, **mockmds_trust(tmp_path))

    with pytest.raises(DeviceFault) as caught:
        await device.connect()

    assert caught.value.code == "untrusted"


@pytest.mark.parametrize(
    ("status", "state", "code"),
    [
        ("busy", DeviceState.BUSY, "device_busy"),
        ("not-ready", DeviceState.ERROR, "device_error"),
        ("not-registered", DeviceState.NOT_READY, "not_registered"),
    ],
)
async def test_device_statuses_read_as_the_reference_means_them(
    serve: Any, tmp_path: Path, status: str, state: DeviceState, code: str
) -> None:
    service = await serve(
        MOSIPDISC=[f"discovery-finger-{status}"], MOSIPDINFO=[f"info-finger-{status}"]
    )
    device = driver("finger", service, **mockmds_trust(tmp_path))

    await device.connect()  # a not-registered device's info comes unsigned: read as such

    assert (device.status.state, device.status.code) == (state, code)
    assert device.identity.serial == "1234567890"


async def test_a_not_registered_device_cannot_capture_and_says_why(
    serve: Any, tmp_path: Path
) -> None:
    service = await serve(
        MOSIPDISC=["discovery-finger-not-registered"], MOSIPDINFO=["info-finger-not-registered"]
    )
    device = driver("finger", service, **mockmds_trust(tmp_path))
    await device.connect()

    with pytest.raises(DeviceFault) as caught:
        await device.capture_slap(Slap.LEFT_FOUR)

    assert caught.value.code == "not_registered"
    assert device.status.reason is not None
    assert "registered" in device.status.reason.en
    assert not [method for method, _ in service.asked if method == "RCAPTURE"]


@pytest.mark.parametrize(
    ("discovery", "said"), [("discovery-no-device", "503"), ("discovery-bad-type", "502")]
)
async def test_error_answers_to_discovery_read_as_no_device(
    serve: Any, discovery: str, said: str
) -> None:
    service = await serve(MOSIPDISC=[discovery])
    device = driver("face", service)

    with pytest.raises(DeviceGone) as caught:
        await device.connect()

    assert caught.value.code == "not_found"
    assert f"SBI error {said}" in str(caught.value)


async def test_an_error_answer_to_device_info_reads_as_gone(serve: Any) -> None:
    service = await serve(MOSIPDISC=["discovery-face"], MOSIPDINFO=["info-no-device"])
    device = driver("face", service)

    with pytest.raises(DeviceGone) as caught:
        await device.connect()

    assert caught.value.code == "not_found"
    assert device.status.state is DeviceState.DISCONNECTED


async def test_an_unknown_method_answer_405_is_a_refusal_not_garbage(serve: Any) -> None:
    service = await serve(MOSIPDISC=["unknown-method"])
    device = driver("face", service)

    with pytest.raises(DeviceFault) as caught:
        await device.connect()

    assert caught.value.code == "device_error"


@dataclass(frozen=True)
class CaptureCase:
    kind: str
    slug: str
    vector: str
    capture: Callable[[Any], Awaitable[Any]]
    records: tuple[tuple[str | None, str], ...]


CAPTURES = [
    CaptureCase("face", "face", "rcapture-face", lambda d: d.capture_face(), ((None, "Face"),)),
    CaptureCase(
        "finger",
        "finger",
        "rcapture-slap-two-missing",
        lambda d: d.capture_slap(Slap.LEFT_FOUR, missing={Finger.LEFT_INDEX, Finger.LEFT_RING}),
        (("Left MiddleFinger", "Left_Middle"), ("Left LittleFinger", "Left_Little")),
    ),
    CaptureCase(
        "iris",
        "iris",
        "rcapture-iris-one-eye",
        lambda d: d.capture_irises(missing={Eye.LEFT}),
        (("Right", "Right_Iris"),),
    ),
]


@pytest.mark.parametrize("case", CAPTURES, ids=[c.vector for c in CAPTURES])
async def test_captures_read_with_their_records_and_chain_as_the_reference_sends_them(
    serve: Any, tmp_path: Path, transaction_ids: Callable[[str], None], case: CaptureCase
) -> None:
    vector = BY_NAME[case.vector]
    transaction_ids(vector["request"]["transactionId"])
    service = await serve(
        MOSIPDISC=[f"discovery-{case.slug}"],
        MOSIPDINFO=[f"info-{case.slug}"],
        RCAPTURE=[case.vector],
    )
    device = driver(case.kind, service, **mockmds_trust(tmp_path))
    await device.connect()

    result = await case.capture(device)

    # What the driver asked is what the vector's request says (all but the clock).
    sent = json.loads(next(body for method, body in service.asked if method == "RCAPTURE"))
    expected = {**vector["request"], "captureTime": sent["captureTime"]}
    assert sent == expected
    # Each record is MockMDS's ISO record, chained as its hash says.
    assert [(c.bio_subtype, c.bio_value) for c in result.captures] == [
        (subtype, iso_record(name)) for subtype, name in case.records
    ]
    hashes = [e["hash"] for e in Http.parse(answer(case.vector)).json["biometrics"]]
    assert [c.chain_hash for c in result.captures] == hashes
    assert device.status.state is DeviceState.READY


async def test_an_auth_capture_sealed_for_the_domain_opens_with_its_key(
    serve: Any, tmp_path: Path, transaction_ids: Callable[[str], None]
) -> None:
    vector = BY_NAME["capture-auth-finger"]
    transaction_ids(vector["request"]["transactionId"])
    service = await serve(
        MOSIPDISC=["discovery-auth-finger"],
        MOSIPDINFO=["info-auth-finger"],
        CAPTURE=["capture-auth-finger"],
    )
    device = driver(
        "single",
        service,
        **mockmds_trust(tmp_path, ftm=True),
        domain_key=str(domain_key(tmp_path)),
        domain_uri=vector["request"]["domainUri"],
    )
    await device.connect()

    result = await device.capture_finger(Finger.RIGHT_INDEX)

    sent = json.loads(next(body for method, body in service.asked if method == "CAPTURE"))
    assert sent == {**vector["request"], "captureTime": sent["captureTime"]}
    assert "exception" not in sent["bio"][0]
    (capture,) = result.captures
    assert capture.bio_value == iso_record("Right_Index")  # opened, and its hash chained
    assert not capture.sealed


@pytest.mark.parametrize(
    ("kind", "slug", "method", "timeout_vector", "success"),
    [
        ("face", "face", "RCAPTURE", "rcapture-timeout-701", "rcapture-face"),
        ("single", "auth-finger", "CAPTURE", "capture-timeout-801", "capture-auth-finger"),
    ],
)
async def test_a_capture_timeout_is_retried_and_the_retry_succeeds(
    serve: Any,
    tmp_path: Path,
    transaction_ids: Callable[[str], None],
    kind: str,
    slug: str,
    method: str,
    timeout_vector: str,
    success: str,
) -> None:
    transaction_ids(BY_NAME[success]["request"]["transactionId"])
    service = await serve(
        MOSIPDISC=[f"discovery-{slug}"],
        MOSIPDINFO=[f"info-{slug}"],
        **{method: [timeout_vector, success]},
    )
    extra = {"domain_key": str(domain_key(tmp_path))} if kind == "single" else {}
    device = driver(kind, service, **mockmds_trust(tmp_path, ftm=True), **extra)
    await device.connect()

    result = await (
        device.capture_face() if kind == "face" else device.capture_finger(Finger.RIGHT_INDEX)
    )

    assert result.attempts == 2  # 701/801 is the applicant's moment, not a device fault
    assert len(result.captures) == 1
    assert device.status.state is DeviceState.READY


@pytest.mark.parametrize(
    ("kind", "slug", "method", "busy"),
    [
        ("face", "face", "RCAPTURE", "rcapture-busy-703"),
        ("single", "auth-finger", "CAPTURE", "capture-busy-803"),
        ("single", "auth-finger", "CAPTURE", "capture-busy-111"),
    ],
)
async def test_a_capture_already_in_progress_is_busy(
    serve: Any, tmp_path: Path, kind: str, slug: str, method: str, busy: str
) -> None:
    service = await serve(
        MOSIPDISC=[f"discovery-{slug}"], MOSIPDINFO=[f"info-{slug}"], **{method: [busy]}
    )
    device = driver(kind, service, **mockmds_trust(tmp_path, ftm=True))
    await device.connect()

    with pytest.raises(DeviceBusy):
        await (
            device.capture_face() if kind == "face" else device.capture_finger(Finger.RIGHT_INDEX)
        )

    # MockMDS: "try after sometime". Busy, not broken; a single attempt, not a retry storm.
    assert (device.status.state, device.status.code) == (DeviceState.BUSY, "device_busy")
    assert sum(1 for m, _ in service.asked if m == method) == 1


async def test_the_old_one_eye_request_is_refused_by_the_reference_with_109(serve: Any) -> None:
    # What the driver used to send (sub id 2 with the left eye an exception): MockMDS's 109.
    service = await serve(
        MOSIPDISC=["discovery-iris"], MOSIPDINFO=["info-iris"], RCAPTURE=["rcapture-iris-109"]
    )
    device = driver("iris", service)
    await device.connect()

    with pytest.raises(DeviceFault) as caught:
        await device.capture_irises()

    assert caught.value.code == "device_error"
    assert "109" in str(caught.value)


async def test_a_broken_hash_chain_is_refused(
    serve: Any, tmp_path: Path, transaction_ids: Callable[[str], None]
) -> None:
    vector = BY_NAME["rcapture-slap-two-missing"]
    transaction_ids(vector["request"]["transactionId"])
    http = Http.parse(answer(vector["name"]))
    document = http.json
    first, second = document["biometrics"]
    second["hash"] = first["hash"]  # the second record no longer matches its hash
    body = json.dumps(document, separators=(",", ":"))
    tampered = (
        answer("rcapture-face").split(b"Content-Length:")[0]
        + (
            f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n\r\n" + body
        ).encode()
    )
    service = await serve(MOSIPDISC=["discovery-finger"], MOSIPDINFO=["info-finger"])
    service.answers["RCAPTURE"] = [tampered]
    device = driver("finger", service, **mockmds_trust(tmp_path))
    await device.connect()

    with pytest.raises(DeviceFault) as caught:
        await device.capture_slap(Slap.LEFT_FOUR, missing={Finger.LEFT_INDEX, Finger.LEFT_RING})

    assert caught.value.code == "untrusted"
    assert "hash chain" in str(caught.value)


def test_a_real_devices_discovery_answer_is_read() -> None:
    # MockMDS/files/MockMDS/discoverInfo.txt: a vendor's iris scanner, sub ids as integers.
    body = (MOCKMDS / "real-device" / "discoverInfo.txt").read_bytes()

    (device,) = parse_discovery(body, device="d", port=4501).devices

    assert (device.digital_id.device_type, device.digital_id.device_sub_type) == ("Iris", "Double")
    assert device.sub_ids == ("1", "2", "3")
    assert device.spec_versions == ("0.9.5",)
    assert device.callback_id == "http://127.0.0.1:4501/"


def test_a_real_pre_095_device_info_is_refused_not_misread() -> None:
    # MockMDS/files/MockMDS/deviceInfo.txt: an SBI 0.9.2 service, whose payload is
    # base64 inside base64 and whose digital id says "subType": not 0.9.5.
    body = (MOCKMDS / "real-device" / "deviceInfo.txt").read_bytes()

    with pytest.raises(DeviceFault) as caught:
        parse_info(body, device="d")

    assert caught.value.code == "garbage"


def test_the_vectors_parse_the_reference_error_entries() -> None:
    errors = parse_info(Http.parse(answer("info-no-device")).body, device="d").errors
    assert [(e.error_code, e.error_info) for e in errors] == [("106", "Device not found")]
    errors = parse_discovery(
        Http.parse(answer("discovery-no-device")).body, device="d", port=1
    ).errors
    assert [e.error_code for e in errors] == ["503"]


@pytest.mark.parametrize("body", [b'[{"deviceStatus": 42}]', b'[{"error": {"errorCode": "0"}}]'])
def test_an_entry_with_neither_device_nor_error_is_garbage(body: bytes) -> None:
    for parse in (parse_info, lambda b, device: parse_discovery(b, device=device, port=1)):
        with pytest.raises(DeviceFault) as caught:
            parse(body, device="d")
        assert caught.value.code == "garbage"


# --------------------------------------------------------------------------- the simulator

_KINDS = {
    ("Registration", "Face"): SbiKind.FACE,
    ("Registration", "Finger"): SbiKind.FINGER_SLAP,
    ("Registration", "Iris"): SbiKind.IRIS,
    ("Auth", "Finger"): SbiKind.FINGER_SINGLE,
}
SIMULATED = [v for v in MANIFEST if v["service"]["condition"] not in ("race", "broken")]
"""What the simulator can be brought to answer: not MockMDS's race between two captures'
checks (803), nor a device whose files it could not read (106)."""

_SAME_VALUES = frozenset(
    {
        "errorCode",
        "errorInfo",
        "deviceStatus",
        "purpose",
        "specVersion",
        "deviceSubId",
        "deviceId",
        "bioType",
        "bioSubType",
        "transactionId",
        "requestedScore",
        "serviceVersion",
        "alg",
        "typ",
        "type",
        "deviceSubType",
        "deviceServiceVersion",
    }
)
"""Fields whose values the simulator shares with MockMDS; the others are the device's own
(serials, keys, records, scores, times) or documented deviations (certification, env,
domainUri)."""


async def _ask(sim: SbiSimulator, method: str, path: str, body: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\nEXT: test\r\n"
    if body:
        head += f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    return raw


def _decoded(text: str) -> Any:
    """What a JWS or a base64url JSON text holds, or None if it holds neither."""
    parts = text.split(".")
    try:
        decoded = [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in parts]
        if len(parts) == 3:
            return {"jws": json.loads(decoded[0]), "payload": json.loads(decoded[1])}
        if len(parts) == 1 and text:
            value = json.loads(decoded[0])
            return value if isinstance(value, dict) else None
    except (ValueError, binascii.Error):
        return None
    return None


def _same_shape(ours: Any, theirs: Any, where: str = "") -> Iterator[str]:
    """Where the two documents differ in shape (keys, their order, types) or in a value
    they must share."""
    if isinstance(theirs, dict):
        if not isinstance(ours, dict) or list(ours) != list(theirs):
            yield f"{where}: keys {list(ours) if isinstance(ours, dict) else ours!r} != {list(theirs)}"
            return
        for key in theirs:
            here = f"{where}.{key}"
            if (
                key in _SAME_VALUES
                and not isinstance(theirs[key], dict)
                and ours[key] != theirs[key]
            ):
                yield f"{here}: {ours[key]!r} != {theirs[key]!r}"
            yield from _same_shape(ours[key], theirs[key], here)
    elif isinstance(theirs, list):
        if not isinstance(ours, list) or len(ours) != len(theirs):
            yield f"{where}: {ours!r} != {theirs!r}"
            return
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            yield from _same_shape(a, b, f"{where}[{index}]")
    elif isinstance(theirs, str) and (inside := _decoded(theirs)) is not None:
        yield from _same_shape(
            _decoded(ours) if isinstance(ours, str) else ours, inside, f"{where}~"
        )
    elif type(ours) is not type(theirs):
        yield f"{where}: {type(ours).__name__} != {type(theirs).__name__}"


@pytest.mark.parametrize("vector", SIMULATED, ids=[v["name"] for v in SIMULATED])
async def test_the_simulator_answers_as_mockmds(vector: dict[str, Any]) -> None:
    service = vector["service"]
    sim = SbiSimulator(
        name=f"sim-{vector['name']}",
        kind=_KINDS[(service["purpose"], service["type"])],
        seed=uuid.uuid4().int,
        timing=Timing(scale=0),
        capture_delay_s=0,
    )
    await sim.start()
    try:
        condition = service["condition"]
        if condition == "busy":
            sim.inject(Fault.BUSY)
        elif condition == "no-finger":
            sim.inject(Fault.NO_FINGER)
        elif condition in ("not-ready", "not-registered"):
            sim.set_status(
                condition.replace("-", " ").title().replace("Not Registered", "Not Registered")
            )
        sim.script_scores(44, 44)
        request = vector["request"]
        body = b"" if request is None else json.dumps(request).encode()
        ours = Http.parse(await _ask(sim, vector["method"], vector["path"], body))
    finally:
        await sim.stop()
    theirs = Http.parse(answer(vector["name"]))

    assert ours.status == theirs.status
    assert [n for n, _ in ours.headers] == [n for n, _ in theirs.headers]
    same_headers = [(n, v) for n, v in theirs.headers if n not in ("Content-Length", "LOCATION")]
    assert [
        (n, v) for n, v in ours.headers if n not in ("Content-Length", "LOCATION")
    ] == same_headers
    assert dict(ours.headers)["Content-Length"].strip() == str(len(ours.body.decode()))
    assert ours.after == theirs.after == b"\r\n\r\n"
    assert list(_same_shape(ours.json, theirs.json)) == []


async def test_the_simulator_answers_options_and_unknown_paths_as_mockmds() -> None:
    sim = SbiSimulator(name="sim-http", kind=SbiKind.FACE, seed=1, timing=Timing(scale=0))
    await sim.start()
    try:
        preflight = Http.parse(await _ask(sim, "OPTIONS", "/device", b""))
        unknown_path = Http.parse(await _ask(sim, "MOSIPDISC", "/devices", b""))
        get_root = Http.parse(await _ask(sim, "GET", "/", b'{"type":"Face"}'))
    finally:
        await sim.stop()

    assert preflight.status == "HTTP/1.1 200 OK"
    assert ("Connection", " Keep-Alive") in preflight.headers
    # A known method on an unknown path: a whole "405 OK" answer framed as a 200 body.
    assert unknown_path.status == "HTTP/1.1 200 OK"
    assert unknown_path.body.startswith(b"HTTP/1.1 405 OK\r\n")
    # "GET / HTTP" and "POST / HTTP" are discovery to MockMDS.
    assert get_root.json[0]["deviceStatus"] == "Ready"
