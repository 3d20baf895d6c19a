"""The base of every biometric device on MOSIP SBI: discovery, status and captures with
retries (the four device classes are in `_biometric`).

MOSIPDISC /device finds a device service on a port in 4501-4600, MOSIPDINFO /info reports
the device's signed identity and status, RCAPTURE /capture takes a Registration capture
and CAPTURE /capture an Auth one. Any SBI-certified device works; the simulator
(`sim.sbi`) answers as MOSIP's own mock device service does.

Device answers are read only through `_sbi_protocol` (anything malformed is "garbage",
an untrustworthy signature "untrusted"); the HTTP exchange and its failures are
`_sbi_http`'s. Each capture's hash chain is verified before it is returned
(`_sbi_chain`), and an Auth device's sealed records are opened when the station is their
domain (`_sbi_seal`). Biometric bytes stay in memory, in `BiometricCapture.bio_value`,
and are never logged (the dataclasses leave them out of their repr).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final

from appliance.logs import get_logger

from ._device import Device
from ._errors import DeviceError, DeviceFault, DeviceGone, DeviceTimeout
from ._sbi_captures import BiometricCapture, CaptureNotAccepted, CaptureResult
from ._sbi_chain import EMPTY_HASH, Link, verify_chain
from ._sbi_codes import DEVICE_STATUSES, is_gone, printable, sbi_error
from ._sbi_config import SbiDeviceConfig
from ._sbi_http import STATUS_BODY_LIMIT, SbiClient, callback_url, service_url
from ._sbi_protocol import (
    NOT_REGISTERED,
    BioType,
    CaptureAsk,
    CapturedEntry,
    DiscoveredDevice,
    InfoAnswer,
    SbiError,
    capture_request,
    choose_spec_version,
    discovery_request,
    parse_capture,
    parse_discovery,
    parse_info,
)
from ._sbi_trust import Clock
from ._status import DeviceIdentity, DeviceState, DeviceStatus

_DISCOVERY_CONCURRENCY: Final = 25


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """One placement: the sub id, the biometrics asked and those declared missing."""

    sub_id: str
    subtypes: tuple[str, ...]
    exceptions: tuple[str, ...]

    @property
    def wanted(self) -> tuple[str | None, ...]:
        # A face has no subtype: its one capture is keyed by None.
        return self.subtypes or (None,)


@dataclass(frozen=True, slots=True)
class _Found:
    """The device this driver speaks to, once discovered: where and in which version."""

    device: DiscoveredDevice
    base_url: str
    spec_version: str


class SbiDevice(Device):
    """An SBI device: discovery, status through device info, captures with retries."""

    bio_type: ClassVar[BioType]

    def __init__(
        self, *, name: str, config: SbiDeviceConfig, trust_clock: Clock | None = None
    ) -> None:
        """`trust_clock` is when certificates must be valid (default: now, UTC)."""
        super().__init__(
            name=name,
            connect_timeout_s=config.connect_timeout_s,
            probe_timeout_s=config.probe_timeout_s,
        )
        self.config = config
        self._trust = config.trust(trust_clock)
        self._domain_key = config.load_domain_key()
        self._client: SbiClient | None = None
        self._found: _Found | None = None
        self._previous_hash = EMPTY_HASH
        self._log = get_logger(__name__).bind(device=name)

    @property
    def port(self) -> int | None:
        """The port the device service answered discovery on; known once connected."""
        return None if self._found is None else self._found.device.port

    @property
    def spec_version(self) -> str | None:
        """The SBI version spoken with the device; known once connected."""
        return None if self._found is None else self._found.spec_version

    # -- Device protocol

    async def _connect(self) -> DeviceIdentity:
        await self._disconnect()
        self._client = SbiClient(device=self.name, app_name=self.config.app_name)
        discovered = await self._discover()
        self._found = _Found(
            device=discovered,
            base_url=callback_url(discovered.callback_id, device=self.name)
            or service_url(self.config.host, discovered.port),
            spec_version=self._spec_version(discovered.spec_versions),
        )
        answer = await self._info()
        digital_id = answer.digital_id
        self._log.info(
            "sbi.connected",
            port=discovered.port,
            make=digital_id.make,
            model=digital_id.model,
            spec_version=self._found.spec_version,
            status=answer.info.device_status,
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
            await client.close()

    async def _probe(self) -> DeviceStatus:
        answer = await self._info()
        status = DEVICE_STATUSES.get(answer.info.device_status)
        if status is None:
            raise DeviceFault(
                self.name, "garbage", f"deviceStatus {printable(answer.info.device_status)!r}"
            )
        return status

    def _spec_version(self, offered: tuple[str, ...]) -> str:
        if not offered:  # some services advertise their versions in device info only
            return self.config.spec_version
        chosen = choose_spec_version(offered, self.config.spec_version)
        if chosen is None:
            raise DeviceFault(
                self.name,
                "unsupported_version",
                f"the device speaks SBI {', '.join(map(printable, offered))}; "
                f"the station speaks {', '.join(self.config.spec_preference)}",
            )
        return chosen

    # -- discovery and info

    async def _discover(self) -> DiscoveredDevice:
        config = self.config
        errors: list[SbiError] = []
        if config.port is not None:
            # A pinned port: its failure is the answer (timeout, garbage, refused).
            for device in await self._offered(config.port, errors):
                if self._is_mine(device):
                    return device
        else:
            found = await self._scan(errors)
            if found is not None:
                return found
        where = config.port or "{}-{}".format(*config.port_range)
        said = "; ".join(
            f"SBI error {printable(e.error_code)}: {printable(e.error_info)}" for e in errors[:3]
        )
        raise DeviceGone(
            self.name,
            f"no SBI {self.bio_type.value} device ({config.device_subtype}, {config.purpose})"
            f" on port {where}" + (f" ({said})" if said else ""),
            code="not_found",
        )

    async def _scan(self, errors: list[SbiError]) -> DiscoveredDevice | None:
        """Ask every port of the range at once and take the first device of ours to answer:
        a port where something accepts and never answers (another program, a hung
        service) does not hold the discovery up. With several devices of a kind plugged
        in, `serial` says which."""
        low, high = self.config.port_range
        gate = asyncio.Semaphore(_DISCOVERY_CONCURRENCY)
        probes = [
            asyncio.create_task(self._offered_quietly(port, gate, errors))
            for port in range(low, high + 1)
        ]
        try:
            for answered in asyncio.as_completed(probes):
                for device in await answered:
                    if self._is_mine(device):
                        return device
        finally:
            for probe in probes:
                probe.cancel()
            await asyncio.gather(*probes, return_exceptions=True)
        return None

    async def _offered(self, port: int, errors: list[SbiError]) -> list[DiscoveredDevice]:
        client = self._connected_client()
        body = await client.call(
            "MOSIPDISC",
            service_url(self.config.host, port),
            "device",
            discovery_request(self.bio_type),
            timeout_s=self.config.discovery_probe_timeout_s,
            limit=STATUS_BODY_LIMIT,
        )
        discovery = parse_discovery(body, device=self.name, port=port)
        errors.extend(discovery.errors)
        return list(discovery.devices)

    async def _offered_quietly(
        self, port: int, gate: asyncio.Semaphore, errors: list[SbiError]
    ) -> list[DiscoveredDevice]:
        async with gate:
            try:
                return await self._offered(port, errors)
            except DeviceError:
                return []  # nothing there, or not an SBI service: keep scanning

    def _is_mine(self, device: DiscoveredDevice) -> bool:
        digital_id = device.digital_id
        # A device not yet registered has no purpose ("empty if not registered"): it is
        # taken, so that the officer hears it must be registered rather than "not found".
        purpose_fits = device.purpose == self.config.purpose or (
            device.status == NOT_REGISTERED and not device.purpose
        )
        return (
            digital_id.device_type == self.bio_type.value
            and digital_id.device_sub_type == self.config.device_subtype
            and purpose_fits
            and self.config.serial in (None, digital_id.serial_no)
        )

    async def _info(self) -> InfoAnswer:
        found = self._found
        if found is None:
            raise DeviceGone(self.name, "not connected")
        body = await self._connected_client().call(
            "MOSIPDINFO",
            found.base_url,
            "info",
            None,
            timeout_s=self.probe_timeout_s,
            limit=STATUS_BODY_LIMIT,
        )
        info = parse_info(body, device=self.name, trust=self._trust)
        for answer in info.answers:
            if answer.info.device_id == found.device.device_id and (
                answer.digital_id.serial_no == found.device.digital_id.serial_no
            ):
                self._follow(answer)
                return answer
        gone = next((e for e in info.errors if is_gone(e.error_code)), None)
        if gone is not None:
            raise sbi_error(self.name, gone.error_code, gone.error_info)
        raise DeviceGone(
            self.name,
            f"the service no longer offers device {printable(found.device.device_id)!r}",
            code="not_found",
        )

    def _follow(self, answer: InfoAnswer) -> None:
        # The signed info's callbackId and versions take precedence over discovery's.
        found = self._found
        assert found is not None
        base_url = callback_url(answer.info.callback_id, device=self.name) or found.base_url
        spec_version = found.spec_version
        if answer.info.spec_version and spec_version not in answer.info.spec_version:
            spec_version = self._spec_version(tuple(answer.info.spec_version))
        if (base_url, spec_version) != (found.base_url, found.spec_version):
            self._found = _Found(found.device, base_url, spec_version)

    def _connected_client(self) -> SbiClient:
        if self._client is None:
            raise DeviceGone(self.name, "not connected")
        return self._client

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
        previous_hash = self._previous_hash
        request = capture_request(
            CaptureAsk(
                bio_type=self.bio_type,
                device_id=found.device.device_id,
                device_sub_id=spec.sub_id,
                bio_sub_types=spec.subtypes,
                exceptions=spec.exceptions,
                requested_score=round(config.requested_score or config.quality_threshold),
                previous_hash=previous_hash,
            ),
            purpose=config.purpose,
            env=config.env,
            spec_version=found.spec_version,
            timeout_ms=round(config.capture_timeout_s * 1000),
            capture_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            transaction_id=transaction_id,
            domain_uri=config.domain_uri,
        )
        body = await self._connected_client().call(
            "CAPTURE" if config.purpose == "Auth" else "RCAPTURE",
            found.base_url,
            "capture",
            request,
            timeout_s=config.attempt_timeout_s,
            limit=config.max_response_bytes,
        )
        entries = parse_capture(body, device=self.name, trust=self._trust)
        if not any(entry.error.ok for entry in entries):
            failed = entries[0].error
            raise sbi_error(self.name, failed.error_code, failed.error_info)
        records = [self._record(entry, spec, transaction_id) for entry in entries]
        links = [
            Link(entry.chain_hash, record, failed=not entry.error.ok)
            for entry, record in zip(entries, records, strict=True)
        ]
        self._previous_hash = verify_chain(previous_hash, links, device=self.name)
        return [
            self._capture_of(entry, record, transaction_id=transaction_id, identity=identity)
            for entry, record in zip(entries, records, strict=True)
            if entry.error.ok
        ]

    def _record(self, entry: CapturedEntry, spec: CaptureSpec, transaction_id: str) -> bytes | None:
        """The record the entry holds, opened if sealed for the station; None if failed
        or sealed for someone else."""
        data = entry.data
        if data is None:
            return None
        if data.transaction_id != transaction_id:
            raise DeviceFault(self.name, "garbage", "capture answer is for another transaction")
        if data.bio_type != self.bio_type.value:
            raise DeviceFault(self.name, "garbage", f"asked for {self.bio_type}, got another type")
        subtype = None if self.bio_type is BioType.FACE else data.bio_sub_type
        if subtype not in spec.wanted:
            raise DeviceFault(
                self.name, "garbage", "capture answer holds a biometric not asked for"
            )
        if entry.session_key is None:
            return entry.bio_value
        key = self._domain_key
        if key is None:
            return None  # sealed for its domain, which the station is not
        if entry.thumbprint.upper() != key.thumbprint:
            # The station means to read these, but the device seals them for another
            # certificate: its management server has another domain for `domain_uri`.
            raise DeviceFault(
                self.name,
                "device_error",
                f"the capture is sealed for certificate {printable(entry.thumbprint)[:16]}..., "
                f"not the station's domain {key.thumbprint[:16]}...",
            )
        return key.open(
            session_key=entry.session_key,
            sealed=entry.bio_value,
            timestamp=data.timestamp,
            transaction_id=transaction_id,
            device=self.name,
        )

    def _capture_of(
        self,
        entry: CapturedEntry,
        record: bytes | None,
        *,
        transaction_id: str,
        identity: DeviceIdentity,
    ) -> BiometricCapture:
        data = entry.data
        assert data is not None  # only entries without an error reach here
        return BiometricCapture(
            bio_type=self.bio_type,
            bio_subtype=None if self.bio_type is BioType.FACE else data.bio_sub_type,
            quality=data.quality_score,
            requested_score=data.requested_score,
            bio_value=entry.bio_value if record is None else record,
            device=identity,
            transaction_id=transaction_id,
            timestamp=data.timestamp,
            chain_hash=entry.chain_hash.upper(),
            session_key=entry.session_key if record is None else None,
            thumbprint=entry.thumbprint or None,
        )
