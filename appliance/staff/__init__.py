"""The station's staff: who may log in, in which SOP roles, and their login sessions.

Every operator action of the local API is authorised by role, so the staff file is the
station's list of keys. Its design follows from where the station stands, a box in a
public office on a local network:

- PINs and passwords are stored only as argon2id hashes (argon2-cffi's defaults, tens of
  milliseconds and 64 MiB per try), so a copied SD card does not hand over six-digit PINs
  that a fast hash would give up in seconds. The file is still mode 0600.
- A login name is locked after a run of wrong secrets, so the few PINs a person at the
  counter could try by hand are all they get; the count is kept for names nobody has too,
  so a lockout does not reveal who works here.
- A wrong secret and an unknown name fail with the same error, after verifying against a
  hash of the same cost, so neither the answer nor its timing tells which it was.
- Secrets and hashes are never logged, and never part of an error message or a repr.

Inside: `_members` (who may be staff, what a secret must be), `_file` (the staff file),
`_directory` (logging in: verification and lockout), `_sessions`, and `_errors` (the
`StaffError` taxonomy, an `ApplianceError`).
"""

from __future__ import annotations

from appliance.staff._directory import DEFAULT_LOCKOUT, DEFAULT_MAX_FAILURES, StaffDirectory
from appliance.staff._errors import (
    AccountLocked,
    AuthenticationFailed,
    DuplicatePerson,
    InvalidPerson,
    StaffError,
    StaffFileError,
    UnknownPerson,
    WeakSecret,
)
from appliance.staff._file import add_member, set_secret
from appliance.staff._members import (
    PASSWORD_MIN_CHARACTERS,
    PERSON_ID_PATTERN,
    PIN_MIN_DIGITS,
    STAFF_ROLES,
    StaffMember,
    check_secret,
)
from appliance.staff._sessions import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE, Sessions

__all__ = [
    "DEFAULT_LOCKOUT",
    "DEFAULT_MAX_FAILURES",
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_SESSION_IDLE",
    "PASSWORD_MIN_CHARACTERS",
    "PERSON_ID_PATTERN",
    "PIN_MIN_DIGITS",
    "STAFF_ROLES",
    "AccountLocked",
    "AuthenticationFailed",
    "DuplicatePerson",
    "InvalidPerson",
    "Sessions",
    "StaffDirectory",
    "StaffError",
    "StaffFileError",
    "StaffMember",
    "UnknownPerson",
    "WeakSecret",
    "add_member",
    "check_secret",
    "set_secret",
]
