"""The station's Ed25519 identity: the key that signs every register event.

Key files are PEM (PKCS#8 / SubjectPublicKeyInfo), readable by OpenSSL, handled by
`cryptography`. Signing and verifying go through libsodium (PyNaCl): it verifies about
twice as fast as the OpenSSL path on the same machine and releases the GIL, so `verify`
can check a long register on every core. Both libraries implement RFC 8032 Ed25519: the
signatures are the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance._secrets import read_secret_file, write_secret_file

from ._errors import KeyFileError

SIGNATURE_SIZE = 64


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A station's public key, as the central office registers it."""

    raw: bytes

    @property
    def hex(self) -> str:
        return self.raw.hex()

    @property
    def fingerprint(self) -> str:
        """Short, stable name of the key for messages and the register's header."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.raw)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def to_pem(self) -> bytes:
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        raw = bytes.fromhex(text)
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes (64 hex digits)")
        return cls(raw)

    @classmethod
    def load(cls, path: Path) -> PublicKey:
        """Read a PEM public key, or the public half of a PEM private key."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{path}: cannot read: {exc.strerror}") from None
        if b"PRIVATE KEY" in data:
            return StationKey.load(path).public_key
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise KeyFileError(f"{path}: not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path}: not an Ed25519 key")
        return cls(key.public_bytes_raw())


class StationKey:
    """The station's private signing key."""

    __slots__ = ("_public", "_secret", "_seed")

    def __init__(self, *, seed: bytes) -> None:
        public, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        self._seed = seed
        self._secret = secret  # libsodium's 64-byte form: seed and public key
        self._public = PublicKey(public)

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        signed: bytes = nacl.bindings.crypto_sign(message, self._secret)
        return signed[:SIGNATURE_SIZE]

    @classmethod
    def generate(cls) -> StationKey:
        return cls(seed=Ed25519PrivateKey.generate().private_bytes_raw())

    def to_pem(self) -> bytes:
        private = Ed25519PrivateKey.from_private_bytes(self._seed)
        return private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def load(cls, path: Path) -> StationKey:
        """Load the key from a 0600 PEM file."""
        data = read_secret_file(path)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path}: not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path}: not an Ed25519 key")
        return cls(seed=key.private_bytes_raw())

    def save(self, path: Path) -> None:
        """Write the key to a new 0600 file; refuses to overwrite an existing one."""
        write_secret_file(path, self.to_pem())
