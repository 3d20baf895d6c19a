"""The simulated SBI devices' keys, in the shape of a country's device PKI.

As the SBI specification's "Keys" section describes it: a device key, whose certificate a
device provider's CA issues under the country's MOSIP root, signs device info and capture
data; an FTM chip key, whose certificate the FTM provider's CA issues under the FTM root,
signs an L1 (Auth) device's digital id; and the domain's key, to which an Auth device
seals its captures. MockMDS ships the same roles (its `Biometric Devices/*/Keys/*.p12` and
`rootca.cer`, `rootcaftm.cer`), with each device certificate straight under its root; here
a provider CA stands between, as in production.

One set per process: RSA key generation is the slowest thing the simulator does.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(payload: Any) -> bytes:
    """JSON as Jackson writes it: no spaces, keys in the order given."""
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Signer:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def sign(self, payload: bytes) -> str:
        """A compact JWS of `payload` as MockMDS's JwtUtility.getJwt makes it (jose4j):
        the signer's certificate alone in `x5c`, then "alg": "RS256", then "typ": "JWT"."""
        header = {
            "x5c": [
                base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
            ],
            "alg": "RS256",
            "typ": "JWT",
        }
        signing_input = f"{b64url(compact(header))}.{b64url(payload)}"
        signature = self.key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{b64url(signature)}"


@dataclass(frozen=True, slots=True)
class DevicePki:
    mosip_root: x509.Certificate
    provider_ca: x509.Certificate
    device: Signer
    ftm_root: x509.Certificate
    ftm_ca: x509.Certificate
    chip: Signer
    domain: Signer

    @property
    def anchors_pem(self) -> bytes:
        return _pem(self.mosip_root, self.ftm_root)

    @property
    def intermediates_pem(self) -> bytes:
        return _pem(self.provider_ca, self.ftm_ca)

    @property
    def domain_pem(self) -> bytes:
        """The domain's private key and certificate, as the station keeps them."""
        key = self.domain.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return key + _pem(self.domain.certificate)


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KTPel Simulators"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    name: str,
    key: rsa.RSAPrivateKey,
    *,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = (
        (_name(name), key) if issuer is None else (issuer[0].subject, issuer[1])
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def device_pki() -> DevicePki:
    root_key, ca_key, device_key = _key(), _key(), _key()
    root = _certificate("KTPel Sim MOSIP Root", root_key, ca=True)
    provider = _certificate(
        "KTPel Sim Device Provider CA", ca_key, issuer=(root, root_key), ca=True
    )
    device = _certificate("KTPel Sim Device", device_key, issuer=(provider, ca_key), ca=False)
    ftm_root_key, ftm_ca_key, chip_key = _key(), _key(), _key()
    ftm_root = _certificate("KTPel Sim FTM Root", ftm_root_key, ca=True)
    ftm_ca = _certificate(
        "KTPel Sim FTM Provider CA", ftm_ca_key, issuer=(ftm_root, ftm_root_key), ca=True
    )
    chip = _certificate("KTPel Sim FTM Chip", chip_key, issuer=(ftm_ca, ftm_ca_key), ca=False)
    domain_key = _key()
    domain = _certificate("KTPel Sim Station Domain", domain_key, ca=False)
    return DevicePki(
        mosip_root=root,
        provider_ca=provider,
        device=Signer(device_key, device),
        ftm_root=ftm_root,
        ftm_ca=ftm_ca,
        chip=Signer(chip_key, chip),
        domain=Signer(domain_key, domain),
    )


def seal(record: bytes, timestamp: str, transaction_id: str) -> tuple[bytes, bytes]:
    """(encrypted session key, sealed record), as CryptoUtility.encrypt seals them."""
    first, second = timestamp.encode(), transaction_id.encode()
    width = max(len(first), len(second))
    mixed = bytes(
        a ^ b for a, b in zip(first.rjust(width, b"\0"), second.rjust(width, b"\0"), strict=True)
    )
    session_key = AESGCM.generate_key(bit_length=256)
    sealed = AESGCM(session_key).encrypt(mixed[-12:], record, mixed[-16:])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return device_pki().domain.key.public_key().encrypt(session_key, oaep), sealed
