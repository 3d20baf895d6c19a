"""Login sessions: opaque tokens, kept in memory by a digest, closed when idle."""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.clock import Clock
    from appliance.staff._members import StaffMember

DEFAULT_SESSION_IDLE = timedelta(minutes=480)
DEFAULT_MAX_SESSIONS = 256


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

    def resolve(self, token: str, *, touch: bool = True) -> StaffMember | None:
        """The session's member, None if unknown or idle too long; refreshes the idle timer
        unless `touch` is false (a screen refreshing itself is not the officer's activity)."""
        key = _token_key(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock.monotonic_ns()
        if self._idle(session, now):
            del self._sessions[key]
            return None
        if touch:
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
