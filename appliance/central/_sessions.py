"""Dashboard sessions, in the central office's database so that every dashboard process
behind one address knows them: a row per session, found by the SHA-256 digest of its
token (the database holds no usable token), with the CSRF token its forms carry, its
user and when it was last used. A session unused for the idle limit is closed; a
user disabled, or given a new password, loses every session (`_users.py`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from appliance.clock import Clock

from ._database import Database
from ._users import User, _user, migrate_users

_PRUNE_EVERY_NS: Final = 60 * 1_000_000_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    """The user as the database has them now (role and scope changes apply at once)."""
    csrf: str
    """The token every form of this session carries back."""


class Sessions:
    def __init__(self, *, database: Database, clock: Clock, idle: timedelta) -> None:
        if idle <= timedelta(0):
            raise ValueError("idle must be positive")
        migrate_users(database)
        self._db = database
        self._clock = clock
        self._idle_ns = int(idle.total_seconds() * 1_000_000_000)
        self._pruned_at = 0

    def open(self, user: User) -> tuple[str, Session]:
        """A new session for `user`: its token (the cookie's value, known only to the
        browser) and the session."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock.wall_ns()
        with self._db.write() as cur:
            cur.execute(
                self._db.sql(
                    "INSERT INTO dashboard_sessions (token_digest, csrf, user_name, created_at,"
                    " last_used) VALUES (?, ?, ?, ?, ?)"
                ),
                (_digest(token), csrf, user.name, now, now),
            )
        self._prune(now)
        return token, Session(user=user, csrf=csrf)

    def resolve(self, token: str, *, touch: bool = True) -> Session | None:
        """The open session of `token`, None if unknown, idle too long or its user is
        disabled; `touch` restarts its idle time (a page's own live refreshes do not)."""
        digest = _digest(token)
        now = self._clock.wall_ns()
        with self._db.read() as cur:
            cur.execute(
                self._db.sql(
                    "SELECT u.name, u.display_name, u.role, u.scope, u.disabled, s.csrf,"
                    " s.last_used FROM dashboard_sessions s JOIN dashboard_users u"
                    " ON u.name = s.user_name WHERE s.token_digest = ?"
                ),
                (digest,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        user = _user(row[:5])
        if user.disabled or now - int(row[6]) > self._idle_ns:
            self._delete(digest)
            return None
        if touch:
            with self._db.write() as cur:
                cur.execute(
                    self._db.sql(
                        "UPDATE dashboard_sessions SET last_used = ? WHERE token_digest = ?"
                    ),
                    (now, digest),
                )
        return Session(user=user, csrf=str(row[5]))

    def close(self, token: str) -> None:
        self._delete(_digest(token))

    def count(self, user: str) -> int:
        with self._db.read() as cur:
            cur.execute(
                self._db.sql("SELECT COUNT(*) FROM dashboard_sessions WHERE user_name = ?"),
                (user,),
            )
            return int(cur.fetchone()[0])

    def _delete(self, digest: str) -> None:
        with self._db.write() as cur:
            cur.execute(
                self._db.sql("DELETE FROM dashboard_sessions WHERE token_digest = ?"), (digest,)
            )

    def _prune(self, now: int) -> None:
        if now - self._pruned_at < _PRUNE_EVERY_NS:
            return
        self._pruned_at = now
        with self._db.write() as cur:
            cur.execute(
                self._db.sql("DELETE FROM dashboard_sessions WHERE last_used < ?"),
                (now - self._idle_ns,),
            )
