"""The station's own HTTPS certificate, for the LAN mode: the office's PCs, the TV and the
kiosk reach the screens over TLS.

The certificate is self-signed (ECDSA P-256, ten years: the box runs unattended) and
names the station by every name and address in `[api] tls_names`; a technician installs
it once in each office PC's trust store (docs/screens.md). Its key is a secret (0600).
Made on first start in LAN mode, kept after: a new one would have to be installed again
on every PC. When the names change, delete both files and restart.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance._secrets import write_secret_file

_VALID_FOR = dt.timedelta(days=3650)


def ensure_certificate(
    key_path: Path, certificate_path: Path, *, station_id: str, names: Sequence[str]
) -> bool:
    """Create the key and certificate unless both exist; True if they were created."""
    if key_path.exists() and certificate_path.exists():
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, station_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KTP-el station"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_secret_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


def _alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    return alt
