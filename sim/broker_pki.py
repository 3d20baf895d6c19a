"""A throwaway PKI for the private mosquitto's TLS listener (`sim.broker.BrokerTls`): a
CA, a server certificate for 127.0.0.1 and localhost, and client certificates made on
demand, whose CN (a station id, or the collector's user) the broker takes as the MQTT
username. Keys are EC P-256, written 0600; every certificate is valid from a day back.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .broker import HOST, BrokerTls


@dataclass(frozen=True, slots=True)
class TestPki:
    """A throwaway CA with a server certificate for 127.0.0.1/localhost, and client
    certificates made on demand (the station's or the collector's CN)."""

    __test__: ClassVar[bool] = False  # a Test* name that pytest must not collect

    directory: Path
    ca_certificate: Path
    server_certificate: Path
    server_key: Path

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def broker_tls(self, *, require_certificate: bool = True) -> BrokerTls:
        return BrokerTls(
            ca_certificate=self.ca_certificate,
            certificate=self.server_certificate,
            key=self.server_key,
            require_certificate=require_certificate,
            use_identity_as_username=require_certificate,
        )

    def client(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) of a client whose CN is `name`, made on the first call."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a usable client name: {name!r}")
        certificate = self.directory / f"client-{name}.crt"
        key_path = self.directory / f"client-{name}.key"
        if certificate.exists() and key_path.exists():
            return certificate, key_path
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.ca_key} is not an EC key")
        ca = x509.load_pem_x509_certificate(self.ca_certificate.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        issued = _leaf(
            ca,
            ca_key,
            key,
            name,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            alternative_names=None,
        )
        _write_key(key_path, key)
        certificate.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
        return certificate, key_path


def make_test_pki(directory: Path) -> TestPki:
    """A CA (10 years) and a server certificate for 127.0.0.1 and localhost, in
    `directory`; keys are EC P-256, written 0600. Validity starts a day back, so a clock
    a little behind does not reject them."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ktpel test CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _leaf(
        ca,
        ca_key,
        server_key,
        "localhost",
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        alternative_names=[
            x509.IPAddress(ipaddress.IPv4Address(HOST)),
            x509.DNSName("localhost"),
        ],
    )
    pki = TestPki(
        directory=directory,
        ca_certificate=directory / "ca.crt",
        server_certificate=directory / "server.crt",
        server_key=directory / "server.key",
    )
    _write_key(pki.ca_key, ca_key)
    pki.ca_certificate.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.server_key, server_key)
    pki.server_certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    return pki


def _leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    usage: x509.ObjectIdentifier,
    alternative_names: list[x509.GeneralName] | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(alternative_names), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 rather than chmod-ed after: the key is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    path.chmod(0o600)  # an older file of that name may have had another mode
