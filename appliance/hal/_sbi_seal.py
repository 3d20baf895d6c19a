"""Opening what an Auth (authentication) SBI device seals.

An Auth device never sends a biometric in the clear. The SBI specification ("Capture
Response": bioValue, sessionKey, thumbprint) and MockMDS (CryptoUtility.encrypt) seal each
record the same way: a fresh AES-256 key encrypts it with AES-GCM (128-bit tag), whose
12-byte IV and 16-byte AAD are the last bytes of `timestamp` XOR `transactionId` (the
shorter one padded with zero bytes in front); that key is encrypted with RSA-OAEP (SHA-256,
MGF1 SHA-256) to the domain certificate, whose SHA-256 thumbprint (upper-case hex) comes
with it. All three are base64url.

The domain is whoever holds that certificate's key. For card activation the station
matches the live finger against the chip itself, so it is the domain: its key (PEM, private
key and certificate in one file, 0600 in the key store) is `domain_key` in the device's
configuration, and its certificate is what the device's management server hands the device
for the configured `domain_uri`. A capture sealed for another thumbprint stays sealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._errors import DeviceFault

_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def seal_parameters(timestamp: str, transaction_id: str) -> tuple[bytes, bytes]:
    """The (IV, AAD) of a sealed record: the last 12 and 16 bytes of their XOR."""
    first, second = timestamp.encode(), transaction_id.encode()
    width = max(len(first), len(second))
    padded = zip(first.rjust(width, b"\0"), second.rjust(width, b"\0"), strict=True)
    mixed = bytes(a ^ b for a, b in padded)
    return mixed[-12:], mixed[-16:]


def thumbprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex().upper()


@dataclass(frozen=True, slots=True)
class DomainKey:
    """The key Auth captures are sealed to, when the station is their domain."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.certificate)

    @classmethod
    def load(cls, path: Path) -> DomainKey:
        """Read a PEM file holding an RSA private key and its certificate."""
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
        certificate = x509.load_pem_x509_certificate(data)
        public = certificate.public_key()
        if not isinstance(key, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey):
            raise TypeError(f"{path}: the domain key must be RSA (SBI seals with RSA-OAEP)")
        if public.public_numbers() != key.public_key().public_numbers():
            raise ValueError(f"{path}: the certificate is not the private key's")
        return cls(key, certificate)

    def open(
        self,
        *,
        session_key: bytes,
        sealed: bytes,
        timestamp: str,
        transaction_id: str,
        device: str,
    ) -> bytes:
        """The record inside a sealed `bioValue`; untrusted if it does not open."""
        iv, aad = seal_parameters(timestamp, transaction_id)
        try:
            aes_key = self.key.decrypt(session_key, _OAEP)
            return AESGCM(aes_key).decrypt(iv, sealed, aad)
        except (ValueError, InvalidTag) as exc:
            raise DeviceFault(
                device, "untrusted", "a sealed capture does not open with the domain key"
            ) from exc
