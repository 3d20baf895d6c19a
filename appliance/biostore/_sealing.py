"""The store's cryptography: data keys wrapped under the master key, blobs sealed under
their application's data key, each bound by its associated data to where it belongs.

Blob file format (version 1)::

    version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes)

The associated data binds the version, the application id, the blob id, the modality and
the label, so a file copied onto another blob's name, into another application, or a
relabelled index row fails to decrypt.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._errors import BlobCorrupt
from ._model import KEY_BYTES, BlobRef

NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
FORMAT_VERSION: Final = 1
HEADER_BYTES: Final = 1 + NONCE_BYTES
_DATA_KEY_CONTEXT: Final = b"ktpel-biostore data-key"
_BLOB_CONTEXT: Final = b"ktpel-biostore blob"


def frame(version: int, *parts: bytes) -> bytes:
    """Unambiguous concatenation: the version byte, then each part length-prefixed."""
    return bytes([version]) + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


KEY_CHECK_AAD: Final = frame(FORMAT_VERSION, b"ktpel-biostore key-check")


def wrap_data_key(master: AESGCM, application_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = frame(FORMAT_VERSION, _DATA_KEY_CONTEXT, application_id.encode())
    return bytes([FORMAT_VERSION]) + nonce + master.encrypt(nonce, data_key, aad)


def unwrap_data_key(master: AESGCM, application_id: str, wrapped: bytes, *, blob_id: str) -> bytes:
    if len(wrapped) != HEADER_BYTES + KEY_BYTES + TAG_BYTES or wrapped[0] != FORMAT_VERSION:
        raise BlobCorrupt(blob_id, "the wrapped data key of its application is malformed")
    aad = frame(wrapped[0], _DATA_KEY_CONTEXT, application_id.encode())
    try:
        return master.decrypt(wrapped[1:HEADER_BYTES], wrapped[HEADER_BYTES:], aad)
    except InvalidTag:
        raise BlobCorrupt(
            blob_id,
            "the data key of its application cannot be unwrapped"
            " (damaged index, or wrong master key)",
        ) from None


def seal_blob(data_key: bytes, ref: BlobRef, data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, data, _blob_aad(ref, FORMAT_VERSION))
    return bytes([FORMAT_VERSION]) + nonce + sealed


def open_blob(data_key: bytes, ref: BlobRef, raw: bytes) -> bytes:
    """The capture in a blob file's bytes; InvalidTag if they are not what was sealed."""
    if len(raw) < HEADER_BYTES + TAG_BYTES:
        raise BlobCorrupt(ref.blob_id, f"its file is truncated ({len(raw)} bytes)")
    version = raw[0]
    if version != FORMAT_VERSION:
        raise BlobCorrupt(ref.blob_id, f"unknown format version {version}")
    data = AESGCM(data_key).decrypt(
        raw[1:HEADER_BYTES], raw[HEADER_BYTES:], _blob_aad(ref, version)
    )
    if len(data) != ref.size:
        raise BlobCorrupt(ref.blob_id, "its size does not match the index")
    return data


def _blob_aad(ref: BlobRef, version: int) -> bytes:
    return frame(
        version,
        _BLOB_CONTEXT,
        ref.application_id.encode(),
        ref.blob_id.encode(),
        ref.modality.value.encode(),
        ref.label.encode(),
    )
