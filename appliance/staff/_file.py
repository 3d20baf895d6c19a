"""The staff file: a TOML list of people with their roles and argon2id hashes, mode 0600,
read strictly and replaced atomically."""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tomli_w
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from appliance._problems import describe as describe_validation_error
from appliance._secrets import _sync_directory
from appliance._text import Text
from appliance.domain import Role
from appliance.staff._errors import DuplicatePerson, InvalidPerson, StaffFileError, UnknownPerson
from appliance.staff._members import PERSON_ID_PATTERN, STAFF_ROLES, StaffMember, check_secret

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def staff_hasher() -> PasswordHasher:
    """argon2id at OWASP's 19 MiB, 2 passes, 1 lane: one of the settings its Password
    Storage Cheat Sheet rates as equal to the others it lists, and the lightest in memory.
    argon2-cffi's default (64 MiB, 4 lanes) made each login the daemon's largest
    allocation on a Raspberry Pi; six-digit PINs rest on the lockout and on the file being
    0600, not on the hash's cost alone. Hashes made earlier keep their own parameters
    until `appliance staff passwd`."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


_FILE_HEADER = (
    "# Staff of this KTP-el station: login names, roles and argon2id hashes of PINs.\n"
    "# Managed with `appliance staff add` and `appliance staff passwd`; see docs/staff.md.\n\n"
)


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


def read_document(path: Path) -> _StaffFile:
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
    document = read_document(path)
    if any(person.id == person_id for person in document.person):
        raise DuplicatePerson(person_id)
    secret_hash = (hasher or staff_hasher()).hash(secret)
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
    document = read_document(path)
    people = list(document.person)
    for index, person in enumerate(people):
        if person.id == person_id:
            secret_hash = (hasher or staff_hasher()).hash(secret)
            people[index] = person.model_copy(update={"secret": secret_hash})
            _write_document(path, _StaffFile(person=tuple(people)))
            return
    raise UnknownPerson(person_id)
