"""The staff as loaded, and logging in: argon2id verification and the lockout of login names."""

from __future__ import annotations

import asyncio
import base64
import math
import re
import secrets
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION

from appliance._text import Text
from appliance.clock import Clock, SystemClock
from appliance.logs import get_logger
from appliance.staff._errors import AccountLocked, AuthenticationFailed, StaffFileError
from appliance.staff._file import read_document, staff_hasher
from appliance.staff._members import PERSON_ID_PATTERN

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from appliance.staff._members import StaffMember

log = get_logger("appliance.staff")

DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCKOUT = timedelta(minutes=5)

_PERSON_ID = re.compile(PERSON_ID_PATTERN)
# Failure counts are kept for any well-formed name, including names nobody has, so this
# table must be bounded against someone cycling through invented names.
_MAX_TRACKED_NAMES = 4096


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
        self._hasher = hasher or staff_hasher()
        # An unknown name is verified against a hash of the cost the real ones have.
        parameters = (
            extract_parameters(next(iter(self._secret_hashes.values())))
            if self._secret_hashes
            else _hasher_parameters(self._hasher)
        )
        self._dummy_hash = _dummy_hash(parameters)
        # One verification at a time: each takes the hash's memory cost (64 MiB with
        # argon2-cffi's defaults), so officers logging in together at opening, or anyone
        # on the network sending logins at once, would otherwise stack those up (four at
        # once were the daemon's 353 MiB peak of a simulated day). Waiters wait on the
        # event loop, not in the executor's threads.
        self._verifying = asyncio.Lock()
        # And always in the same thread: glibc gives each thread its own malloc arena and
        # keeps a freed 19 MiB hash buffer in it, so verifications spread over the
        # default executor's threads kept one such buffer per thread (benchmarks/console.py:
        # 47 MB more after the consoles' sign-ins, 0 in one thread).
        self._verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pin-verify")
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
        document = read_document(path)
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
        document = read_document(path)
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
        """`authenticate` with the slow verification in a worker thread, one at a time.

        The lockout bookkeeping stays on the event loop, so it needs no lock.
        """
        self._begin_attempt(person_id)
        async with self._verifying:
            loop = asyncio.get_running_loop()
            member = await loop.run_in_executor(self._verifier, self._verify, person_id, secret)
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
