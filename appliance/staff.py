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
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import os
import re
import secrets
import stat
import tempfile
import tomllib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import tomli_w
from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from appliance._secrets import _sync_directory
from appliance._text import Text
from appliance.clock import Clock, SystemClock
from appliance.config import _problem as describe_validation_error
from appliance.domain import Role
from appliance.logs import get_logger

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

log = get_logger(__name__)

STAFF_ROLES: frozenset[Role] = frozenset({Role.COUNTER_OFFICER, Role.SECTION_HEAD, Role.OPERATOR})
"""The roles a person logging in may hold; the applicant is never staff."""

PERSON_ID_PATTERN = r"^[a-z][a-z0-9._-]{1,31}$"
PIN_MIN_DIGITS = 6
PASSWORD_MIN_CHARACTERS = 8
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCKOUT = timedelta(minutes=5)
DEFAULT_SESSION_IDLE = timedelta(minutes=480)
DEFAULT_MAX_SESSIONS = 256

_PERSON_ID = re.compile(PERSON_ID_PATTERN)
# Failure counts are kept for any well-formed name, including names nobody has, so this
# table must be bounded against someone cycling through invented names.
_MAX_TRACKED_NAMES = 4096
_FILE_HEADER = (
    "# Staff of this KTP-el station: login names, roles and argon2id hashes of PINs.\n"
    "# Managed with `appliance staff add` and `appliance staff passwd`; see docs/staff.md.\n\n"
)


class StaffError(Exception):
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


def check_secret(secret: str) -> None:
    """Refuse a PIN shorter than 6 digits, or a password shorter than 8 characters.

    All ASCII digits make a PIN; anything else is a password, and a password of digits
    only would be a PIN by another name.
    """
    if secret.isascii() and secret.isdigit():
        if len(secret) < PIN_MIN_DIGITS:
            raise WeakSecret(
                Text(
                    id=f"PIN harus sedikitnya {PIN_MIN_DIGITS} angka.",
                    en=f"A PIN must have at least {PIN_MIN_DIGITS} digits.",
                )
            )
    elif len(secret) < PASSWORD_MIN_CHARACTERS:
        raise WeakSecret(
            Text(
                id=(
                    f"Gunakan PIN sedikitnya {PIN_MIN_DIGITS} angka, atau kata sandi "
                    f"sedikitnya {PASSWORD_MIN_CHARACTERS} karakter yang tidak hanya angka."
                ),
                en=(
                    f"Use a PIN of at least {PIN_MIN_DIGITS} digits, or a password of at "
                    f"least {PASSWORD_MIN_CHARACTERS} characters that are not all digits."
                ),
            )
        )


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A person who may log in; carries no secret."""

    id: str
    name: str
    roles: frozenset[Role]

    def has_role(self, role: Role) -> bool:
        return role in self.roles


# --- The file -------------------------------------------------------------------------


def _staff_role(value: object) -> object:
    # Checked before the enum conversion, so that "pemohon" gets a message of its own
    # instead of an "Input should be" list that offers it.
    if value not in STAFF_ROLES:
        allowed = ", ".join(sorted(STAFF_ROLES))
        shown = repr(str(value)) if isinstance(value, str) else repr(value)
        raise ValueError(f"{shown} is not a staff role (one of: {allowed})")
    return value


def _display_name(value: str) -> str:
    if not value.strip() or not value.isprintable():
        raise ValueError("must be printable text, not blank")
    return value


def _argon2id_hash(value: str) -> str:
    # The message never quotes the value: it is a hash.
    try:
        parameters = extract_parameters(value)
    except InvalidHashError:
        parameters = None
    if parameters is None or parameters.type is not Type.ID:
        raise ValueError("not an argon2id hash (set it with `appliance staff passwd`)")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PersonEntry(_Model):
    id: Annotated[str, Field(pattern=PERSON_ID_PATTERN)]
    name: Annotated[str, Field(max_length=200), AfterValidator(_display_name)]
    roles: Annotated[list[Annotated[Role, BeforeValidator(_staff_role)]], Field(min_length=1)]
    secret: Annotated[str, AfterValidator(_argon2id_hash)]

    def member(self) -> StaffMember:
        return StaffMember(id=self.id, name=self.name, roles=frozenset(self.roles))


class _StaffFile(_Model):
    person: tuple[_PersonEntry, ...] = ()


def _key(location: Sequence[int | str]) -> str:
    """pydantic's error location as the file reads: `person[2].roles[0]`."""
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else part
    return key or "-"


def _read_private_file(path: Path) -> bytes | None:
    """The file's bytes, None if there is no file; refuses one others may read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StaffFileError(
            path,
            None,
            Text(id=f"tidak dapat dibuka: {exc.strerror}", en=f"cannot open: {exc.strerror}"),
        ) from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise StaffFileError(
                path,
                None,
                Text(
                    id=f"mode berkas {mode:04o}, harus 0600 (jalankan `chmod 600 {path}`)",
                    en=f"mode is {mode:04o}, must be 0600 (run `chmod 600 {path}`)",
                ),
            )
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read()
    except OSError as exc:
        raise StaffFileError(
            path,
            None,
            Text(id=f"tidak dapat dibaca: {exc.strerror}", en=f"cannot read: {exc.strerror}"),
        ) from None
    finally:
        os.close(fd)


def _read_document(path: Path) -> _StaffFile:
    raw = _read_private_file(path)
    if raw is None:
        return _StaffFile()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StaffFileError(path, None, Text(id="bukan teks UTF-8", en="not UTF-8 text")) from None
    except tomllib.TOMLDecodeError as exc:
        raise StaffFileError(
            path, None, Text(id=f"bukan TOML yang sah: {exc}", en=f"not valid TOML: {exc}")
        ) from None
    try:
        document = _StaffFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise StaffFileError(
            path, _key(error["loc"]), describe_validation_error(error).text
        ) from None
    first_index: dict[str, int] = {}
    for index, person in enumerate(document.person):
        first = first_index.setdefault(person.id, index)
        if first != index:
            raise StaffFileError(
                path,
                f"person[{index}].id",
                Text(
                    id=f"nama login {person.id!r} sudah dipakai di person[{first}]",
                    en=f"duplicate id {person.id!r} (also person[{first}])",
                ),
            )
    return document


def _write_document(path: Path, document: _StaffFile) -> None:
    """Replace the file atomically: a power cut leaves the old list or the new, whole."""
    content = _FILE_HEADER + tomli_w.dumps(document.model_dump(mode="json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600 under a fresh name in the same directory, so the
    # rename below stays on one file system.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def add_member(
    path: Path,
    *,
    person_id: str,
    name: str,
    roles: Iterable[Role],
    secret: str,
    hasher: PasswordHasher | None = None,
) -> StaffMember:
    """Add a person to the staff file (created if missing) with the hash of `secret`."""
    check_secret(secret)
    document = _read_document(path)
    if any(person.id == person_id for person in document.person):
        raise DuplicatePerson(person_id)
    secret_hash = (hasher or PasswordHasher()).hash(secret)
    try:
        entry = _PersonEntry(id=person_id, name=name, roles=list(roles), secret=secret_hash)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidPerson(_key(error["loc"]), describe_validation_error(error).text) from None
    _write_document(path, _StaffFile(person=(*document.person, entry)))
    return entry.member()


def set_secret(
    path: Path, person_id: str, secret: str, *, hasher: PasswordHasher | None = None
) -> None:
    """Replace a person's PIN or password; open sessions stay: see `Sessions.close_all`."""
    check_secret(secret)
    document = _read_document(path)
    people = list(document.person)
    for index, person in enumerate(people):
        if person.id == person_id:
            secret_hash = (hasher or PasswordHasher()).hash(secret)
            people[index] = person.model_copy(update={"secret": secret_hash})
            _write_document(path, _StaffFile(person=tuple(people)))
            return
    raise UnknownPerson(person_id)


# --- Logging in -----------------------------------------------------------------------


def _dummy_hash(parameters: Parameters) -> str:
    """An argon2id hash nobody knows a secret for, as costly to verify as a real one.

    Built from random bytes rather than hashed, so loading the directory costs nothing.
    """

    def encode(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii").rstrip("=")

    return (
        f"$argon2id$v={parameters.version}$m={parameters.memory_cost},"
        f"t={parameters.time_cost},p={parameters.parallelism}"
        f"${encode(secrets.token_bytes(parameters.salt_len))}"
        f"${encode(secrets.token_bytes(parameters.hash_len))}"
    )


def _hasher_parameters(hasher: PasswordHasher) -> Parameters:
    return Parameters(
        type=Type.ID,
        version=ARGON2_VERSION,
        salt_len=hasher.salt_len,
        hash_len=hasher.hash_len,
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
    )


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locked_until_ns: int | None = None

    def seconds_locked(self, now_ns: int) -> int:
        """Whole seconds left of the lockout, rounded up; 0 when not locked."""
        if self.locked_until_ns is None or now_ns >= self.locked_until_ns:
            return 0
        return math.ceil((self.locked_until_ns - now_ns) / 1_000_000_000)


class StaffDirectory:
    """The people of the staff file as loaded, and the lockout state of login names.

    A snapshot: after `add_member` or `set_secret`, load again to see the change.
    """

    def __init__(
        self,
        *,
        members: Sequence[StaffMember],
        secret_hashes: Mapping[str, str],
        clock: Clock,
        max_failures: int = DEFAULT_MAX_FAILURES,
        lockout: timedelta = DEFAULT_LOCKOUT,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if max_failures < 1 or lockout <= timedelta(0):
            raise ValueError("max_failures must be at least 1 and lockout positive")
        self._members = {member.id: member for member in members}
        self._secret_hashes = dict(secret_hashes)
        self._clock = clock
        self._max_failures = max_failures
        self._lockout_ns = int(lockout.total_seconds() * 1_000_000_000)
        self._hasher = hasher or PasswordHasher()
        # An unknown name is verified against a hash of the cost the real ones have.
        parameters = (
            extract_parameters(next(iter(self._secret_hashes.values())))
            if self._secret_hashes
            else _hasher_parameters(self._hasher)
        )
        self._dummy_hash = _dummy_hash(parameters)
        self._failures: OrderedDict[str, _Failures] = OrderedDict()  # least recent first

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        clock: Clock | None = None,
        max_failures: int = DEFAULT_MAX_FAILURES,
        lockout: timedelta = DEFAULT_LOCKOUT,
        hasher: PasswordHasher | None = None,
    ) -> StaffDirectory:
        """Read the staff file; a missing file is an empty directory (nobody can log in)."""
        document = _read_document(path)
        return cls(
            members=[person.member() for person in document.person],
            secret_hashes={person.id: person.secret for person in document.person},
            clock=clock or SystemClock(),
            max_failures=max_failures,
            lockout=lockout,
            hasher=hasher,
        )

    def reload(self, path: Path) -> list[str]:
        """Read the staff file again (SIGHUP, after `appliance staff add` or `passwd`);
        returns who was removed or changed, whose sessions must close. A file that does
        not read raises StaffFileError and changes nothing, and so does one that would
        leave nobody to log in (a file gone missing reads as empty). Lockouts are kept."""
        document = _read_document(path)
        if self._members and not document.person:
            raise StaffFileError(
                path,
                None,
                Text(
                    "tidak ada petugas lagi; daftar yang berjalan dipertahankan",
                    "nobody left in it; the running list is kept",
                ),
            )
        members = {person.id: person.member() for person in document.person}
        hashes = {person.id: person.secret for person in document.person}
        changed = [
            person_id
            for person_id, member in self._members.items()
            if members.get(person_id) != member
            or hashes.get(person_id) != self._secret_hashes[person_id]
        ]
        self._members, self._secret_hashes = members, hashes
        return changed

    def members(self) -> tuple[StaffMember, ...]:
        """Everyone, in the order of the file."""
        return tuple(self._members.values())

    def get(self, person_id: str) -> StaffMember | None:
        return self._members.get(person_id)

    def authenticate(self, person_id: str, secret: str) -> StaffMember:
        """The person, if `secret` is theirs; blocks for the argon2 verification.

        Raises AuthenticationFailed for a wrong secret and an unknown name alike, and
        AccountLocked while the name is locked.
        """
        self._begin_attempt(person_id)
        return self._end_attempt(person_id, self._verify(person_id, secret))

    async def authenticate_async(self, person_id: str, secret: str) -> StaffMember:
        """`authenticate` with the slow verification in a worker thread.

        The lockout bookkeeping stays on the event loop, so it needs no lock.
        """
        self._begin_attempt(person_id)
        member = await asyncio.to_thread(self._verify, person_id, secret)
        return self._end_attempt(person_id, member)

    def _begin_attempt(self, person_id: str) -> None:
        """Refuse a locked name, else count this attempt as a failure until it succeeds.

        Counting up front keeps concurrent attempts, all started before the first one
        fails, from getting more tries than `max_failures` between them.
        """
        if not _PERSON_ID.fullmatch(person_id):
            return  # nobody can have this name: nothing to lock, nothing to remember
        now = self._clock.monotonic_ns()
        failures = self._failures.pop(person_id, None)
        if failures is not None and (seconds_locked := failures.seconds_locked(now)):
            self._remember(person_id, failures, now)
            raise AccountLocked(seconds_remaining=seconds_locked)
        if failures is None or failures.locked_until_ns is not None:
            failures = _Failures()  # first failure, or a lockout served: a fresh count
        failures.count += 1
        if failures.count >= self._max_failures:
            failures.locked_until_ns = now + self._lockout_ns
        self._remember(person_id, failures, now)

    def _remember(self, person_id: str, failures: _Failures, now: int) -> None:
        self._failures[person_id] = failures
        if len(self._failures) > _MAX_TRACKED_NAMES:
            # Forget the least recent name that is not locked, so that a flood of
            # invented names cannot push a locked one out and unlock it.
            victim = next(
                (name for name, kept in self._failures.items() if not kept.seconds_locked(now)),
                next(iter(self._failures)),
            )
            del self._failures[victim]

    def _verify(self, person_id: str, secret: str) -> StaffMember | None:
        secret_hash = self._secret_hashes.get(person_id, self._dummy_hash)
        try:
            self._hasher.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return None
        return self._members.get(person_id)

    def _end_attempt(self, person_id: str, member: StaffMember | None) -> StaffMember:
        if member is None:
            failures = self._failures.get(person_id)
            if failures is not None and failures.count == self._max_failures:
                log.warning("staff.login_locked", person=person_id, failures=failures.count)
            raise AuthenticationFailed
        self._failures.pop(person_id, None)
        return member


# --- Sessions -------------------------------------------------------------------------


def _token_key(token: str) -> bytes:
    # Sessions are looked up by a digest of the token: lookup time then says nothing
    # about how much of a guessed token was right, and memory holds no usable token.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(slots=True)
class _Session:
    member: StaffMember
    last_used_ns: int


class Sessions:
    """Login sessions, in memory: a restart of the daemon logs everyone out.

    A session closes after `idle` without use. At most `capacity` stay open; beyond that
    the least recently used one is dropped. Sessions hold the member as it was at login:
    after a change of roles or PIN, `close_all` that person.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        idle: timedelta = DEFAULT_SESSION_IDLE,
        capacity: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        if idle <= timedelta(0) or capacity < 1:
            raise ValueError("idle must be positive and capacity at least 1")
        self._clock = clock
        self._idle_ns = int(idle.total_seconds() * 1_000_000_000)
        self._capacity = capacity
        self._sessions: OrderedDict[bytes, _Session] = OrderedDict()  # least recent first

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, member: StaffMember) -> str:
        """Open a session for `member`; the token is the only key to it."""
        now = self._clock.monotonic_ns()
        self._drop_idle(now)
        token = secrets.token_urlsafe(32)
        self._sessions[_token_key(token)] = _Session(member=member, last_used_ns=now)
        while len(self._sessions) > self._capacity:
            self._sessions.popitem(last=False)
        return token

    def resolve(self, token: str) -> StaffMember | None:
        """The session's member, None if unknown or idle too long; refreshes the idle timer."""
        key = _token_key(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock.monotonic_ns()
        if self._idle(session, now):
            del self._sessions[key]
            return None
        session.last_used_ns = now
        self._sessions.move_to_end(key)
        return session.member

    def close(self, token: str) -> None:
        self._sessions.pop(_token_key(token), None)

    def close_all(self, person_id: str) -> int:
        """Close every session of a person; returns how many were open."""
        keys = [key for key, session in self._sessions.items() if session.member.id == person_id]
        for key in keys:
            del self._sessions[key]
        return len(keys)

    def _idle(self, session: _Session, now: int) -> bool:
        return now - session.last_used_ns > self._idle_ns

    def _drop_idle(self, now: int) -> None:
        # Least recently used first: the idle ones are all at the front.
        while self._sessions:
            key, session = next(iter(self._sessions.items()))
            if not self._idle(session, now):
                return
            del self._sessions[key]
