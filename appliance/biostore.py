"""The biometric store: face, fingerprint, iris and signature captures, encrypted at rest.

Biometric captures are the most sensitive data the station holds. They never enter the
register (the signed event log) and never leave the station over MQTT; they live here, and
are destroyed by the retention policy once the card is activated.

Layout of a store directory::

    index.sqlite3        applications (with their wrapped data keys) and blobs
    blobs/<dir>/<blob_id>.bin

Crypto-shredding. Every application gets its own random 256-bit data key. The data key is
stored only wrapped (AES-256-GCM under the station's master key, bound to the application
id) in the index. Purging an application first deletes that row (SQLite `secure_delete`,
then a truncating WAL checkpoint), which makes every byte of the application's ciphertext
unrecoverable even where the SD card's wear levelling keeps old flash blocks, and only
then unlinks the blob files.

Blob file format (version 1)::

    version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes)

The associated data binds the version, the application id, the blob id, the modality and
the label, so a file copied onto another blob's name, into another application, or a
relabelled index row fails to decrypt.

Crash safety. A blob is written to a temporary file, synced, renamed into place and its
directory synced *before* its index row is committed; a power cut in between leaves an
orphan file that the next `BiometricStore.open` removes. Application ids are caller
strings and never appear in paths: each application's directory has a random name kept
in the index.

Biometric bytes are never logged and never put in exception messages.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance._secrets import read_secret_file, write_secret_file

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Collection, Iterator
    from pathlib import Path
    from types import TracebackType

__all__ = [
    "BiometricStore",
    "BiometricStoreError",
    "BlobCorrupt",
    "BlobNotFound",
    "BlobRef",
    "MasterKeyError",
    "Modality",
    "StoreFull",
    "create_master_key",
]

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
FORMAT_VERSION: Final = 1
SCHEMA_VERSION: Final = 1
INDEX_NAME: Final = "index.sqlite3"
BLOBS_NAME: Final = "blobs"
MAX_APPLICATION_ID_CHARS: Final = 128
MAX_LABEL_CHARS: Final = 64
WAL_AUTOCHECKPOINT_PAGES: Final = 16
WAL_SIZE_LIMIT_BYTES: Final = 64 * 1024

_HEADER_BYTES: Final = 1 + NONCE_BYTES
_BLOB_ID = re.compile(r"[0-9a-f]{32}")
_DIR_NAME = re.compile(r"[0-9a-f]{32}")
_BLOB_FILE = re.compile(r"([0-9a-f]{32})\.bin")
_TEMP_FILE = re.compile(r"\.[0-9a-f]{32}\.tmp")
_DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})

_SCHEMA: Final = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE applications (
    application_id TEXT PRIMARY KEY,
    dir            TEXT NOT NULL UNIQUE,
    wrapped_key    BLOB NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;
CREATE TABLE blobs (
    blob_id        TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (application_id),
    modality       TEXT NOT NULL,
    label          TEXT NOT NULL,
    size           INTEGER NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX blobs_by_application ON blobs (application_id);
"""


# --------------------------------------------------------------------------- errors


class BiometricStoreError(Exception):
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


def _translate(exc: BaseException, *, blob_id: str | None, subject: str) -> BiometricStoreError:
    """The one place where library exceptions become the store's typed errors."""
    error: BiometricStoreError
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
    elif isinstance(exc, sqlite3.Error) and _sqlite_code(exc) == sqlite3.SQLITE_FULL:
        error = StoreFull(f"{subject}: the index database is full")
    elif isinstance(exc, sqlite3.Error):
        error = BiometricStoreError(f"{subject}: index database error: {exc}")
    else:
        error = BiometricStoreError(f"{subject}: {type(exc).__name__}")
    return error


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None  # primary code of an extended one


@contextlib.contextmanager
def _translated(subject: str, *, blob_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except BiometricStoreError:
        raise
    except (InvalidTag, OSError, sqlite3.Error) as exc:
        raise _translate(exc, blob_id=blob_id, subject=subject) from exc


# --------------------------------------------------------------------------- model


class Modality(StrEnum):
    """What kind of capture a blob holds."""

    FACE = "face"
    FINGERPRINT_IMAGE = "fingerprint_image"
    FINGERPRINT_TEMPLATE = "fingerprint_template"  # ISO/IEC 19794-2
    IRIS = "iris"
    SIGNATURE = "signature"


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What the index knows about one stored blob; never the biometric bytes themselves.

    `label` says which finger or eye (free text, e.g. "right_thumb", "left").
    """

    blob_id: str
    application_id: str
    modality: Modality
    label: str
    size: int
    created_at: datetime


def create_master_key(path: Path) -> None:
    """Create a new master key file (32 random bytes, mode 0600); refuse to overwrite one."""
    write_secret_file(path, os.urandom(KEY_BYTES))


# --------------------------------------------------------------------------- the store


class BiometricStore:
    """Encrypted, crypto-shreddable storage of biometric captures.

    Open with `BiometricStore.open`. Methods are safe to call from several threads (e.g.
    through `asyncio.to_thread`); they block on disk I/O and fsync.
    """

    def __init__(
        self,
        *,
        directory: Path,
        db: sqlite3.Connection,
        master: AESGCM,
        now: Callable[[], datetime],
    ) -> None:
        self._directory = directory
        self._blobs = directory / BLOBS_NAME
        self._db: sqlite3.Connection | None = db
        self._master = master
        self._now = now
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        master_key_path: Path,
        now: Callable[[], datetime] | None = None,
    ) -> BiometricStore:
        """Open (creating if needed) the store in `directory`.

        Raises `appliance._secrets.SecretFileError` if the key file is missing or readable by
        others, `MasterKeyError` if it is not 32 bytes or not this store's key.
        """
        key = read_secret_file(master_key_path)
        if len(key) != KEY_BYTES:
            raise MasterKeyError(
                f"{master_key_path}: holds {len(key)} bytes, a master key is {KEY_BYTES}"
            )
        master = AESGCM(key)
        with _translated(f"biometric store {directory}"):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            (directory / BLOBS_NAME).mkdir(mode=0o700, exist_ok=True)
            db = _connect(directory / INDEX_NAME)
            try:
                _ensure_schema(db, master, master_key_path)
                store = cls(directory=directory, db=db, master=master, now=now or _utc_now)
                store._sweep()
            except BaseException:
                db.close()
                raise
        return store

    def close(self) -> None:
        """Close the index (checkpointing its WAL). Idempotent."""
        with self._lock:
            if self._db is not None:
                db, self._db = self._db, None
                with _translated("biometric store: closing the index"):
                    db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- operations

    def put(
        self, application_id: str, modality: Modality, data: bytes, *, label: str = ""
    ) -> BlobRef:
        """Encrypt and store one capture; durable when this returns.

        Raises `StoreFull` if the disk or index is full; nothing of the blob then remains.
        """
        _check_application_id(application_id)
        modality = Modality(modality)
        if len(label) > MAX_LABEL_CHARS or not label.isprintable():
            raise ValueError(f"label: at most {MAX_LABEL_CHARS} printable characters")
        if not data:
            msg = "data: an empty capture is not a capture"
            raise ValueError(msg)
        blob_id = secrets.token_hex(16)
        created_at = self._stamp()
        ref = BlobRef(
            blob_id=blob_id,
            application_id=application_id,
            modality=modality,
            label=label,
            size=len(data),
            created_at=created_at,
        )
        subject = f"storing a {modality} capture of application {application_id!r}"
        with self._lock, _translated(subject, blob_id=blob_id):
            db = self._index()
            created_dir: Path | None = None
            final: Path | None = None
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT dir, wrapped_key FROM applications WHERE application_id = ?",
                    (application_id,),
                ).fetchone()
                if row is None:
                    dir_name = secrets.token_hex(16)
                    data_key = AESGCM.generate_key(bit_length=256)
                    db.execute(
                        "INSERT INTO applications (application_id, dir, wrapped_key, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (
                            application_id,
                            dir_name,
                            self._wrap(application_id, data_key),
                            _iso(created_at),
                        ),
                    )
                else:
                    dir_name = str(row[0])
                    data_key = self._unwrap(application_id, bytes(row[1]), blob_id=blob_id)
                db.execute(
                    "INSERT INTO blobs (blob_id, application_id, modality, label, size,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (blob_id, application_id, modality.value, label, len(data), _iso(created_at)),
                )
                app_dir = self._blobs / _checked_dir_name(dir_name)
                if not app_dir.is_dir():
                    app_dir.mkdir(mode=0o700)
                    created_dir = app_dir
                    _fsync_directory(self._blobs)
                nonce = os.urandom(NONCE_BYTES)
                sealed = AESGCM(data_key).encrypt(nonce, data, _blob_aad(ref, FORMAT_VERSION))
                final = app_dir / f"{blob_id}.bin"
                _write_atomically(final, bytes([FORMAT_VERSION]) + nonce + sealed)
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                if final is not None:
                    _remove_quietly(final)
                if created_dir is not None:
                    _remove_quietly(created_dir)
                raise
        return ref

    def get(self, blob_id: str) -> bytes:
        """Decrypt one capture. Raises `BlobNotFound` or `BlobCorrupt`."""
        if not isinstance(blob_id, str) or not _BLOB_ID.fullmatch(blob_id):
            raise BlobNotFound(str(blob_id))
        with self._lock, _translated(f"reading biometric blob {blob_id}", blob_id=blob_id):
            row = (
                self._index()
                .execute(
                    "SELECT b.blob_id, b.application_id, b.modality, b.label, b.size,"
                    " b.created_at, a.dir, a.wrapped_key FROM blobs AS b"
                    " JOIN applications AS a USING (application_id) WHERE b.blob_id = ?",
                    (blob_id,),
                )
                .fetchone()
            )
            if row is None:
                raise BlobNotFound(blob_id)
            ref = _ref_from_row(row[:6])
            data_key = self._unwrap(ref.application_id, bytes(row[7]), blob_id=blob_id)
            path = self._blobs / _checked_dir_name(str(row[6])) / f"{blob_id}.bin"
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raise BlobCorrupt(blob_id, "its file is missing") from None
        if len(raw) < _HEADER_BYTES + TAG_BYTES:
            raise BlobCorrupt(blob_id, f"its file is truncated ({len(raw)} bytes)")
        version = raw[0]
        if version != FORMAT_VERSION:
            raise BlobCorrupt(blob_id, f"unknown format version {version}")
        with _translated(f"reading biometric blob {blob_id}", blob_id=blob_id):
            data = AESGCM(data_key).decrypt(
                raw[1:_HEADER_BYTES], raw[_HEADER_BYTES:], _blob_aad(ref, version)
            )
        if len(data) != ref.size:
            raise BlobCorrupt(blob_id, "its size does not match the index")
        return data

    def list(self, application_id: str) -> builtins.list[BlobRef]:
        """The blobs of one application, in the order they were stored."""
        with self._lock, _translated(f"listing biometric blobs of {application_id!r}"):
            rows = (
                self._index()
                .execute(
                    "SELECT blob_id, application_id, modality, label, size, created_at"
                    " FROM blobs WHERE application_id = ? ORDER BY rowid",
                    (application_id,),
                )
                .fetchall()
            )
        return [_ref_from_row(row) for row in rows]

    def purge(self, application_id: str) -> int:
        """Destroy every capture of one application; return how many blobs were destroyed.

        The wrapped data key is deleted first (committed, then the WAL truncated), the
        files after. Idempotent: purging an unknown or purged application returns 0.
        If the disk is so full that SQLite cannot record the deletion, the files are
        unlinked first to make room, and the deletion is retried.
        """
        with self._lock, _translated(f"purging application {application_id!r}"):
            db = self._index()
            row = db.execute(
                "SELECT dir FROM applications WHERE application_id = ?", (application_id,)
            ).fetchone()
            if row is None:
                return 0
            app_dir = self._blobs / _checked_dir_name(str(row[0]))
            try:
                destroyed = self._delete_application(application_id)
            except (OSError, sqlite3.Error) as exc:
                if not isinstance(_translate(exc, blob_id=None, subject=""), StoreFull):
                    raise
                _remove_tree(app_dir, self._blobs)
                destroyed = self._delete_application(application_id)
            with contextlib.suppress(sqlite3.Error):
                # Drop the WAL frames that still hold the wrapped key; close() retries.
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            _remove_tree(app_dir, self._blobs)
        return destroyed

    def purge_created_before(self, cutoff: datetime, *, keep: Collection[str] = ()) -> int:
        """Retention: purge every application whose newest blob was stored before `cutoff`.

        `keep` names applications this sweep must not touch (e.g. those the register does
        not show as activated yet: the wall clock of a Pi without RTC may have been wrong
        when they were captured). Returns the number of blobs destroyed.
        """
        if cutoff.tzinfo is None:
            msg = "cutoff: a timezone-aware datetime is required"
            raise ValueError(msg)
        kept = set(keep)
        with self._lock:
            with _translated("listing applications for the retention policy"):
                rows = (
                    self._index()
                    .execute(
                        "SELECT a.application_id FROM applications AS a"
                        " LEFT JOIN blobs AS b USING (application_id)"
                        " GROUP BY a.application_id"
                        " HAVING coalesce(max(b.created_at), a.created_at) < ?"
                        " ORDER BY a.rowid",
                        (_iso(cutoff),),
                    )
                    .fetchall()
                )
            return sum(self.purge(str(row[0])) for row in rows if row[0] not in kept)

    # ----------------------------------------------------------------- internals

    def _index(self) -> sqlite3.Connection:
        if self._db is None:
            msg = "the biometric store is closed"
            raise BiometricStoreError(msg)
        return self._db

    def _stamp(self) -> datetime:
        stamp = self._now()
        if stamp.tzinfo is None:
            msg = "the store's clock returned a naive datetime"
            raise ValueError(msg)
        return stamp.astimezone(UTC)

    def _wrap(self, application_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = _frame(FORMAT_VERSION, b"ktpel-biostore data-key", application_id.encode())
        return bytes([FORMAT_VERSION]) + nonce + self._master.encrypt(nonce, data_key, aad)

    def _unwrap(self, application_id: str, wrapped: bytes, *, blob_id: str) -> bytes:
        if len(wrapped) != _HEADER_BYTES + KEY_BYTES + TAG_BYTES or wrapped[0] != FORMAT_VERSION:
            raise BlobCorrupt(blob_id, "the wrapped data key of its application is malformed")
        aad = _frame(wrapped[0], b"ktpel-biostore data-key", application_id.encode())
        try:
            return self._master.decrypt(wrapped[1:_HEADER_BYTES], wrapped[_HEADER_BYTES:], aad)
        except InvalidTag:
            raise BlobCorrupt(
                blob_id,
                "the data key of its application cannot be unwrapped"
                " (damaged index, or wrong master key)",
            ) from None

    def _delete_application(self, application_id: str) -> int:
        db = self._index()
        db.execute("BEGIN IMMEDIATE")
        try:
            destroyed = db.execute(
                "DELETE FROM blobs WHERE application_id = ?", (application_id,)
            ).rowcount
            db.execute("DELETE FROM applications WHERE application_id = ?", (application_id,))
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return max(destroyed, 0)

    def _sweep(self) -> None:
        """Remove what a power cut may have left: temp files, files and directories unknown
        to the index (written but never committed, or purged but not yet unlinked)."""
        db = self._index()
        live_dirs = {str(r[0]) for r in db.execute("SELECT dir FROM applications")}
        live_blobs = {str(r[0]) for r in db.execute("SELECT blob_id FROM blobs")}
        for entry in self._blobs.iterdir():
            if not _DIR_NAME.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
                continue  # not ours: leave it alone
            if entry.name not in live_dirs:
                _remove_tree(entry, self._blobs)
                continue
            removed = False
            for item in entry.iterdir():
                match = _BLOB_FILE.fullmatch(item.name)
                if _TEMP_FILE.fullmatch(item.name) or (match and match[1] not in live_blobs):
                    item.unlink()
                    removed = True
            if removed:
                _fsync_directory(entry)


# --------------------------------------------------------------------------- helpers


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    # One fixed format in UTC, so that text order is time order in SQL.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _check_application_id(application_id: str) -> None:
    if (
        not isinstance(application_id, str)
        or not 0 < len(application_id) <= MAX_APPLICATION_ID_CHARS
        or not application_id.isprintable()
    ):
        raise ValueError(
            f"application_id: 1 to {MAX_APPLICATION_ID_CHARS} printable characters required"
        )


def _checked_dir_name(name: str) -> str:
    if not _DIR_NAME.fullmatch(name):
        raise BiometricStoreError(f"index names an invalid blob directory {name!r}")
    return name


def _frame(version: int, *parts: bytes) -> bytes:
    """Unambiguous concatenation: the version byte, then each part length-prefixed."""
    return bytes([version]) + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _blob_aad(ref: BlobRef, version: int) -> bytes:
    return _frame(
        version,
        b"ktpel-biostore blob",
        ref.application_id.encode(),
        ref.blob_id.encode(),
        ref.modality.value.encode(),
        ref.label.encode(),
    )


def _ref_from_row(row: tuple[object, ...]) -> BlobRef:
    blob_id, application_id, modality, label, size, created_at = row
    try:
        return BlobRef(
            blob_id=str(blob_id),
            application_id=str(application_id),
            modality=Modality(str(modality)),
            label=str(label),
            size=int(str(size)),
            created_at=datetime.fromisoformat(str(created_at)),
        )
    except ValueError:
        raise BlobCorrupt(str(blob_id), "its index row is malformed") from None


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        # SQLite gives its -wal and -shm files the mode of the database file.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 5000")
        # The index is small and written a few times per applicant: checkpoint often and
        # keep the WAL short, so that it neither holds wrapped keys for long nor fills a
        # nearly full card with frames that cannot be checkpointed once the disk is full.
        db.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
    except BaseException:
        db.close()
        raise
    if mode.lower() != "wal":
        db.close()
        raise BiometricStoreError(f"{path}: cannot switch the index to WAL (got {mode})")
    return db


def _ensure_schema(db: sqlite3.Connection, master: AESGCM, key_path: Path) -> None:
    check_aad = _frame(FORMAT_VERSION, b"ktpel-biostore key-check")
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version not in {0, SCHEMA_VERSION}:
        raise BiometricStoreError(
            f"index schema version {version} is not {SCHEMA_VERSION} (newer software?)"
        )
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == 0:
            # Statement by statement: executescript() would commit the open transaction.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            nonce = os.urandom(NONCE_BYTES)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', ?)",
                (nonce + master.encrypt(nonce, b"", check_aad),),
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise
    row = db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
    check = bytes(row[0]) if row is not None else b""
    try:
        master.decrypt(check[:NONCE_BYTES], check[NONCE_BYTES:], check_aad)
    except (InvalidTag, ValueError):
        raise MasterKeyError(
            f"{key_path}: not the master key this biometric store was created with"
        ) from None


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _write_atomically(path: Path, content: bytes) -> None:
    """Temp file, fsync, rename, fsync the directory; on failure no temp file remains."""
    tmp = path.with_name(f".{path.stem}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_directory(path.parent)


def _remove_tree(app_dir: Path, parent: Path) -> None:
    """Unlink an application's blob files and its directory (one level, no symlinks)."""
    if not app_dir.is_dir() or app_dir.is_symlink():
        return
    for item in app_dir.iterdir():
        item.unlink()
    app_dir.rmdir()
    _fsync_directory(parent)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
