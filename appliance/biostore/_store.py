"""The biometric store itself: put, get, list and purge captures, thread-safely."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance import _sqlite
from appliance._secrets import read_secret_file

from ._errors import BiometricStoreError, BlobCorrupt, BlobNotFound, MasterKeyError, translated
from ._errors import is_disk_full as _is_disk_full
from ._files import (
    BLOB_FILE,
    BLOB_ID,
    DIR_NAME,
    TEMP_FILE,
    checked_dir_name,
    fsync_directory,
    remove_quietly,
    remove_tree,
    write_atomically,
)
from ._index import INDEX_NAME, open_index
from ._model import KEY_BYTES, BlobRef, Modality, PurgeTally
from ._sealing import open_blob, seal_blob, unwrap_data_key, wrap_data_key

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

BLOBS_NAME: Final = "blobs"
MAX_APPLICATION_ID_CHARS: Final = 128
MAX_LABEL_CHARS: Final = 64


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
        with translated(f"biometric store {directory}"):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            (directory / BLOBS_NAME).mkdir(mode=0o700, exist_ok=True)
            db = open_index(directory / INDEX_NAME, master, master_key_path)
            try:
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
                with translated("biometric store: closing the index"):
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
        with self._lock, translated(subject, blob_id=blob_id):
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
                            wrap_data_key(self._master, application_id, data_key),
                            _iso(created_at),
                        ),
                    )
                else:
                    dir_name = str(row[0])
                    data_key = unwrap_data_key(
                        self._master, application_id, bytes(row[1]), blob_id=blob_id
                    )
                db.execute(
                    "INSERT INTO blobs (blob_id, application_id, modality, label, size,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (blob_id, application_id, modality.value, label, len(data), _iso(created_at)),
                )
                app_dir = self._blobs / checked_dir_name(dir_name)
                if not app_dir.is_dir():
                    app_dir.mkdir(mode=0o700)
                    created_dir = app_dir
                    fsync_directory(self._blobs)
                final = app_dir / f"{blob_id}.bin"
                write_atomically(final, seal_blob(data_key, ref, data))
                db.execute("COMMIT")
            except BaseException:
                _sqlite.rollback_quietly(db)
                if final is not None:
                    remove_quietly(final)
                if created_dir is not None:
                    remove_quietly(created_dir)
                raise
        return ref

    def get(self, blob_id: str) -> bytes:
        """Decrypt one capture. Raises `BlobNotFound` or `BlobCorrupt`."""
        if not isinstance(blob_id, str) or not BLOB_ID.fullmatch(blob_id):
            raise BlobNotFound(str(blob_id))
        with self._lock, translated(f"reading biometric blob {blob_id}", blob_id=blob_id):
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
            data_key = unwrap_data_key(
                self._master, ref.application_id, bytes(row[7]), blob_id=blob_id
            )
            path = self._blobs / checked_dir_name(str(row[6])) / f"{blob_id}.bin"
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raise BlobCorrupt(blob_id, "its file is missing") from None
        with translated(f"reading biometric blob {blob_id}", blob_id=blob_id):
            return open_blob(data_key, ref, raw)

    def list(self, application_id: str) -> builtins.list[BlobRef]:
        """The blobs of one application, in the order they were stored."""
        with self._lock, translated(f"listing biometric blobs of {application_id!r}"):
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

    def application_ids(self) -> builtins.list[str]:
        """Every application the store holds captures of, oldest first."""
        with self._lock, translated("listing the applications with biometric captures"):
            rows = (
                self._index()
                .execute("SELECT application_id FROM applications ORDER BY rowid")
                .fetchall()
            )
        return [str(row[0]) for row in rows]

    def purge(self, application_id: str) -> int:
        """Destroy every capture of one application; return how many blobs were destroyed.

        The wrapped data key is deleted first (committed, then the WAL truncated), the
        files after; the same transaction adds the purge to the tally of purges not yet
        reported to the register. Idempotent: purging an unknown or purged application
        returns 0. If the disk is so full that SQLite cannot record the deletion, the
        files are unlinked first to make room, and the deletion is retried.
        """
        with self._lock, translated(f"purging application {application_id!r}"):
            db = self._index()
            row = db.execute(
                "SELECT dir FROM applications WHERE application_id = ?", (application_id,)
            ).fetchone()
            if row is None:
                return 0
            app_dir = self._blobs / checked_dir_name(str(row[0]))
            try:
                destroyed = self._delete_application(application_id)
            except (OSError, sqlite3.Error) as exc:
                if not _is_disk_full(exc):
                    raise
                remove_tree(app_dir, self._blobs)
                destroyed = self._delete_application(application_id)
            with contextlib.suppress(sqlite3.Error):
                # Drop the WAL frames that still hold the wrapped key; close() retries.
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            remove_tree(app_dir, self._blobs)
        return destroyed

    def purge_tally(self) -> PurgeTally:
        """What purges destroyed that the register has not been told yet."""
        with self._lock, translated("reading the tally of biometric purges"):
            applications, blobs, reported_seq = (
                self._index()
                .execute("SELECT applications, blobs, reported_seq FROM purge_tally")
                .fetchone()
            )
        return PurgeTally(int(applications), int(blobs), reported_seq)

    def acknowledge_purges(self, *, through_seq: int, applications: int, blobs: int) -> None:
        """The register holds reports of purges up to `through_seq`, the newest of them
        counting `applications` and `blobs` from this tally: take them off it.

        Ignored unless `through_seq` is beyond what was acknowledged already, so that
        acknowledging the same report twice changes nothing.
        """
        with (
            self._lock,
            translated("updating the tally of biometric purges"),
            _sqlite.write_transaction(self._index()) as db,
        ):
            db.execute(
                "UPDATE purge_tally SET applications = max(0, applications - ?),"
                " blobs = max(0, blobs - ?), reported_seq = ?"
                " WHERE reported_seq IS NULL OR reported_seq < ?",
                (applications, blobs, through_seq, through_seq),
            )

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

    def _delete_application(self, application_id: str) -> int:
        with _sqlite.write_transaction(self._index()) as db:
            destroyed = max(
                db.execute(
                    "DELETE FROM blobs WHERE application_id = ?", (application_id,)
                ).rowcount,
                0,
            )
            db.execute("DELETE FROM applications WHERE application_id = ?", (application_id,))
            db.execute(
                "UPDATE purge_tally SET applications = applications + 1, blobs = blobs + ?",
                (destroyed,),
            )
        return destroyed

    def _sweep(self) -> None:
        """Remove what a power cut may have left: temp files, files and directories unknown
        to the index (written but never committed, or purged but not yet unlinked)."""
        db = self._index()
        live_dirs = {str(r[0]) for r in db.execute("SELECT dir FROM applications")}
        live_blobs = {str(r[0]) for r in db.execute("SELECT blob_id FROM blobs")}
        for entry in self._blobs.iterdir():
            if not DIR_NAME.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
                continue  # not ours: leave it alone
            if entry.name not in live_dirs:
                remove_tree(entry, self._blobs)
                continue
            removed = False
            for item in entry.iterdir():
                match = BLOB_FILE.fullmatch(item.name)
                if TEMP_FILE.fullmatch(item.name) or (match and match[1] not in live_blobs):
                    item.unlink()
                    removed = True
            if removed:
                fsync_directory(entry)


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
