"""What can go wrong with the biometric store, and the one place where the libraries'
exceptions (cryptography, the OS, SQLite) become the store's own."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag

from appliance._sqlite import ErrorMap, Failure, failure_of
from appliance.errors import ApplianceError

if TYPE_CHECKING:
    from collections.abc import Iterator

_DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


class BiometricStoreError(ApplianceError):
    """Base of every error the biometric store raises."""


class BlobNotFound(BiometricStoreError):
    """No blob with this id: never stored, or purged."""

    def __init__(self, blob_id: str) -> None:
        super().__init__(f"biometric blob {blob_id!r} not found (never stored, or purged)")
        self.blob_id = blob_id


class BlobCorrupt(BiometricStoreError):
    """A blob failed authentication, is truncated or missing, or its key cannot be unwrapped."""

    def __init__(self, blob_id: str, reason: str) -> None:
        super().__init__(f"biometric blob {blob_id}: {reason}; its data cannot be trusted")
        self.blob_id = blob_id
        self.reason = reason


class StoreFull(BiometricStoreError):
    """The disk (or the index database) is full; nothing of the failed write remains."""


class MasterKeyError(BiometricStoreError):
    """The master key is malformed, or is not the key this store was created with."""


INDEX_ERRORS: Final = ErrorMap(
    default=BiometricStoreError,
    kinds={Failure.FULL: (StoreFull, "the index database is full")},
)


def translate(exc: BaseException, *, blob_id: str | None, subject: str) -> BiometricStoreError:
    """The store's error for a library exception met while doing `subject`."""
    error: Exception
    if isinstance(exc, BiometricStoreError):
        error = exc
    elif isinstance(exc, InvalidTag):
        error = BlobCorrupt(
            blob_id or "?",
            "authentication failed (damaged, moved or substituted file, or wrong key)",
        )
    elif isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        error = StoreFull(f"{subject}: no space left on the device")
    elif isinstance(exc, OSError):
        error = BiometricStoreError(f"{subject}: {exc.strerror or exc}")
    elif isinstance(exc, sqlite3.Error):
        error = INDEX_ERRORS.translate(subject, exc)
    else:
        error = BiometricStoreError(f"{subject}: {type(exc).__name__}")
    assert isinstance(error, BiometricStoreError)  # INDEX_ERRORS maps only to the store's
    return error


def is_disk_full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS) or (
        isinstance(exc, sqlite3.Error) and failure_of(exc) is Failure.FULL
    )


@contextlib.contextmanager
def translated(subject: str, *, blob_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except BiometricStoreError:
        raise
    except (InvalidTag, OSError, sqlite3.Error) as exc:
        raise translate(exc, blob_id=blob_id, subject=subject) from exc
