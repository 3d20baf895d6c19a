"""Complainants' contacts, kept on the station and nowhere else.

A complaint's record travels: it is a register event, shipped to the central office and
exported with the register. A contact must not (UU 25/2009 and SP4N-LAPOR! keep a
complainant's identity confidential; the issue: only the roles that follow up see it,
and it never reaches the board). So the register's `complaint.received` carries no
contact at all, only `contact_ref`, a random token; the contact is written here, in a
file of its own beside the register (0600, in the 0700 state directory, as the register
and the biometric store are), under that token.

The token is random, not derived from the complaint or the person, so the register, the
central office and an export learn nothing from it but that a contact was given. A
contact is written before its complaint's event: if the event is then refused or the
station stops between the two, the contact is an orphan no event names, never another
complaint's (a numbered key could be reused by the next complaint). `forget` deletes
contacts, for a retention rule or a complainant's request.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Self

from appliance import _sqlite
from appliance._sqlite import ErrorMap, Failure
from appliance.errors import ApplianceError

from ._complaints import Contact


class ContactBookError(ApplianceError):
    """The contacts' file cannot be read or written."""


_ERRORS: Final = ErrorMap(
    default=ContactBookError,
    kinds={
        Failure.CORRUPT: (ContactBookError, "the complainants' contacts file is damaged"),
        Failure.FULL: (ContactBookError, "the disk is full; the contact was not written"),
        Failure.READ_ONLY: (ContactBookError, "the contacts file cannot be written"),
        Failure.LOCKED: (ContactBookError, "another process holds the contacts file"),
    },
)


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE contacts (ref TEXT PRIMARY KEY, name TEXT, phone TEXT, address TEXT) "
        "STRICT, WITHOUT ROWID"
    )


class ContactBook:
    def __init__(self, *, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self._path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> Self:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _sqlite.connect(path, errors=_ERRORS)
        try:
            _sqlite.migrate(conn, (_v1,), errors=_ERRORS, where=path, what="contacts")
        except BaseException:
            conn.close()
            raise
        return cls(connection=conn, path=path)

    def keep(self, contact: Contact) -> str:
        """Store `contact` durably; returns its token for the complaint's event."""
        ref = secrets.token_hex(16)
        with self._lock, _ERRORS.translated(self._path), _sqlite.write_transaction(self._conn):
            self._conn.execute(
                "INSERT INTO contacts VALUES (?, ?, ?, ?)",
                (ref, contact.name, contact.phone, contact.address),
            )
        return ref

    def get(self, ref: str) -> Contact | None:
        with self._lock, _ERRORS.translated(self._path):
            row = self._conn.execute(
                "SELECT name, phone, address FROM contacts WHERE ref = ?", (ref,)
            ).fetchone()
        if row is None:
            return None
        name, phone, address = row
        return Contact(name=name, phone=phone, address=address)

    def forget(self, refs: Iterable[str]) -> int:
        """Delete these contacts; returns how many there were."""
        chosen = list(refs)
        with self._lock, _ERRORS.translated(self._path), _sqlite.write_transaction(self._conn):
            before = self._conn.total_changes
            self._conn.executemany("DELETE FROM contacts WHERE ref = ?", ((r,) for r in chosen))
            return self._conn.total_changes - before

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


__all__ = ["ContactBook", "ContactBookError"]
