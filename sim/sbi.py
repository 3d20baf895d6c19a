"""A MOSIP SBI device service: one simulated biometric device behind HTTP on 127.0.0.1.

It answers as MOSIP's own mock device service (mosip-mock-services, MockMDS) does, read
from its source: the same HTTP framing (SBIWorker, SBIResponseInfo: the request read line
by line up to its `Content-Length`, "405 OK" for a method it does not know, two CRLFs after
every body), the same checks of a capture request in the same order with the same error
codes (SBIServiceResponse.processRCaptureInfo and processCaptureInfo), and the same JSON
field order (`sim._sbi_answers`). tests/test_sbi_vectors.py holds it to the vectors derived
from MockMDS in tests/vectors/sbi.

Like a vendor's device service, each simulator binds one free port in 4501-4600 and offers
one device. Signatures are real RS256 JWS under a device PKI of the production shape
(`sim._sbi_pki`): the device key under a provider CA under a MOSIP root, the FTM chip key
of an Auth device under an FTM CA under an FTM root. An Auth device seals each record for
the station's domain, as the specification says. Where it differs from MockMDS, and why:
- records are small synthetic PNGs (`sim._sbi_images`), not ISO/IEC 19794 records, because
  the station's matcher and card writer read images;
- quality scores are a real device's (seeded, 65-98, or scripted), not MockMDS's fixed
  admin-set score, and a capture below the requested score keeps trying until its timeout
  and then answers its best frame, as the specification asks;
- an Auth capture's `domainUri` is the request's (MockMDS ignores the request's and sends
  the text "null");
- STREAM is answered with MockMDS's "no stream image" error (608): the station never
  streams.

Faults: unplug (listener closed, open connections cut), hang (request read, never
answered), garbage, slow, low_quality, no_finger (nothing is presented: a capture times out
with 701, or 801 for Auth; `attempts` limits it to that many captures), busy (deviceStatus
Busy: a capture answers 703, or 111 for Auth). `set_status` is MockMDS's /admin/status:
"Not Ready" and "Not Registered" too.

Behaviour is deterministic for a seed: serial number, quality scores, images and which
kind of garbage is sent. Once a person is presented to a fingerprint scanner
(`person_seed=` or `present()`), its fingers are that person's synthetic fingers.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
from cryptography.hazmat.primitives import hashes

from . import _sbi_answers as answers
from ._base import Fault, FaultState, NetworkService, Timing, seeded
from ._sbi_images import (
    ISO_FINGER_POSITIONS,
    face_image,
    finger_grown,
    grow_fingers,
    render,
)
from ._sbi_pki import b64url, compact, device_pki, seal
from ._sbi_requests import DeviceFacts, Refused, check_capture, json_object, read_request
from .fingerprints import SyntheticFinger

__all__ = ["SBI_PORTS", "SbiKind", "SbiSimulator", "face_image"]

SBI_PORTS: Final = (4501, 4600)


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
    device_id: str
    """MockMDS's own ids: iris double 1, slap 2, face 3, single finger 4."""


_PROFILES: Final = {
    SbiKind.FACE: _Profile(
        "Face", "Full face", ("0",), "Registration", "sbi_face", "SimFace 1", "3"
    ),
    SbiKind.FINGER_SLAP: _Profile(
        "Finger", "Slap", ("1", "2", "3"), "Registration", "sbi_finger_slap", "SimSlap 4-4-2", "2"
    ),
    # MockMDS offers its single-finger scanner in Auth mode only.
    SbiKind.FINGER_SINGLE: _Profile(
        "Finger", "Single", ("0",), "Auth", "sbi_finger_single", "SimTouch 1", "4"
    ),
    SbiKind.IRIS: _Profile(
        "Iris", "Double", ("1", "2", "3"), "Registration", "sbi_iris", "SimIris 2", "1"
    ),
}

_SLAP_FINGERS: Final = {
    "1": ("Left IndexFinger", "Left MiddleFinger", "Left RingFinger", "Left LittleFinger"),
    "2": ("Right IndexFinger", "Right MiddleFinger", "Right RingFinger", "Right LittleFinger"),
    "3": ("Left Thumb", "Right Thumb"),
}
_EYES: Final = {"1": ("Left",), "2": ("Right",), "3": ("Left", "Right")}
_DISCOVERY_TYPES: Final = ("Biometric Device", "Finger", "Iris", "Face")
_STATUSES: Final = ("Ready", "Busy", "Not Ready", "Not Registered")
_DISCOVERY_VERBS: Final = ("POST / HTTP", "GET / HTTP", "MOSIPDISC /device HTTP")
_ENV: Final = "Developer"


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
        spec_versions: tuple[str, ...] = ("0.9.5",),
    ) -> None:
        """`purpose` overrides the kind's ("Auth": a device certified for authentication,
        which seals every record for its domain); `spec_versions` are those it offers."""
        super().__init__()
        self.name = name
        self.kind = kind
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self.host = host
        self.port = port
        self.port_range = port_range
        self.capture_delay_s = capture_delay_s
        self.spec_versions = spec_versions
        profile = _PROFILES[kind]
        self.profile = dataclasses.replace(profile, purpose=purpose or profile.purpose)
        self._rng = seeded(seed, name)
        self.serial = f"SIM{self._rng.randrange(16**10):010X}"
        self.device_id = self.profile.device_id
        self.captures_served = 0
        self.service_s_total = 0.0
        """Seconds spent between reading a request and writing its answer, over all requests:
        the device's own share of a round trip, which benchmarks subtract from the driver's."""
        self.requests: collections.deque[tuple[str, str, bytes]] = collections.deque(maxlen=512)
        """Every request read, as (method, target, body): what a driver sent on the wire."""
        self.last_capture_request: dict[str, Any] | None = None
        self.capture_started = asyncio.Event()
        """Set when a capture request has been read (to act mid-capture)."""
        self._status_set = "Ready"
        self._scripted_scores: list[float] = []
        self._person_seed = person_seed
        self._capturing = False
        self._files: Path | None = None
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # -- SimulatedDevice

    def config_overlay(self) -> dict[str, Any]:
        """The station's table for this device: where it answers, which certificates its
        signatures chain to, and for an Auth device the domain key its captures are sealed
        to (files in a private directory the simulator removes when it stops)."""
        if self.port is None:
            raise RuntimeError("start the simulator first: its port is chosen then")
        files = self._trust_files()
        overlay: dict[str, Any] = {
            "kind": self.profile.config_kind,
            "host": self.host,
            "port": self.port,
            "serial": self.serial,
            "env": _ENV,
            "purpose": self.profile.purpose,
            "trust_anchors": [str(files / "anchors.pem")],
            "trust_intermediates": [str(files / "intermediates.pem")],
        }
        if self.profile.purpose == "Auth":
            overlay["domain_uri"] = "https://ktpel.station.sim/"
            overlay["domain_key"] = str(files / "domain.pem")
        return overlay

    def _trust_files(self) -> Path:
        if self._files is None:
            pki = device_pki()
            self._files = Path(tempfile.mkdtemp(prefix=f"ktpel-sbi-{self.name}-"))
            (self._files / "anchors.pem").write_bytes(pki.anchors_pem)
            (self._files / "intermediates.pem").write_bytes(pki.intermediates_pem)
            domain = self._files / "domain.pem"
            domain.touch(mode=0o600)
            domain.write_bytes(pki.domain_pem)
        return self._files

    # -- control

    @property
    def listening(self) -> bool:
        return self._server is not None

    def set_status(self, status: str) -> None:
        """The device's own status, as MockMDS's /admin/status sets it: "Ready", "Busy",
        "Not Ready" or "Not Registered"."""
        if status not in _STATUSES:
            raise ValueError(f"{status!r} is not an SBI deviceStatus")
        self._status_set = status

    def present(self, person_seed: int | None) -> None:
        """Put a synthetic person's fingers on the scanner (None: the generic toy print)."""
        self._person_seed = person_seed
        if person_seed is not None and self.profile.bio_type == "Finger":
            grow_fingers(person_seed)

    async def fingers_ready(self) -> None:
        """Return once the presented person's fingers are all grown."""
        if self._person_seed is not None and self.profile.bio_type == "Finger":
            for position in ISO_FINGER_POSITIONS.values():
                await finger_grown(self._person_seed, position)

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

    async def stop(self) -> None:
        await super().stop()
        files, self._files = self._files, None
        if files is not None:
            shutil.rmtree(files, ignore_errors=True)

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
            request = await read_request(reader)
            if request is not None:
                started = time.perf_counter()
                writer.write(await self._answer(*request))
                await writer.drain()
                self.service_s_total += time.perf_counter() - started
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or sent nonsense: nothing to answer
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _answer(self, request_line: str, body: bytes) -> bytes:
        # SBIWorker: the method is what precedes the first "/" of the request line, and is
        # valid if the CORS method list contains it (as text: a substring is enough).
        method, _, rest = request_line.partition(" ")
        target = rest.rsplit(" ", 1)[0] if " " in rest else rest
        self.requests.append((method, target, body))
        name = request_line.split("HTTP/1.1", maxsplit=1)[0].strip().split("/")[0].strip()
        if name not in answers.CORS_METHODS:
            return answers.http_error("500", host=self.host, port=self._port)
        if name == "OPTIONS":
            return answers.http_options()
        await self._hang_while_asked()
        if Fault.SLOW in self.faults:
            # Real seconds, not scaled by timing: "slow" is about the driver's deadlines.
            await asyncio.sleep(self.faults.param(Fault.SLOW, "delay_s", 3.0))
        if Fault.GARBAGE in self.faults:
            return self._frame(self._garbage())
        return self._frame(await self._route(request_line, body))

    async def _route(self, request_line: str, body: bytes) -> str:
        # SBIServiceResponse.getServiceresponse: the first verb the request contains.
        if any(
            verb in request_line for verb in ("POST / HTTP", "GET / HTTP", "MOSIPDISC /device HTTP")
        ):
            return self._discovery(body)
        if "MOSIPDINFO /info HTTP" in request_line:
            return self._info()
        if "STREAM /stream HTTP" in request_line:
            return answers.json_text(answers.error("608"))
        if "RCAPTURE /capture HTTP" in request_line:
            return await self._capture(body, auth=False)
        if "CAPTURE /capture HTTP" in request_line:
            return await self._capture(body, auth=True)
        # A method it knows on a path it does not: MockMDS frames a whole 405 answer as
        # the body of a 200 one.
        return answers.http_error("500", host=self.host, port=self._port).decode()

    def _frame(self, body: str) -> bytes:
        return answers.http_response(body, host=self.host, port=self._port)

    @property
    def _port(self) -> int:
        assert self.port is not None
        return self.port

    async def _hang_while_asked(self) -> None:
        while True:
            changed = self.faults.changed
            if Fault.HANG not in self.faults:
                return
            await changed.wait()

    def _garbage(self) -> str:
        # Malformed, never merely unsigned or forged: what a broken service sends.
        return self._rng.choice(
            [
                '{"biometrics": [{"data": "',
                "\u00ff\u00fe not json at all",
                '[{"deviceStatus": 42}]',
                answers.json_text({"biometrics": [{"data": "%%%.***.!!!", "hash": "X"}]}),
                answers.json_text([{"deviceInfo": "a.b", "error": {"errorCode": "0"}}]),
                answers.json_text([{"deviceId": "1", "digitalId": "!!"}]),
            ]
        )

    # -- the device

    def _status(self) -> str:
        if Fault.BUSY in self.faults or self._capturing:
            return "Busy"
        return self._status_set

    def _digital_id(self) -> bytes:
        # The DigitalId DTO's order: serialNo, make, model, type, deviceSubType,
        # deviceProviderId, deviceProvider, dateTime.
        return compact(
            {
                "serialNo": self.serial,
                "make": "KTPel Sim",
                "model": self.profile.model,
                "type": self.profile.bio_type,
                "deviceSubType": self.profile.subtype,
                "deviceProviderId": "KTPEL.SIM",
                "deviceProvider": "KTPel Simulators",
                "dateTime": _now(),
            }
        )

    def _signed_digital_id(self) -> str:
        # An Auth (L1) device's digital id is signed by its FTM chip key, a Registration
        # (L0) device's by its device key (SBIDeviceHelper.getDeviceInfo).
        pki = device_pki()
        signer = pki.chip if self.profile.purpose == "Auth" else pki.device
        return signer.sign(self._digital_id())

    @property
    def _callback_id(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def _certification(self) -> str:
        return "L1" if self.profile.purpose == "Auth" else "L0"

    def _discovery(self, body: bytes) -> str:
        wanted = json_object(body).get("type")
        if not isinstance(wanted, str) or wanted not in _DISCOVERY_TYPES:
            return answers.error_list("502")
        if wanted not in ("Biometric Device", self.profile.bio_type):
            return answers.error_list("503")
        status = self._status()
        registered = status != "Not Registered"
        entry = answers.discovery_entry(
            device_id=self.device_id if registered else "",
            status=status,
            certification=self._certification,
            service_version="0.9.5",
            callback_id=self._callback_id,
            digital_id=b64url(self._digital_id()),
            device_code=self.serial if registered else "",
            purpose=self.profile.purpose if registered else "",
            status_error=answers.STATUS_ERRORS[status],
            spec_versions=self.spec_versions,
            sub_ids=self.profile.sub_ids,
        )
        return answers.json_text([entry])

    def _info(self) -> str:
        status = self._status()
        registered = status != "Not Registered"
        info = answers.device_info(
            spec_versions=self.spec_versions,
            env=_ENV,
            digital_id=self._signed_digital_id() if registered else b64url(self._digital_id()),
            device_id=self.device_id if registered else "",
            device_code=self.serial if registered else "",
            purpose=self.profile.purpose if registered else "",
            service_version="0.9.5",
            status=status,
            firmware="sim-1.4.2",
            certification=self._certification,
            sub_ids=self.profile.sub_ids,
            callback_id=self._callback_id,
        )
        # A registered device signs its info with its device key; one not registered
        # sends it unsigned (SBIDeviceHelper.getDeviceInfoDto).
        token = device_pki().device.sign(compact(info)) if registered else b64url(compact(info))
        return answers.json_text(
            [{"deviceInfo": token, "error": answers.error(answers.STATUS_ERRORS[status])}]
        )

    def _facts(self) -> DeviceFacts:
        return DeviceFacts(
            bio_type=self.profile.bio_type,
            purpose=self.profile.purpose,
            device_id=self.device_id,
            status=self._status(),
        )

    async def _capture(self, body: bytes, *, auth: bool) -> str:
        try:
            request, bio = check_capture(body, auth=auth, device=self._facts())
        except Refused as refused:
            # Refused before the capture: with an empty specVersion, and with the Auth
            # fields whenever MockMDS builds the answer with isRCapture false (for 123
            # even on RCAPTURE, and not for 122 on CAPTURE).
            code = refused.code
            auth_fields = code == "123" or (auth and code != "122")
            return answers.capture_error(code, "", auth_fields=auth_fields, extra=refused.extra)
        self.last_capture_request = request
        self._capturing = True
        self.capture_started.set()
        try:
            return await self._take(request, bio, auth=auth)
        finally:
            self._capturing = False
            self.capture_started = asyncio.Event()

    async def _take(self, request: dict[str, Any], bio: dict[str, Any], *, auth: bool) -> str:
        spec_version = request["specVersion"]
        timeout_s = int(request["timeout"]) / 1000
        requested = float(int(bio["requestedScore"]))
        await self.timing.pause(self.capture_delay_s)
        if Fault.NO_FINGER in self.faults:
            await self.timing.pause(timeout_s)  # waits for a finger until its timeout
            self._count_down(Fault.NO_FINGER)
            return answers.capture_error("801" if auth else "701", spec_version, auth_fields=auth)
        subtypes = self._subtypes(bio, auth=auth)
        scores = [self._next_score() for _ in subtypes]
        if min(scores, default=100) < requested:
            await self.timing.pause(timeout_s)  # keeps trying, then answers its best frame
        previous = bio["previousHash"]
        entries = []
        for subtype, score in zip(subtypes, scores, strict=True):
            record = await self._image(subtype)
            entry = self._entry(
                request,
                subtype=subtype,
                score=score,
                requested=requested,
                record=record,
                previous=previous,
                auth=auth,
            )
            entries.append(entry)
            previous = entry["hash"]
        self.captures_served += 1
        return answers.json_text({"biometrics": entries})

    def _count_down(self, fault: Fault) -> None:
        attempts = self.faults.active.get(fault, {}).get("attempts")
        if attempts is None:
            return
        if int(attempts) <= 1:
            self.faults.clear(fault)
        else:
            self.faults.inject(fault, {"attempts": int(attempts) - 1})

    def _subtypes(self, bio: dict[str, Any], *, auth: bool) -> list[str | None]:
        """What MockMDS captures: for Registration, by sub id less the exceptions (the
        bioSubType list is not read); for Auth, the bioSubTypes asked, up to `count`. A
        device whose sub id says nothing (0, a single-finger scanner certified for
        Registration, which MockMDS does not have) takes those asked too."""
        if self.profile.bio_type == "Face":
            return [None]
        asked = list(bio.get("bioSubType") or ())[: int(bio["count"])]
        if auth:
            return asked
        table = _SLAP_FINGERS if self.profile.bio_type == "Finger" else _EYES
        exceptions = set(bio.get("exception") or ())
        by_sub_id = table.get(bio["deviceSubId"], asked)
        return [s for s in by_sub_id if s not in exceptions]

    async def _image(self, subtype: str | None) -> bytes:
        position = ISO_FINGER_POSITIONS.get(subtype or "")
        if self.profile.bio_type != "Finger" or self._person_seed is None or position is None:
            return render(self.profile.bio_type, self._rng)
        finger = SyntheticFinger(person_seed=self._person_seed, finger=position)
        # Drawn here, so the thread touches no shared state and the seed decides the image.
        capture_rng = np.random.default_rng(self._rng.getrandbits(64))
        await finger_grown(self._person_seed, position)
        # An impression takes tens of ms: off the loop, as a device's own CPU.
        return await asyncio.to_thread(finger.impression, rng=capture_rng)

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
        record: bytes,
        previous: str,
        auth: bool,
    ) -> dict[str, Any]:
        """One BioMetricsDto, and inside it a BioMetricsDataDto without its null fields."""
        pki = device_pki()
        timestamp = _now()
        data: dict[str, Any] = {
            "digitalId": self._signed_digital_id(),
            "deviceCode": self.serial,
            "deviceServiceVersion": "0.9.5",
            "bioType": self.profile.bio_type,
        }
        if subtype is not None:
            data["bioSubType"] = subtype
        data |= {"purpose": request["purpose"], "env": request["env"]}
        entry: dict[str, Any] = {"specVersion": request["specVersion"]}
        if auth:
            data["domainUri"] = str(request.get("domainUri"))
            session_key, sealed = seal(record, timestamp, request["transactionId"])
            data["bioValue"] = b64url(sealed)
        else:
            data["bioValue"] = b64url(record)
        data |= {
            "transactionId": request["transactionId"],
            "timestamp": timestamp,
            "requestedScore": str(requested),
            "qualityScore": str(float(score)),
        }
        entry["data"] = pki.device.sign(compact(data))
        entry["hash"] = _chain_hash(previous, record)
        if auth:
            entry["sessionKey"] = b64url(session_key)
            entry["thumbprint"] = pki.domain.certificate.fingerprint(hashes.SHA256()).hex().upper()
        entry["error"] = answers.error("0")
        return entry


# --------------------------------------------------------------------------- helpers


def _chain_hash(previous: str, record: bytes) -> str:
    previous_digest = bytes.fromhex(previous) if previous else hashlib.sha256(b"").digest()
    return hashlib.sha256(previous_digest + hashlib.sha256(record).digest()).hexdigest().upper()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
