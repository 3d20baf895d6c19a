"""The dashboard's users, kept in the central office's database (component "users"):
name, argon2id hash, role, scope, display name, disabled; and the lockout of user names
after repeated wrong passwords.

Several dashboard processes may serve one PostgreSQL database, so everything a login
depends on is in the database, never in a process's memory: the user (a role or scope
changed, or a user disabled, applies to the next request everywhere), the count of
failures (a name locked by one process is locked in all) and the sessions
(`_sessions.py`). Time is the injectable clock's wall time, which every process shares.

As on the station (appliance/staff), a wrong password, an unknown name and a disabled
user fail alike, after a verification of the same cost; failures are counted for names
nobody has too, so the lockout tells nothing about who exists.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance._text import Text
from appliance.clock import Clock
from appliance.errors import ApplianceError
from appliance.logs import get_logger
from appliance.staff import PERSON_ID_PATTERN, AccountLocked, AuthenticationFailed

from ._database import Database
from ._scope import DashboardRole, parse_scope

log = get_logger(__name__)

PASSWORD_MIN_CHARACTERS: Final = 10
_NAME: Final = re.compile(PERSON_ID_PATTERN)
_FORGET_FAILURES_NS: Final = 24 * 3600 * 1_000_000_000
"""A run of failures older than a day is forgotten (and its row pruned)."""

MIGRATIONS: Final = [
    [
        (
            "CREATE TABLE dashboard_users ("
            " name TEXT PRIMARY KEY,"
            " display_name TEXT NOT NULL,"
            " role TEXT NOT NULL CHECK (role IN ('pengamat', 'petugas', 'teknisi')),"
            " scope TEXT NOT NULL,"
            " password_hash TEXT NOT NULL,"
            " disabled INTEGER NOT NULL DEFAULT 0,"
            " created_at BIGINT NOT NULL)"
        ),
        (
            "CREATE TABLE dashboard_login_failures ("
            " name TEXT PRIMARY KEY,"
            " failures INTEGER NOT NULL,"
            " locked_until BIGINT,"
            " last_at BIGINT NOT NULL)"
        ),
        (
            "CREATE TABLE dashboard_sessions ("
            " token_digest TEXT PRIMARY KEY,"
            " csrf TEXT NOT NULL,"
            " user_name TEXT NOT NULL REFERENCES dashboard_users (name),"
            " created_at BIGINT NOT NULL,"
            " last_used BIGINT NOT NULL)"
        ),
        "CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_name)",
    ]
]


def migrate_users(database: Database) -> None:
    database.migrate("users", MIGRATIONS)


def dashboard_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106's low-memory choice: 64 MiB, 3
    passes, 4 lanes): the central office runs on a server, not a Raspberry Pi, and its
    dashboard may face a network."""
    return PasswordHasher()


class UserError(ApplianceError):
    """A user operation refused: a stable `code`, and a `text` for people."""

    def __init__(self, code: str, text: Text) -> None:
        super().__init__(text.en)
        self.code = code
        self.text = text


class UnknownUser(UserError):
    def __init__(self, name: str) -> None:
        super().__init__(
            "unknown_user",
            Text(f"Tidak ada pengguna {name!r}.", f"There is no user {name!r}."),
        )


class DuplicateUser(UserError):
    def __init__(self, name: str) -> None:
        super().__init__(
            "duplicate_user",
            Text(f"Nama pengguna {name!r} sudah dipakai.", f"The user name {name!r} is taken."),
        )


class InvalidUser(UserError):
    def __init__(self, field: str, problem: Text) -> None:
        super().__init__("invalid_user", Text(f"{field}: {problem.id}", f"{field}: {problem.en}"))
        self.field = field


class WeakPassword(UserError):
    def __init__(self) -> None:
        super().__init__(
            "weak_password",
            Text(
                f"Kata sandi harus sedikitnya {PASSWORD_MIN_CHARACTERS} karakter dan tidak "
                "hanya angka.",
                f"A password must have at least {PASSWORD_MIN_CHARACTERS} characters, not "
                "all digits.",
            ),
        )


@dataclass(frozen=True, slots=True)
class User:
    """A dashboard user as stored, without the hash."""

    name: str
    display_name: str
    role: DashboardRole
    scope: str
    disabled: bool = False


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_CHARACTERS or password.isdigit():
        raise WeakPassword


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidUser(
            "name",
            Text(
                "2-32 huruf kecil, angka, titik, garis bawah atau tanda hubung, diawali huruf",
                "2-32 lowercase letters, digits, dots, underscores or hyphens, starting "
                "with a letter",
            ),
        )
    return name


def _checked_display_name(display_name: str) -> str:
    if not display_name.strip() or not display_name.isprintable() or len(display_name) > 200:
        raise InvalidUser(
            "display_name",
            Text("teks yang dapat dicetak, 1-200 karakter", "printable text, 1-200 characters"),
        )
    return display_name.strip()


def _checked_scope(scope: str) -> str:
    try:
        return parse_scope(scope)
    except ValueError as exc:
        raise InvalidUser("scope", Text(str(exc), str(exc))) from None


def _user(row: tuple[object, ...]) -> User:
    name, display_name, role, scope, disabled = row
    return User(
        name=str(name),
        display_name=str(display_name),
        role=DashboardRole(str(role)),
        scope=str(scope),
        disabled=bool(disabled),
    )


_COLUMNS: Final = "name, display_name, role, scope, disabled"


class Users:
    """The users and their logins."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        hasher: PasswordHasher | None = None,
    ) -> None:
        if max_failures < 1 or lockout <= timedelta(0):
            raise ValueError("max_failures must be at least 1 and lockout positive")
        migrate_users(database)
        self._db = database
        self._clock = clock
        self._max_failures = max_failures
        self._lockout_ns = int(lockout.total_seconds() * 1_000_000_000)
        self._hasher = hasher or dashboard_hasher()
        # Unknown names are verified against a hash of the same cost, of a secret nobody has.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))
        # One verification at a time, in one thread: each takes the hash's memory cost.
        self._verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-verify")
        self._verifying = asyncio.Lock()

    # -- management (the CLI) --

    def add(
        self, *, name: str, display_name: str, role: DashboardRole, scope: str, password: str
    ) -> User:
        user = User(
            name=_checked_name(name),
            display_name=_checked_display_name(display_name),
            role=role,
            scope=_checked_scope(scope),
        )
        check_password(password)
        password_hash = self._hasher.hash(password)
        with self._db.write() as cur:
            cur.execute(self._db.sql("SELECT 1 FROM dashboard_users WHERE name = ?"), (name,))
            if cur.fetchone() is not None:
                raise DuplicateUser(name)
            cur.execute(
                self._db.sql(
                    "INSERT INTO dashboard_users (name, display_name, role, scope, "
                    "password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)"
                ),
                (
                    user.name,
                    user.display_name,
                    user.role.value,
                    user.scope,
                    password_hash,
                    self._clock.wall_ns(),
                ),
            )
        log.info("dashboard.user_added", user=user.name, role=user.role.value, scope=user.scope)
        return user

    def get(self, name: str) -> User | None:
        with self._db.read() as cur:
            cur.execute(
                self._db.sql(f"SELECT {_COLUMNS} FROM dashboard_users WHERE name = ?"),  # noqa: S608 - constant columns
                (name,),
            )
            row = cur.fetchone()
        return None if row is None else _user(row)

    def list(self) -> list[User]:
        with self._db.read() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM dashboard_users ORDER BY name")  # noqa: S608 - constant columns
            rows = cur.fetchall()
        return [_user(row) for row in rows]

    def set_disabled(self, name: str, *, disabled: bool) -> None:
        """Disable (or enable again) a user; disabling closes their sessions."""
        with self._db.write() as cur:
            cur.execute(
                self._db.sql("UPDATE dashboard_users SET disabled = ? WHERE name = ?"),
                (int(disabled), name),
            )
            if cur.rowcount == 0:
                raise UnknownUser(name)
            if disabled:
                cur.execute(
                    self._db.sql("DELETE FROM dashboard_sessions WHERE user_name = ?"), (name,)
                )
        log.info("dashboard.user_disabled" if disabled else "dashboard.user_enabled", user=name)

    def set_password(self, name: str, password: str) -> None:
        """A new password; the user's sessions close (a password changed because it leaked
        must not leave a session open with it)."""
        check_password(password)
        password_hash = self._hasher.hash(password)
        with self._db.write() as cur:
            cur.execute(
                self._db.sql("UPDATE dashboard_users SET password_hash = ? WHERE name = ?"),
                (password_hash, name),
            )
            if cur.rowcount == 0:
                raise UnknownUser(name)
            cur.execute(self._db.sql("DELETE FROM dashboard_sessions WHERE user_name = ?"), (name,))
            cur.execute(
                self._db.sql("DELETE FROM dashboard_login_failures WHERE name = ?"), (name,)
            )
        log.info("dashboard.password_set", user=name)

    # -- logging in --

    async def authenticate(self, name: str, password: str) -> User:
        """The user, if the password is theirs and they are not disabled.

        Raises AuthenticationFailed for a wrong password, an unknown name and a disabled
        user alike, and AccountLocked while the name is locked. The attempt is counted as
        a failure before the verification, so concurrent tries share the limit."""
        self._begin_attempt(name)
        async with self._verifying:
            loop = asyncio.get_running_loop()
            user = await loop.run_in_executor(self._verifier, self._verify, name, password)
        if user is None:
            raise AuthenticationFailed
        with self._db.write() as cur:
            cur.execute(
                self._db.sql("DELETE FROM dashboard_login_failures WHERE name = ?"), (name,)
            )
        return user

    def _begin_attempt(self, name: str) -> None:
        if not _NAME.fullmatch(name):
            return  # nobody can have this name: nothing to lock
        now = self._clock.wall_ns()
        with self._db.write() as cur:
            cur.execute(
                self._db.sql("DELETE FROM dashboard_login_failures WHERE last_at < ?"),
                (now - _FORGET_FAILURES_NS,),
            )
            cur.execute(
                self._db.sql("SELECT locked_until FROM dashboard_login_failures WHERE name = ?"),
                (name,),
            )
            row = cur.fetchone()
            if row is not None and row[0] is not None and int(row[0]) > now:
                raise AccountLocked(seconds_remaining=-(-(int(row[0]) - now) // 1_000_000_000))
            # One statement counts the failure, so two processes never lose one; a
            # lockout served starts a fresh count.
            cur.execute(
                self._db.sql(
                    "INSERT INTO dashboard_login_failures (name, failures, locked_until, last_at)"
                    " VALUES (?, 1, NULL, ?) ON CONFLICT (name) DO UPDATE SET"
                    " failures = CASE WHEN dashboard_login_failures.locked_until IS NULL"
                    " THEN dashboard_login_failures.failures + 1 ELSE 1 END,"
                    " locked_until = NULL, last_at = excluded.last_at"
                    " RETURNING failures"
                ),
                (name, now),
            )
            failures = int(cur.fetchone()[0])
            if failures >= self._max_failures:
                cur.execute(
                    self._db.sql(
                        "UPDATE dashboard_login_failures SET locked_until = ? WHERE name = ?"
                    ),
                    (now + self._lockout_ns, name),
                )
                if failures == self._max_failures:
                    log.warning("dashboard.login_locked", user=name, failures=failures)

    def _verify(self, name: str, password: str) -> User | None:
        with self._db.read() as cur:
            cur.execute(
                self._db.sql(
                    f"SELECT {_COLUMNS}, password_hash FROM dashboard_users WHERE name = ?"  # noqa: S608 - constant columns
                ),
                (name,),
            )
            row = cur.fetchone()
        password_hash = self._dummy_hash if row is None else str(row[5])
        try:
            self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        user = _user(row[:5])
        return None if user.disabled else user

    def close(self) -> None:
        self._verifier.shutdown(wait=False)
