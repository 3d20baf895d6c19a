"""The staff package's refusals: one `StaffError` with a stable `code` and a bilingual `text`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from appliance._text import Text
from appliance.errors import ApplianceError

if TYPE_CHECKING:
    from pathlib import Path


class StaffError(ApplianceError):
    """A staff operation was refused.

    `code` is stable, for machines (API error bodies, tests); `text` is for people,
    Indonesian first. `str()` gives the English text, since it usually ends up in a log.
    """

    def __init__(self, code: str, text: Text) -> None:
        super().__init__(text.en)
        self.code = code
        self.text = text


class StaffFileError(StaffError):
    """The staff file cannot be used; names the file, the key and the problem."""

    def __init__(self, file: Path, key: str | None, problem: Text) -> None:
        where = f"{file}: {key}" if key else str(file)
        super().__init__(
            "staff_file", Text(id=f"{where}: {problem.id}", en=f"{where}: {problem.en}")
        )
        self.file = file
        self.key = key
        self.problem = problem


class AuthenticationFailed(StaffError):
    """Wrong secret or unknown login name: deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__(
            "authentication_failed",
            Text(
                id="Nama login atau PIN/kata sandi salah.",
                en="Wrong login name or PIN/password.",
            ),
        )


class AccountLocked(StaffError):
    """Too many wrong secrets in a row for this login name; refused even with the right one."""

    def __init__(self, *, seconds_remaining: int) -> None:
        minutes = math.ceil(seconds_remaining / 60)
        super().__init__(
            "account_locked",
            Text(
                id=f"Terlalu banyak percobaan gagal; coba lagi dalam {minutes} menit.",
                en=f"Too many failed attempts; try again in {minutes} minute(s).",
            ),
        )
        self.seconds_remaining = seconds_remaining


class WeakSecret(StaffError):
    """A new PIN or password does not meet the rules of `check_secret`."""

    def __init__(self, text: Text) -> None:
        super().__init__("weak_secret", text)


class UnknownPerson(StaffError):
    def __init__(self, person_id: str) -> None:
        super().__init__(
            "unknown_person",
            Text(
                id=f"Tidak ada petugas dengan nama login {person_id!r}.",
                en=f"No staff member has the login name {person_id!r}.",
            ),
        )
        self.person_id = person_id


class DuplicatePerson(StaffError):
    def __init__(self, person_id: str) -> None:
        super().__init__(
            "duplicate_person",
            Text(
                id=f"Nama login {person_id!r} sudah dipakai.",
                en=f"The login name {person_id!r} is taken already.",
            ),
        )
        self.person_id = person_id


class InvalidPerson(StaffError):
    """A new person's login name, name or roles break the staff file's rules."""

    def __init__(self, field: str, problem: Text) -> None:
        super().__init__(
            "invalid_person",
            Text(id=f"{field}: {problem.id}", en=f"{field}: {problem.en}"),
        )
        self.field = field
