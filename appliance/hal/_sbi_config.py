"""What every SBI device's `[devices.<name>]` table says, and the doctor's advice for one.

An SBI device is reached through its supplier's device service on a loopback port
(4501-4600, the specification's range). Its signatures are checked against the station's
trust anchors when they are configured, and an Auth device's sealed captures are opened
with the station's domain key when the station is their domain (see `_sbi_seal`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Final, Literal

from cryptography import x509
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from appliance._text import Text

from ._registry import Checklist, ConfiguredDevice
from ._sbi_protocol import SPEC_VERSIONS, Environment, Purpose
from ._sbi_seal import DomainKey
from ._sbi_trust import Clock, Trust

SBI_PORTS: Final = (4501, 4600)


def loopback(host: str) -> str:
    """An IP loopback address, or ValueError: SBI services bind 127.0.0.1 (the
    specification: "has to be 127.0.0.1 and not localhost"), and a remote host would carry
    biometrics over a network."""
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
    host: Annotated[str, AfterValidator(loopback)] = "127.0.0.1"
    port_range: tuple[_Port, _Port] = SBI_PORTS
    """Ports scanned by discovery (inclusive)."""
    port: _Port | None = None
    """Pin the device service to one port instead of scanning."""
    serial: str | None = None
    """Take only the device with this serial number (when several of a kind are plugged)."""
    purpose: Purpose = "Registration"
    env: Environment = "Production"
    spec_version: Literal["0.9.5", "1.0.0"] = "0.9.5"
    """The SBI version preferred; another the device offers is spoken if it does not."""
    trust_anchors: tuple[Path, ...] = ()
    """PEM files of the roots the device's signatures must chain to (the country's MOSIP
    root for device keys, the FTM root for chips), or of a provider's CA or a pinned device
    certificate; when set, every signature is checked."""
    trust_intermediates: tuple[Path, ...] = ()
    """PEM files of the CAs between a device's certificate and an anchor (the device
    provider's CA, the FTM provider's): devices send only their own certificate."""
    domain_uri: str | None = None
    """Auth only: the domain an Auth capture is sealed for (SBI `domainUri`)."""
    domain_key: Path | None = None
    """Auth only: PEM with the domain's RSA private key and certificate, when the station
    itself must read what the device seals (card activation matches here); 0600."""
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
    def _consistent(self) -> SbiDeviceConfig:
        if self.port_range[0] > self.port_range[1]:
            raise ValueError("port_range must be (lowest, highest)")
        if self.purpose != "Auth" and (self.domain_key or self.domain_uri):
            raise ValueError("domain_key and domain_uri are for Auth devices only")
        return self

    @property
    def attempt_timeout_s(self) -> float:
        return self.capture_timeout_s + self.reply_margin_s

    @property
    def budget_s(self) -> float:
        return self.capture_budget_s or (self.retries + 1) * self.attempt_timeout_s

    @property
    def spec_preference(self) -> tuple[str, ...]:
        return (self.spec_version, *(v for v in SPEC_VERSIONS if v != self.spec_version))

    def trust(self, clock: Clock | None = None) -> Trust:
        anchors = [cert for path in self.trust_anchors for cert in _certificates(path)]
        between = [cert for path in self.trust_intermediates for cert in _certificates(path)]
        if clock is None:
            return Trust(anchors=anchors, intermediates=between)
        return Trust(anchors=anchors, intermediates=between, clock=clock)

    def load_domain_key(self) -> DomainKey | None:
        return None if self.domain_key is None else DomainKey.load(self.domain_key)


def _certificates(path: Path) -> list[x509.Certificate]:
    certificates = x509.load_pem_x509_certificates(path.read_bytes())
    if not certificates:
        raise ValueError(f"{path}: no PEM certificate")
    return certificates


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
