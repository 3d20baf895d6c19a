"""A MOSIP SBI device service: one simulated biometric device behind HTTP on 127.0.0.1.

Like a vendor's device service, each simulator binds one free port in 4501-4600 and
answers MOSIPDISC /device, MOSIPDINFO /info, RCAPTURE /capture and CAPTURE /capture with
JSON whose signed parts are real RS256 JWS. Several devices are several simulators, as
with several vendors' services.

HTTP is spoken with h11 over asyncio streams rather than aiohttp: aiohttp's C parser
(llhttp) rejects SBI's own method names ("Invalid method encountered"), and owning the
connections is what makes "unplug" (listener closed, open connections cut) and "hang"
(request read, never answered) exact.

Behaviour is deterministic for a seed: serial number, quality scores, images and which
kind of garbage is sent. Images are small synthetic PNGs (ridges, an oval face, iris
rings), not ISO records. Once a person is presented to a fingerprint scanner
(`person_seed=` or `present()`), its fingers are that person's synthetic fingers
(`sim.fingerprints`): a fresh 500 dpi impression of the requested finger at every capture,
which the station's minutiae extraction and matcher can work on. A person's fingers are
grown (about a second each) as soon as they are presented, not at the first capture,
which would otherwise overrun the capture's answer deadline on a busy machine.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import dataclasses
import functools
import hashlib
import io
import json
import math
import os
import random
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import h11
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw

from ._base import Fault, FaultState, NetworkService, Timing, seeded
from .fingerprints import SyntheticFinger

SBI_PORTS: Final = (4501, 4600)
_MAX_REQUEST: Final = 1024 * 1024


class SbiKind(StrEnum):
    FACE = "face"
    FINGER_SLAP = "finger_slap"
    FINGER_SINGLE = "finger_single"
    IRIS = "iris"


@dataclass(frozen=True, slots=True)
class _Profile:
    bio_type: str
    subtype: str
    sub_ids: tuple[str, ...]
    purpose: str
    config_kind: str
    model: str


_PROFILES: Final = {
    SbiKind.FACE: _Profile("Face", "Full face", ("0",), "Registration", "sbi_face", "SimFace 1"),
    SbiKind.FINGER_SLAP: _Profile(
        "Finger", "Slap", ("1", "2", "3"), "Registration", "sbi_finger_slap", "SimSlap 4-4-2"
    ),
    SbiKind.FINGER_SINGLE: _Profile(
        "Finger", "Single", ("0",), "Registration", "sbi_finger_single", "SimTouch 1"
    ),
    SbiKind.IRIS: _Profile(
        "Iris", "Double", ("1", "2", "3"), "Registration", "sbi_iris", "SimIris 2"
    ),
}

_SLAP_FINGERS: Final = {
    "1": ("Left IndexFinger", "Left MiddleFinger", "Left RingFinger", "Left LittleFinger"),
    "2": ("Right IndexFinger", "Right MiddleFinger", "Right RingFinger", "Right LittleFinger"),
    "3": ("Left Thumb", "Right Thumb"),
}
_EYES: Final = {"1": ("Left",), "2": ("Right",), "3": ("Left", "Right"), "0": ("Left",)}
_ISO_FINGER_POSITIONS: Final = {
    name: position
    for position, name in enumerate(
        (
            "Right Thumb",
            "Right IndexFinger",
            "Right MiddleFinger",
            "Right RingFinger",
            "Right LittleFinger",
            "Left Thumb",
            "Left IndexFinger",
            "Left MiddleFinger",
            "Left RingFinger",
            "Left LittleFinger",
        ),
        start=1,
    )
}

_NO_OBJECT: Final = ("101", "Unable to detect a biometric object")
_BUSY: Final = ("111", "Device is Busy")


class SbiSimulator(NetworkService):
    """One SBI device service; implements `sim._base.SimulatedDevice`."""

    supported_faults: frozenset[Fault] = frozenset(
        {
            Fault.UNPLUG,
            Fault.HANG,
            Fault.GARBAGE,
            Fault.SLOW,
            Fault.LOW_QUALITY,
            Fault.NO_FINGER,
            Fault.BUSY,
        }
    )

    def __init__(
        self,
        *,
        name: str,
        kind: SbiKind,
        seed: int = 0,
        timing: Timing | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        port_range: tuple[int, int] = SBI_PORTS,
        capture_delay_s: float = 1.5,
        person_seed: int | None = None,
        purpose: str | None = None,
    ) -> None:
        """`purpose` overrides the kind's ("Auth": a device certified for online
        authentication, which seals every image for the ID authority)."""
        super().__init__()
        self.name = name
        self.kind = kind
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self.host = host
        self.port = port
        self.port_range = port_range
        self.capture_delay_s = capture_delay_s
        profile = _PROFILES[kind]
        self.profile = dataclasses.replace(profile, purpose=purpose or profile.purpose)
        self._rng = seeded(seed, name)
        self.serial = f"SIM{self._rng.randrange(16**10):010X}"
        self.device_id = "1"
        self.captures_served = 0
        self.service_s_total = 0.0
        """Seconds spent between reading a request and writing its answer, over all requests:
        the device's own share of a round trip, which benchmarks subtract from the driver's."""
        self.last_capture_request: dict[str, Any] | None = None
        self.capture_started = asyncio.Event()
        """Set when a capture request has been read (to act mid-capture)."""
        self._scripted_scores: list[float] = []
        self._person_seed = person_seed
        self._capturing = False
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # -- SimulatedDevice

    def config_overlay(self) -> dict[str, Any]:
        if self.port is None:
            raise RuntimeError("start the simulator first: its port is chosen then")
        overlay: dict[str, Any] = {
            "kind": self.profile.config_kind,
            "host": self.host,
            "port": self.port,
            "serial": self.serial,
        }
        if self.kind is SbiKind.FINGER_SINGLE:
            overlay["env"] = "Developer"
            overlay["purpose"] = self.profile.purpose
        return overlay

    # -- control

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def certificate_pem(self) -> bytes:
        """The device certificate its JWS carry: the trust anchor that verifies them."""
        return _signer().certificate.public_bytes(serialization.Encoding.PEM)

    def present(self, person_seed: int | None) -> None:
        """Put a synthetic person's fingers on the scanner (None: the generic toy print)."""
        self._person_seed = person_seed
        if person_seed is not None and self.profile.bio_type == "Finger":
            _grow_fingers(person_seed)

    async def fingers_ready(self) -> None:
        """Return once the presented person's fingers are all grown."""
        if self._person_seed is not None and self.profile.bio_type == "Finger":
            for position in _ISO_FINGER_POSITIONS.values():
                await _finger_grown(self._person_seed, position)

    def script_scores(self, *scores: float) -> None:
        """Quality scores for the next captured biometrics, in order, before random ones."""
        self._scripted_scores.extend(scores)

    # -- transport

    async def _listen(self) -> None:
        sock = self._bind()
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._connection, sock=sock)

    def _bind(self) -> socket.socket:
        low, high = self.port_range
        ports = [self.port] if self.port is not None else range(low, high + 1)
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                continue
            return sock
        raise OSError(f"no free port for {self.name} in {self.port_range}")

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            await self._serve_one(reader, writer)
        except (h11.RemoteProtocolError, ConnectionError):
            pass  # the client went away or spoke nonsense: nothing to answer
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(64 * 1024))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > _MAX_REQUEST:
                    return
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        if request is None:
            return
        started = time.perf_counter()
        status, payload = await self._respond(
            request.method.decode("ascii", "replace"),
            request.target.decode("ascii", "replace"),
            bytes(body),
        )
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
        writer.write(connection.send(h11.Response(status_code=status, headers=headers)) or b"")
        writer.write(connection.send(h11.Data(data=payload)) or b"")
        writer.write(connection.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        self.service_s_total += time.perf_counter() - started

    # -- the device

    async def _respond(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        routes = {
            ("MOSIPDISC", "/device"): self._discovery,
            ("MOSIPDINFO", "/info"): self._info,
            ("RCAPTURE", "/capture"): self._capture,
            ("CAPTURE", "/capture"): self._capture,
        }
        route = routes.get((method, target))
        if route is None:
            return 405, b'{"error": "unknown method"}'
        await self._hang_while_asked()
        if Fault.SLOW in self.faults:
            # Real seconds, not scaled by timing: "slow" is about the driver's deadlines.
            await asyncio.sleep(self.faults.param(Fault.SLOW, "delay_s", 3.0))
        if Fault.GARBAGE in self.faults:
            return 200, self._garbage()
        return 200, json.dumps(await route(body)).encode()

    async def _hang_while_asked(self) -> None:
        while True:
            changed = self.faults.changed
            if Fault.HANG not in self.faults:
                return
            await changed.wait()

    def _garbage(self) -> bytes:
        signer = _signer()
        bad_signature = f"{_b64(b'{}')}.{_b64(b'{}')}.{_b64(b'nope')}"
        return self._rng.choice(
            [
                b'{"biometrics": [{"data": "',
                b"\xff\xfe\x00 not json at all",
                b'[{"deviceStatus": 42}]',
                json.dumps({"biometrics": [{"data": "%%%.***.!!!", "hash": "X"}]}).encode(),
                json.dumps({"biometrics": [{"data": signer.sign({"bioType": []})}]}).encode(),
                json.dumps([{"deviceInfo": bad_signature, "error": {"errorCode": "0"}}]).encode(),
            ]
        )

    def _status(self) -> str:
        return "Busy" if Fault.BUSY in self.faults or self._capturing else "Ready"

    def _digital_id(self) -> dict[str, str]:
        return {
            "serialNo": self.serial,
            "make": "KTPel Sim",
            "model": self.profile.model,
            "type": self.profile.bio_type,
            "deviceSubType": self.profile.subtype,
            "deviceProvider": "KTPel Simulators",
            "deviceProviderId": "ktpel.sim",
            "dateTime": _now(),
        }

    async def _discovery(self, body: bytes) -> list[dict[str, Any]]:
        wanted = _json_object(body).get("type", "Biometric Device")
        if wanted not in ("Biometric Device", self.profile.bio_type):
            return []
        return [
            {
                "deviceId": self.device_id,
                "deviceStatus": self._status(),
                "certification": "L0",
                "serviceVersion": "1.0",
                "deviceSubId": list(self.profile.sub_ids),
                "callbackId": f"http://{self.host}:{self.port}/",
                "digitalId": _b64(json.dumps(self._digital_id()).encode()),
                "deviceCode": self.serial,
                "specVersion": ["0.9.5", "1.0.0"],
                "purpose": self.profile.purpose,
                "error": {"errorCode": "0", "errorInfo": "Success"},
            }
        ]

    async def _info(self, _body: bytes) -> list[dict[str, Any]]:
        signer = _signer()
        status = self._status()
        info = {
            "deviceStatus": status,
            "deviceId": self.device_id,
            "firmware": "sim-1.4.2",
            "certification": "L0",
            "serviceVersion": "1.0",
            "deviceSubId": [int(sub_id) for sub_id in self.profile.sub_ids],
            "callbackId": f"http://{self.host}:{self.port}/",
            "digitalId": signer.sign(self._digital_id()),
            "deviceCode": self.serial,
            "env": "Developer",
            "purpose": self.profile.purpose,
            "specVersion": ["0.9.5", "1.0.0"],
        }
        code, text = _BUSY if status == "Busy" else ("0", "Success")
        return [{"deviceInfo": signer.sign(info), "error": {"errorCode": code, "errorInfo": text}}]

    async def _capture(self, body: bytes) -> dict[str, Any]:
        request = _json_object(body)
        self.last_capture_request = request
        bio = request.get("bio")
        if not isinstance(bio, list) or not bio or not isinstance(bio[0], dict):
            return _failed("109", "Requested number of biometric not supported")
        if Fault.BUSY in self.faults or self._capturing:
            return _failed(*_BUSY)
        self._capturing = True
        self.capture_started.set()
        try:
            return await self._take(request, bio[0])
        finally:
            self._capturing = False
            self.capture_started = asyncio.Event()

    async def _take(self, request: dict[str, Any], bio: dict[str, Any]) -> dict[str, Any]:
        timeout_s = _number(request.get("timeout"), 10_000) / 1000
        requested = _number(bio.get("requestedScore"), 0)
        await self.timing.pause(self.capture_delay_s)
        if Fault.NO_FINGER in self.faults:
            await self.timing.pause(timeout_s)  # waits for a finger until its timeout
            return _failed(*_NO_OBJECT)
        subtypes = self._subtypes(bio)
        scores = [self._next_score() for _ in subtypes]
        if min(scores, default=100) < requested:
            await self.timing.pause(timeout_s)  # keeps trying, then returns its best frame
        previous = str(bio.get("previousHash", ""))
        entries = []
        for subtype, score in zip(subtypes, scores, strict=True):
            image = await self._image(subtype)
            chain = _chain_hash(previous, image)
            entries.append(
                self._entry(
                    request,
                    subtype=subtype,
                    score=score,
                    requested=requested,
                    image=image,
                    chain=chain,
                )
            )
            previous = chain
        self.captures_served += 1
        return {"biometrics": entries}

    async def _image(self, subtype: str | None) -> bytes:
        position = _ISO_FINGER_POSITIONS.get(subtype or "")
        if self.profile.bio_type != "Finger" or self._person_seed is None or position is None:
            return _render(self.profile.bio_type, self._rng)
        finger = SyntheticFinger(person_seed=self._person_seed, finger=position)
        # Drawn here, so the thread touches no shared state and the seed decides the image.
        capture_rng = np.random.default_rng(self._rng.getrandbits(64))
        await _finger_grown(self._person_seed, position)
        # An impression takes tens of ms: off the loop, as a device's own CPU.
        return await asyncio.to_thread(finger.impression, rng=capture_rng)

    def _subtypes(self, bio: dict[str, Any]) -> list[str | None]:
        if self.profile.bio_type == "Face":
            return [None]
        asked = [s for s in bio.get("bioSubType") or [] if isinstance(s, str)]
        if asked:
            return list(asked)
        sub_id = str(bio.get("deviceSubId", "0"))
        table = _SLAP_FINGERS if self.profile.bio_type == "Finger" else _EYES
        exceptions = set(bio.get("exception") or [])
        return [s for s in table.get(sub_id, ("UNKNOWN",)) if s not in exceptions]

    def _next_score(self) -> float:
        if self._scripted_scores:
            return self._scripted_scores.pop(0)
        if Fault.LOW_QUALITY in self.faults:
            return self.faults.param(Fault.LOW_QUALITY, "score", self._rng.uniform(10, 35))
        return round(self._rng.uniform(65, 98), 1)

    def _entry(
        self,
        request: dict[str, Any],
        *,
        subtype: str | None,
        score: float,
        requested: float,
        image: bytes,
        chain: str,
    ) -> dict[str, Any]:
        signer = _signer()
        data: dict[str, Any] = {
            "digitalId": signer.sign(self._digital_id()),
            "deviceCode": self.serial,
            "deviceServiceVersion": "1.0",
            "bioType": self.profile.bio_type,
            "bioSubType": subtype,
            "purpose": request.get("purpose", self.profile.purpose),
            "env": request.get("env", "Developer"),
            "transactionId": request.get("transactionId", ""),
            "timestamp": _now(),
            "requestedScore": f"{requested:g}",
            "qualityScore": f"{score:g}",
        }
        entry: dict[str, Any] = {"specVersion": request.get("specVersion", "0.9.5")}
        if data["purpose"] == "Auth":
            # Sealed for the ID authority (here: the simulator's own key), as L1 devices do.
            session_key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(12)
            data["bioValue"] = _b64(nonce + AESGCM(session_key).encrypt(nonce, image, None))
            entry["sessionKey"] = _b64(signer.seal(session_key))
            entry["thumbprint"] = signer.thumbprint
        else:
            data["bioValue"] = _b64(image)
        entry["data"] = signer.sign(data)
        entry["hash"] = chain
        entry["error"] = {"errorCode": "0", "errorInfo": "Success"}
        return entry


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- first use

# One grower per core: NumPy's FFTs release the GIL, so two fingers grow at once.
_GROWERS: Final = concurrent.futures.ThreadPoolExecutor(
    max_workers=min(2, os.cpu_count() or 1), thread_name_prefix="sim-fingers"
)
_growing: dict[tuple[int, int], concurrent.futures.Future[float]] = {}
"""(person, finger) → its growth, begun when the person was first presented."""


def _grow_fingers(person_seed: int) -> None:
    """Begin growing (or loading from the disk cache) a person's ten fingers."""
    for position in _ISO_FINGER_POSITIONS.values():
        if (person_seed, position) not in _growing:
            _growing[(person_seed, position)] = _GROWERS.submit(_grow, person_seed, position)


def _grow(person_seed: int, position: int) -> float:
    # Reading the ridge period grows the master, which then stays cached.
    return SyntheticFinger(person_seed=person_seed, finger=position).ridge_period


async def _finger_grown(person_seed: int, position: int) -> None:
    _grow_fingers(person_seed)
    key = (person_seed, position)
    growth = _growing[key]
    if growth.cancel():
        # Still queued behind the person's other fingers, and wanted now: grown here.
        ridge_period = await asyncio.to_thread(_grow, person_seed, position)
        growth = concurrent.futures.Future()
        growth.set_result(ridge_period)
        _growing[key] = growth
    await asyncio.wrap_future(growth)


def _failed(code: str, info: str) -> dict[str, Any]:
    return {
        "biometrics": [
            {
                "specVersion": "0.9.5",
                "data": "",
                "hash": "",
                "error": {"errorCode": code, "errorInfo": info},
            }
        ]
    }


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _number(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _chain_hash(previous: str, record: bytes) -> str:
    try:
        previous_bytes = bytes.fromhex(previous)
    except ValueError:
        previous_bytes = b""
    return hashlib.sha256(previous_bytes + hashlib.sha256(record).digest()).hexdigest().upper()


@dataclass(frozen=True, slots=True)
class _Signer:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def sign(self, payload: dict[str, Any]) -> str:
        header = {
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [
                base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
            ],
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        signature = self.key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64(signature)}"

    def seal(self, session_key: bytes) -> bytes:
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        return self.key.public_key().encrypt(session_key, oaep)

    @property
    def thumbprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex().upper()


@functools.cache
def _signer() -> _Signer:
    # One device key per process: RSA key generation is the slowest thing the simulator does.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KTPel simulated SBI device")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return _Signer(key, certificate)


# --------------------------------------------------------------------------- images


def face_image(person_seed: int) -> bytes:
    """A synthetic person's face photo, a PNG like the camera's, the same at every call:
    for the central records (`sim.siak`) of people recorded before."""
    return _render("Face", seeded(person_seed, "face"))


def _render(bio_type: str, rng: random.Random) -> bytes:
    if bio_type == "Face":
        image = _face(rng)
    elif bio_type == "Iris":
        image = _iris(rng)
    else:
        image = _fingerprint(rng)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _fingerprint(rng: random.Random) -> Image.Image:
    image = Image.new("L", (64, 80), 255)
    draw = ImageDraw.Draw(image)
    cx, cy = 32 + rng.randint(-6, 6), 40 + rng.randint(-8, 8)
    for radius in range(3, 60, 4):  # a whorl: concentric ridges around a core
        draw.ellipse((cx - radius, cy - radius * 1.2, cx + radius, cy + radius * 1.2), outline=40)
    return image


def _face(rng: random.Random) -> Image.Image:
    image = Image.new("L", (60, 80), 230)
    draw = ImageDraw.Draw(image)
    dx = rng.randint(-4, 4)
    draw.ellipse((12 + dx, 8, 48 + dx, 70), fill=170, outline=60)
    for eye_x in (22, 36):
        draw.ellipse((eye_x + dx, 30, eye_x + 5 + dx, 34), fill=30)
    draw.arc((22 + dx, 46, 40 + dx, 58), start=20, end=160, fill=40)
    return image


def _iris(rng: random.Random) -> Image.Image:
    image = Image.new("L", (64, 64), 200)
    draw = ImageDraw.Draw(image)
    pupil = rng.randint(7, 11)
    for radius in range(28, pupil, -3):
        draw.ellipse((32 - radius, 32 - radius, 32 + radius, 32 + radius), outline=60 + radius * 3)
    draw.ellipse((32 - pupil, 32 - pupil, 32 + pupil, 32 + pupil), fill=10)
    return image
