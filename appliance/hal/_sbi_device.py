"""The base of every biometric device on MOSIP SBI: its configuration, discovery, status
and captures with retries (the four device classes are in `_biometric`).

SBI is HTTP on 127.0.0.1 with its own methods: MOSIPDISC /device finds a device service
on a port in 4501-4600, MOSIPDINFO /info reports the device's signed identity and status,
RCAPTURE /capture takes a registration capture and CAPTURE /capture an authentication
one. Any SBI-certified device works; the simulator (`sim.sbi`) speaks the same HTTP.

Every HTTP call is bounded and its body is read up to a cap. The transport's failures
become the HAL's four errors in one place (`_SbiClient.call`), and device answers are
read only through `_sbi_protocol`, which turns anything malformed into "garbage".
Biometric bytes stay in memory, in `BiometricCapture.bio_value`, and are never logged
(the dataclasses leave them out of their repr).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal

import httpx
from cryptography import x509
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from appliance._text import Text
from appliance.logs import get_logger

from ._device import Device
from ._errors import DeviceError, DeviceFault, DeviceGone, DeviceTimeout, status_for
from ._registry import Checklist, ConfiguredDevice
from ._sbi_captures import BiometricCapture, CaptureNotAccepted, CaptureResult
from ._sbi_protocol import (
    FIRST_PREVIOUS_HASH,
    BioType,
    CapturedEntry,
    DiscoveredDevice,
    Environment,
    InfoAnswer,
    Purpose,
    Trust,
    capture_request,
    parse_capture,
    parse_discovery,
    parse_info,
    sbi_error,
)
from ._status import READY, DeviceIdentity, DeviceState, DeviceStatus

_STATUS_BODY_LIMIT: Final = 256 * 1024
_DISCOVERY_CONCURRENCY: Final = 25
_SBI_PORTS: Final = (4501, 4600)

# --------------------------------------------------------------------------- configuration


# SBI services answer plain HTTP on loopback (every URL here is http://127.0.0.1), so no
# TLS is ever negotiated. httpx's default context would load certifi's CA bundle for
# each client made at each (re)connect: over 1 MiB kept per device and 16 ms of CPU.
# This context verifies against no authority at all: should https ever reach it, the
# handshake fails.
_NO_TLS: Final = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _loopback(host: str) -> str:
    # SBI services bind 127.0.0.1 only; a remote host would carry biometrics over a network.
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (SBI devices use 127.0.0.1)") from None
    if not address.is_loopback:
        raise ValueError(f"{host} is not a loopback address (SBI devices use 127.0.0.1)")
    return host


_Port = Annotated[int, Field(ge=1, le=65535)]
_Seconds = Annotated[float, Field(gt=0, le=600)]
_Score = Annotated[float, Field(ge=0, le=100)]


class SbiDeviceConfig(BaseModel):
    """What every SBI device needs; a `[devices.<name>]` table of the station config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_type: str
    device_subtype: str
    host: Annotated[str, AfterValidator(_loopback)] = "127.0.0.1"
    port_range: tuple[_Port, _Port] = _SBI_PORTS
    """Ports scanned by discovery (inclusive)."""
    port: _Port | None = None
    """Pin the device service to one port instead of scanning."""
    serial: str | None = None
    """Take only the device with this serial number (when several of a kind are plugged)."""
    purpose: Purpose = "Registration"
    env: Environment = "Production"
    spec_version: Literal["0.9.5", "1.0.0"] = "0.9.5"
    trust_anchors: tuple[Path, ...] = ()
    """PEM certificates of device providers; when set, every signature must chain to one."""
    connect_timeout_s: _Seconds = 5.0
    probe_timeout_s: _Seconds = 1.0
    discovery_probe_timeout_s: _Seconds = 0.5
    capture_timeout_s: _Seconds = 10.0
    """Sent to the device: it returns its best frame by then."""
    reply_margin_s: _Seconds = 2.0
    """How long past `capture_timeout_s` an answer may take to arrive."""
    capture_budget_s: _Seconds | None = None
    """The whole capture with its retries; the best capture so far is kept when it runs
    out. Default: every attempt at its full timeout."""
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    quality_threshold: _Score = 60.0
    requested_score: _Score | None = None
    """The score the device auto-captures at; default: the quality threshold."""
    max_response_bytes: Annotated[int, Field(ge=64 * 1024, le=256 * 1024 * 1024)] = 32 * 1024**2
    app_name: str = "ktpel-station"

    @model_validator(mode="after")
    def _ordered_range(self) -> SbiDeviceConfig:
        if self.port_range[0] > self.port_range[1]:
            raise ValueError("port_range must be (lowest, highest)")
        return self

    @property
    def attempt_timeout_s(self) -> float:
        return self.capture_timeout_s + self.reply_margin_s

    @property
    def budget_s(self) -> float:
        return self.capture_budget_s or (self.retries + 1) * self.attempt_timeout_s


# --------------------------------------------------------------------------- the device


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    method: Literal["RCAPTURE", "CAPTURE"]
    sub_id: str
    subtypes: tuple[str, ...]
    exceptions: tuple[str, ...]

    @property
    def wanted(self) -> tuple[str | None, ...]:
        # A face has no subtype: its one capture is keyed by None.
        return self.subtypes or (None,)


class SbiDevice(Device):
    """An SBI device: discovery, status through device info, captures with retries."""

    bio_type: ClassVar[BioType]

    def __init__(self, *, name: str, config: SbiDeviceConfig) -> None:
        super().__init__(
            name=name,
            connect_timeout_s=config.connect_timeout_s,
            probe_timeout_s=config.probe_timeout_s,
        )
        self.config = config
        self._trust = Trust(tuple(_load_anchor(path) for path in config.trust_anchors))
        self._client: httpx.AsyncClient | None = None
        self._found: DiscoveredDevice | None = None
        self._previous_hash = FIRST_PREVIOUS_HASH
        self._log = get_logger(__name__).bind(device=name)

    @property
    def port(self) -> int | None:
        """The port the device service answered on; known once connected."""
        return None if self._found is None else self._found.port

    # -- Device protocol

    async def _connect(self) -> DeviceIdentity:
        await self._disconnect()
        self._client = httpx.AsyncClient(
            # Never through a proxy from the environment, and one connection per request
            # as SBI services expect ("Connection: Closed"); loopback makes it cheap.
            trust_env=False,
            verify=_NO_TLS,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"EXT": self.config.app_name},
        )
        self._found = await self._discover()
        answer = await self._info()
        digital_id = answer.digital_id
        self._log.info(
            "sbi.connected", port=self._found.port, make=digital_id.make, model=digital_id.model
        )
        return DeviceIdentity(
            make=digital_id.make,
            model=digital_id.model,
            serial=digital_id.serial_no,
            firmware=answer.info.firmware or answer.info.service_version,
        )

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _probe(self) -> DeviceStatus:
        answer = await self._info()
        status = _STATUS_OF.get(answer.info.device_status)
        if status is None:
            raise DeviceFault(self.name, "garbage", "unknown deviceStatus")
        return status

    # -- discovery and info

    async def _discover(self) -> DiscoveredDevice:
        config = self.config
        if config.port is not None:
            # A pinned port: its failure is the answer (timeout, garbage, refused).
            offered = await self._offered(config.port)
        else:
            low, high = config.port_range
            gate = asyncio.Semaphore(_DISCOVERY_CONCURRENCY)
            found = await asyncio.gather(
                *(self._offered_quietly(port, gate) for port in range(low, high + 1))
            )
            offered = [device for devices in found for device in devices]
        for device in offered:
            if self._is_mine(device):
                return device
        where = config.port or "{}-{}".format(*config.port_range)
        raise DeviceGone(
            self.name,
            f"no SBI {self.bio_type.value} device ({config.device_subtype}) on port {where}",
            code="not_found",
        )

    async def _offered(self, port: int) -> list[DiscoveredDevice]:
        body = await self._call(
            "MOSIPDISC",
            port,
            "/device",
            {"type": self.bio_type.value},
            timeout_s=self.config.discovery_probe_timeout_s,
            limit=_STATUS_BODY_LIMIT,
        )
        return parse_discovery(body, device=self.name, port=port)

    async def _offered_quietly(self, port: int, gate: asyncio.Semaphore) -> list[DiscoveredDevice]:
        async with gate:
            try:
                return await self._offered(port)
            except DeviceError:
                return []  # nothing there, or not an SBI service: keep scanning

    def _is_mine(self, device: DiscoveredDevice) -> bool:
        digital_id = device.digital_id
        return (
            digital_id.device_type == self.bio_type.value
            and digital_id.device_sub_type == self.config.device_subtype
            and device.purpose in ("", self.config.purpose)
            and self.config.serial in (None, digital_id.serial_no)
        )

    async def _info(self) -> InfoAnswer:
        found = self._found
        if found is None:
            raise DeviceGone(self.name, "not connected")
        body = await self._call(
            "MOSIPDINFO",
            found.port,
            "/info",
            None,
            timeout_s=self.probe_timeout_s,
            limit=_STATUS_BODY_LIMIT,
        )
        for answer in parse_info(body, device=self.name, trust=self._trust):
            if answer.info.device_id == found.device_id:
                return answer
        raise DeviceGone(
            self.name, f"the service no longer offers device {found.device_id}", code="not_found"
        )

    # -- capture

    async def _capture(self, spec: CaptureSpec) -> CaptureResult:
        config = self.config
        best: dict[str | None, BiometricCapture] = {}
        attempts = 0
        async with self.operation("capture", timeout_s=config.budget_s + config.reply_margin_s):
            try:
                async with asyncio.timeout(config.budget_s):
                    while attempts <= config.retries and not self._good_enough(best, spec):
                        attempts += 1
                        try:
                            captured = await self._capture_once(spec)
                        except DeviceFault as fault:
                            if fault.status.state is not DeviceState.READY:
                                raise  # the device's problem, not the applicant's: stop
                            self._log.info("sbi.capture_failed", attempt=attempts, code=fault.code)
                            continue
                        for capture in captured:
                            kept = best.get(capture.bio_subtype)
                            if kept is None or capture.quality > kept.quality:
                                best[capture.bio_subtype] = capture
                        self._log.info(
                            "sbi.capture_attempt",
                            attempt=attempts,
                            quality={c.bio_subtype or "face": c.quality for c in captured},
                        )
            except TimeoutError:
                if not best:
                    raise DeviceTimeout(
                        self.name, f"no capture within {config.budget_s:g} s"
                    ) from None
            result = CaptureResult(
                captures=tuple(best[key] for key in spec.wanted if key in best),
                exceptions=spec.exceptions,
                attempts=attempts,
                quality_threshold=config.quality_threshold,
            )
            self._judge(result, spec)
        return result

    def _good_enough(self, best: dict[str | None, BiometricCapture], spec: CaptureSpec) -> bool:
        threshold = self.config.quality_threshold
        return all(key in best and best[key].quality >= threshold for key in spec.wanted)

    def _judge(self, result: CaptureResult, spec: CaptureSpec) -> None:
        never = [key or "face" for key in spec.wanted if result.get(key) is None]
        if never:
            raise CaptureNotAccepted(
                self.name,
                "no_capture",
                f"nothing captured for {', '.join(never)} in {result.attempts} attempts",
                best=result,
            )
        if result.below_threshold:
            scores = ", ".join(f"{c.bio_subtype or 'face'} {c.quality:g}" for c in result.captures)
            raise CaptureNotAccepted(
                self.name,
                "low_quality",
                f"below {self.config.quality_threshold:g} after {result.attempts} attempts"
                f" ({scores})",
                best=result,
            )

    async def _capture_once(self, spec: CaptureSpec) -> list[BiometricCapture]:
        config = self.config
        found = self._found
        identity = self._identity
        if found is None or identity is None:
            raise DeviceGone(self.name, "not connected")
        transaction_id = str(uuid.uuid4())
        request = capture_request(
            purpose=config.purpose,
            env=config.env,
            spec_version=config.spec_version,
            timeout_ms=round(config.capture_timeout_s * 1000),
            capture_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            transaction_id=transaction_id,
            bio_type=self.bio_type,
            device_id=found.device_id,
            device_sub_id=spec.sub_id,
            bio_sub_types=spec.subtypes,
            exceptions=spec.exceptions,
            requested_score=round(config.requested_score or config.quality_threshold),
            previous_hash=self._previous_hash,
            domain_uri=getattr(config, "domain_uri", None),
        )
        body = await self._call(
            spec.method,
            found.port,
            "/capture",
            request,
            timeout_s=config.attempt_timeout_s,
            limit=config.max_response_bytes,
        )
        entries = parse_capture(body, device=self.name, trust=self._trust)
        captured = [entry for entry in entries if entry.error.ok]
        if not captured:
            failed = next(iter(entries), None)
            if failed is None:
                raise DeviceFault(self.name, "garbage", "capture answer holds no biometric")
            raise sbi_error(self.name, failed.error.error_code, failed.error.error_info)
        return [
            self._capture_of(entry, spec, transaction_id=transaction_id, identity=identity)
            for entry in captured
        ]

    def _capture_of(
        self,
        entry: CapturedEntry,
        spec: CaptureSpec,
        *,
        transaction_id: str,
        identity: DeviceIdentity,
    ) -> BiometricCapture:
        data = entry.data
        assert data is not None  # only entries without an error reach here
        if data.transaction_id != transaction_id:
            raise DeviceFault(self.name, "garbage", "capture answer is for another transaction")
        if data.bio_type != self.bio_type.value:
            raise DeviceFault(self.name, "garbage", f"asked for {self.bio_type}, got another type")
        subtype = None if self.bio_type is BioType.FACE else data.bio_sub_type
        if subtype not in spec.wanted:
            raise DeviceFault(
                self.name, "garbage", "capture answer holds a biometric not asked for"
            )
        if entry.chain_hash:
            self._previous_hash = entry.chain_hash
        return BiometricCapture(
            bio_type=self.bio_type,
            bio_subtype=subtype,
            quality=data.quality_score,
            requested_score=data.requested_score,
            bio_value=entry.bio_value,
            device=identity,
            transaction_id=transaction_id,
            timestamp=data.timestamp,
            chain_hash=entry.chain_hash,
            session_key=entry.session_key,
            thumbprint=entry.thumbprint,
        )

    # -- transport

    async def _call(
        self,
        method: str,
        port: int,
        path: str,
        payload: dict[str, Any] | None,
        *,
        timeout_s: float,
        limit: int,
    ) -> bytes:
        """One bounded HTTP exchange; its failures become the HAL's errors."""
        client = self._client
        if client is None:
            raise DeviceGone(self.name, "not connected")
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        url = f"http://{host}:{port}{path}"
        try:
            async with asyncio.timeout(timeout_s):
                return await self._exchange(client, method, url, payload, limit=limit)
        except TimeoutError:
            raise DeviceTimeout(
                self.name, f"no answer to {method} {path} within {timeout_s:g} s"
            ) from None
        except httpx.TimeoutException:
            raise DeviceTimeout(self.name, f"no answer to {method} {path}") from None
        except httpx.ConnectError:
            raise DeviceGone(self.name, f"nothing answers on port {port}") from None
        except httpx.RemoteProtocolError as exc:
            if "disconnected" in str(exc).lower():
                raise DeviceGone(self.name, f"{method} {path}: connection dropped") from None
            raise DeviceFault(self.name, "garbage", f"{method} {path}: not HTTP") from None
        except (httpx.ReadError, httpx.WriteError, httpx.CloseError):
            raise DeviceGone(self.name, f"{method} {path}: connection dropped") from None
        except httpx.HTTPError as exc:
            raise DeviceFault(
                self.name, "garbage", f"{method} {path}: {type(exc).__name__}"
            ) from None

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        payload: dict[str, Any] | None,
        *,
        limit: int,
    ) -> bytes:
        async with client.stream(method, url, json=payload) as response:
            if response.status_code != httpx.codes.OK:
                raise DeviceFault(
                    self.name, "device_error", f"{method} answered HTTP {response.status_code}"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise DeviceFault(self.name, "garbage", f"answer larger than {limit} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise DeviceFault(self.name, "garbage", f"answer larger than {limit} bytes")
            return bytes(body)


_STATUS_OF: Final = {
    "Ready": READY,
    "Busy": status_for("device_busy", "device service reports Busy"),
    "Not Ready": status_for("device_error", "device service reports Not Ready"),
    "Not Registered": status_for("device_error", "device is not registered with its provider"),
    # Not in the specification, but some vendors' services report a pulled cable this way.
    "Not Connected": status_for("disconnected", "device service reports Not Connected"),
}


def _load_anchor(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


class SbiChecklist(Checklist[SbiDeviceConfig]):
    """An SBI device is reached through its supplier's service on a loopback port."""

    def not_found(self, device: ConfiguredDevice[SbiDeviceConfig]) -> Text | None:
        return Text(
            " Pastikan layanan SBI dari pemasok alat ini berjalan (menjawab di {ports}).",
            " Make sure its supplier's SBI service is running (answering on {ports}).",
        ).format(ports=_ports(device.config))

    def garbage(self, device: ConfiguredDevice[SbiDeviceConfig]) -> Text | None:
        the = Text("{label}", "the {label}").format(label=device.label)
        return Text(
            "Ada yang menjawab di {ports}, tetapi bukan layanan SBI {label}: periksa "
            "`port` di [devices.{name}] dan program lain di port itu.",
            "Something answers on {ports}, but not {the}'s SBI service: check `port` in "
            "[devices.{name}] and what else listens there.",
        ).format(ports=_ports(device.config), label=device.label, the=the, name=device.name)


SBI_CHECKLIST: Final = SbiChecklist()


def _ports(config: SbiDeviceConfig) -> str:
    if config.port is not None:
        return f"port {config.port}"
    low, high = config.port_range
    return f"port {low}-{high}"
