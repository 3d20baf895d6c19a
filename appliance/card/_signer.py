"""The station's document signer: the EC P-256 key that signs every card's security object
(EF.SOD), and its X.509 certificate, which travels inside the SOD.

ICAO 9303-12 has a country signing CA (CSCA) issue document-signer certificates. Until the
regency runs one, the station issues its own certificate (self-issued, 10 years), and a card
is trusted when its signer certificate is one of the station's own. Configuring a CSCA later
needs no new card format: give `create` the CSCA's certificate and key (or install a
certificate the CSCA issued for this key) and trust the CSCA's certificate when reading.

The key is a PKCS#8 PEM file, mode 0600, never overwritten (a new key orphans nothing on the
cards already issued, but silently replacing it would hide whose key signed what); the
certificate is a public PEM file beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance._secrets import SecretFileError, read_secret_file, write_secret_file

from ._errors import CardError

CERTIFICATE_VALIDITY = timedelta(days=3653)
"""Ten years, leap days included: as long as the cards it signs are expected to be read."""

_CN_PREFIX = "KTP-el Document Signer "
_CN_MAX = 64  # RFC 5280 ub-common-name


class DocumentSignerError(SecretFileError, CardError):
    """A document-signer key or certificate is missing, malformed, for another key, or
    too widely readable."""


class DocumentSigner:
    """The document-signer key with its certificate; signs with ECDSA P-256 / SHA-256."""

    __slots__ = ("_certificate", "_certificate_der", "_key")

    def __init__(self, *, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise DocumentSignerError(
                f"the document signer's key must be P-256, not {key.curve.name}"
            )
        if _public_der(certificate.public_key()) != _public_der(key.public_key()):
            raise DocumentSignerError("the certificate is not for the document signer's key")
        self._key = key
        self._certificate = certificate
        self._certificate_der = certificate.public_bytes(serialization.Encoding.DER)

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def certificate_der(self) -> bytes:
        return self._certificate_der

    def sign(self, data: bytes) -> bytes:
        """A DER ECDSA-Sig-Value over SHA-256 of `data`."""
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    @classmethod
    def generate(
        cls,
        *,
        station_id: str,
        now: datetime | None = None,
        issuer_key: ec.EllipticCurvePrivateKey | None = None,
        issuer_certificate: x509.Certificate | None = None,
    ) -> DocumentSigner:
        """A new key and its certificate, in memory: self-issued unless an issuer (a CSCA's
        key and certificate) is given."""
        return cls._for_key(
            ec.generate_private_key(ec.SECP256R1()),
            station_id=station_id,
            now=now,
            issuer_key=issuer_key,
            issuer_certificate=issuer_certificate,
        )

    @classmethod
    def create(
        cls,
        key_path: Path,
        certificate_path: Path,
        *,
        station_id: str,
        now: datetime | None = None,
        issuer_key_path: Path | None = None,
        issuer_certificate_path: Path | None = None,
    ) -> DocumentSigner:
        """Generate the signer and write both files; refuses if either exists already."""
        for path in (key_path, certificate_path):
            if path.exists():
                raise DocumentSignerError(f"{path}: already exists; refusing to overwrite it")
        issuer_key = None if issuer_key_path is None else _load_key(issuer_key_path)
        issuer_certificate = (
            None if issuer_certificate_path is None else _load_certificate(issuer_certificate_path)
        )
        key = ec.generate_private_key(ec.SECP256R1())
        signer = cls._for_key(
            key,
            station_id=station_id,
            now=now,
            issuer_key=issuer_key,
            issuer_certificate=issuer_certificate,
        )
        write_secret_file(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        certificate_path.parent.mkdir(parents=True, exist_ok=True)
        with certificate_path.open("xb") as stream:  # "x": never replace a certificate
            stream.write(signer.certificate.public_bytes(serialization.Encoding.PEM))
        return signer

    @classmethod
    def load(cls, key_path: Path, certificate_path: Path) -> DocumentSigner:
        """Read the key (a 0600 file) and its certificate."""
        return cls(key=_load_key(key_path), certificate=_load_certificate(certificate_path))

    @classmethod
    def _for_key(
        cls,
        key: ec.EllipticCurvePrivateKey,
        *,
        station_id: str,
        now: datetime | None,
        issuer_key: ec.EllipticCurvePrivateKey | None,
        issuer_certificate: x509.Certificate | None,
    ) -> DocumentSigner:
        if (issuer_key is None) != (issuer_certificate is None):
            raise ValueError("an issuer needs both its key and its certificate")
        certificate = _issue(
            key.public_key(),
            station_id=station_id,
            now=now or datetime.now(UTC),
            issuer_key=issuer_key or key,
            issuer_certificate=issuer_certificate,
        )
        return cls(key=key, certificate=certificate)


def _public_der(key: object) -> bytes:
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise DocumentSignerError("the certificate does not hold an EC public key")
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _issue(
    public_key: ec.EllipticCurvePublicKey,
    *,
    station_id: str,
    now: datetime,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_certificate: x509.Certificate | None,
) -> x509.Certificate:
    common_name = _CN_PREFIX + station_id
    if not station_id.strip() or len(common_name) > _CN_MAX:
        raise ValueError(f"the station id must be 1 to {_CN_MAX - len(_CN_PREFIX)} characters long")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    issuer_public = issuer_key.public_key()
    not_before = now.replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer_certificate is None else issuer_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + CERTIFICATE_VALIDITY)
        # ICAO 9303-12's document-signer profile: an end entity that signs, nothing else.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = read_secret_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DocumentSignerError(f"{path}: not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DocumentSignerError(f"{path}: not an EC key")
    return key


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise DocumentSignerError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise DocumentSignerError(f"{path}: not a PEM certificate: {exc}") from None
