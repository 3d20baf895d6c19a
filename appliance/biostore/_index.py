"""The store's index (`index.sqlite3`): applications with their wrapped data keys, blobs,
and the tally of purges not yet reported to the register.

It is opened through the station's one SQLite helper, with what the index adds: secure
deletion, foreign keys, and a short WAL (it is small and written a few times per
applicant: checkpoint often, so the WAL neither holds wrapped keys for long nor fills a
nearly full card with frames that cannot be checkpointed once the disk is full).
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag

from appliance import _sqlite

from ._errors import INDEX_ERRORS, MasterKeyError
from ._sealing import KEY_CHECK_AAD, NONCE_BYTES

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

INDEX_NAME: Final = "index.sqlite3"
WAL_AUTOCHECKPOINT_PAGES: Final = 16
WAL_SIZE_LIMIT_BYTES: Final = 64 * 1024
_PRAGMAS: Final = (
    "secure_delete = ON",
    "foreign_keys = ON",
    f"wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}",
    f"journal_size_limit = {WAL_SIZE_LIMIT_BYTES}",
)

_V1: Final = (
    """CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT""",
    """CREATE TABLE applications (
        application_id TEXT PRIMARY KEY,
        dir            TEXT NOT NULL UNIQUE,
        wrapped_key    BLOB NOT NULL,
        created_at     TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE blobs (
        blob_id        TEXT PRIMARY KEY,
        application_id TEXT NOT NULL REFERENCES applications (application_id),
        modality       TEXT NOT NULL,
        label          TEXT NOT NULL,
        size           INTEGER NOT NULL,
        created_at     TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX blobs_by_application ON blobs (application_id)",
)
# v2: what the purges destroyed and the register has not been told yet (counts only),
# and the register's seq up to which its purge reports have been taken into account.
_V2: Final = (
    """CREATE TABLE purge_tally (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        applications INTEGER NOT NULL CHECK (applications >= 0),
        blobs        INTEGER NOT NULL CHECK (blobs >= 0),
        reported_seq INTEGER
    ) STRICT""",
    "INSERT INTO purge_tally VALUES (1, 0, 0, NULL)",
)


def open_index(path: Path, master: AESGCM, key_path: Path) -> sqlite3.Connection:
    """Open (creating or migrating) the index, and check that `master` is its key."""
    db = _sqlite.connect(path, errors=INDEX_ERRORS, pragmas=_PRAGMAS)
    try:
        _sqlite.migrate(
            db,
            (lambda conn: _create_v1(conn, master), _create_v2),
            errors=INDEX_ERRORS,
            where=path,
            what="biometric index",
        )
        _check_master_key(db, master, key_path)
    except BaseException:
        db.close()
        raise
    return db


def read_held(directory: Path) -> dict[str, int]:
    """Read-only, without the master key: the applications the store at `directory` holds
    captures of, with their number of blobs. For `appliance doctor`; never writes."""
    path = directory / INDEX_NAME
    if not path.exists():
        return {}
    db = _sqlite.connect(path, errors=INDEX_ERRORS, read_only=True)
    try:
        with INDEX_ERRORS.translated(path):
            rows = db.execute(
                "SELECT a.application_id, count(b.blob_id) FROM applications AS a"
                " LEFT JOIN blobs AS b USING (application_id) GROUP BY a.application_id"
            ).fetchall()
    finally:
        db.close()
    return {str(app): int(count) for app, count in rows}


def _create_v1(db: sqlite3.Connection, master: AESGCM) -> None:
    for statement in _V1:
        db.execute(statement)
    nonce = os.urandom(NONCE_BYTES)
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('key_check', ?)",
        (nonce + master.encrypt(nonce, b"", KEY_CHECK_AAD),),
    )


def _create_v2(db: sqlite3.Connection) -> None:
    for statement in _V2:
        db.execute(statement)


def _check_master_key(db: sqlite3.Connection, master: AESGCM, key_path: Path) -> None:
    row = db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
    check = bytes(row[0]) if row is not None else b""
    try:
        master.decrypt(check[:NONCE_BYTES], check[NONCE_BYTES:], KEY_CHECK_AAD)
    except (InvalidTag, ValueError):
        raise MasterKeyError(
            f"{key_path}: not the master key this biometric store was created with"
        ) from None
