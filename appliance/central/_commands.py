"""Commands from the central office to a station, signed, and the log of every one sent
(component "commands" of the central office's database).

A command goes out on `ktpel/v1/{station}/cmd/{kind}`, signed with the central office's
key (`sign_message`: the station and the kind are in the signed body), at QoS 1 and not
retained: a station that is offline does not hear it, and a technician asks again when
it is back (a retained command would be heard again at every reconnect). The kinds:
- `resend` `{"from": N}`: send the register again from seq N (the collector sends it by
  itself on a gap; a person may too);
- `doctor`: run the check-up and publish its report on `ktpel/v1/{station}/doctor`. The
  sender fills the request's id (128 random bits, which the station refuses to see twice)
  and the time it was issued (the station refuses it an hour later).

Every command is written to the log, with who sent it, before it is published: a command
that reached a station is never missing from the log. The row's `sent_at` is set once
the broker confirmed the publish; a row without it is a command that may not have gone.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import aiomqtt

from appliance._secrets import SecretFileError
from appliance._text import Text
from appliance.clock import Clock, SystemClock
from appliance.errors import ApplianceError
from appliance.logs import get_logger
from appliance.register import StationKey
from appliance.sync import BrokerSection, CentralMessage, StationTopics, sign_message
from appliance.sync._bounds import MAX_INT, is_count
from appliance.sync._mqtt import SESSION_ERRORS, Resolve, make_client
from appliance.sync._signed import DOCTOR, RESEND

from ._database import Database

log = get_logger(__name__)

COMPONENT: Final = "commands"
KINDS: Final = (DOCTOR, RESEND)
"""The commands a station obeys."""
PUBLISH_TIMEOUT_S: Final = 10.0
_RECENT_DEFAULT: Final = 20
_RECENT_MAX: Final = 500
_STATION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""An MQTT username usable in a topic: no '/', '+', '#' or blank."""
_BY_MAX: Final = 200
_COLUMNS: Final = "id, station, kind, args, by_user, at, request, sent_at"
_NOT_SENT: Final = (*SESSION_ERRORS, TimeoutError, SecretFileError)
"""What keeps a command from the broker: it is logged, and the caller told."""


def _migrations(identity: str) -> list[list[str]]:
    return [
        [
            (
                "CREATE TABLE commands ("
                f" id {identity},"
                " station TEXT NOT NULL,"
                " kind TEXT NOT NULL,"
                " args TEXT NOT NULL,"
                " by_user TEXT NOT NULL,"
                " at TEXT NOT NULL,"
                " request TEXT UNIQUE,"
                " sent_at TEXT)"
            ),
            "CREATE INDEX commands_by_station ON commands (station, id)",
        ]
    ]


_MIGRATIONS: Final = {
    "sqlite": _migrations("INTEGER PRIMARY KEY AUTOINCREMENT"),
    "postgresql": _migrations("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRecord:
    """One command as the log keeps it."""

    id: int
    station: str
    kind: str
    args: dict[str, Any]
    """As signed and sent (for `doctor`, with its request id and time)."""
    by_user: str
    at: str
    """When it was issued: RFC 3339, UTC."""
    request: str | None
    """A `doctor` request's id, which its report carries back."""
    sent_at: str | None
    """When the broker confirmed it; None if it never did."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "station": self.station,
            "kind": self.kind,
            "args": self.args,
            "by_user": self.by_user,
            "at": self.at,
            "request": self.request,
            "sent_at": self.sent_at,
        }


class CommandError(ApplianceError):
    """A command refused before it was sent (nothing logged), or one not confirmed."""

    status: ClassVar[int] = 422

    def __init__(self, code: str, text: Text, *, field: str | None = None) -> None:
        super().__init__(text.en)
        self.code = code
        self.text = text
        self.field = field


class CommandNotSent(CommandError):
    """Logged, but the broker did not confirm it (down, or refusing the central user)."""

    status = 503

    def __init__(self, record: CommandRecord, error: str) -> None:
        super().__init__(
            "command_not_sent",
            Text(
                "Perintah tidak terkirim: broker tidak dapat dihubungi ({error}). Coba lagi.",
                "The command was not sent: the broker cannot be reached ({error}). Try again.",
            ).format(error=error),
        )
        self.record = record


class CommandLog:
    """The `commands` table on a `Database`; every method is one transaction."""

    def __init__(self, *, database: Database) -> None:
        self._db = database
        database.migrate(COMPONENT, _MIGRATIONS[database.dialect])

    def record(
        self,
        *,
        station: str,
        kind: str,
        args: Mapping[str, Any],
        by_user: str,
        at: str,
        request: str | None,
    ) -> CommandRecord:
        """Log a command about to be sent."""
        document = json.dumps(dict(args), ensure_ascii=False, sort_keys=True)
        with self._db.write() as cur:
            cur.execute(
                self._db.sql(
                    "INSERT INTO commands (station, kind, args, by_user, at, request) "  # noqa: S608 - constant columns
                    f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}"
                ),
                (station, kind, document, by_user, at, request),
            )
            return _record(cur.fetchone())

    def confirm(self, command_id: int, *, sent_at: str) -> CommandRecord:
        """The broker confirmed the command's publish."""
        with self._db.write() as cur:
            cur.execute(
                self._db.sql(
                    f"UPDATE commands SET sent_at = ? WHERE id = ? RETURNING {_COLUMNS}"  # noqa: S608 - constant columns
                ),
                (sent_at, command_id),
            )
            return _record(cur.fetchone())

    def recent(self, station: str, limit: int = _RECENT_DEFAULT) -> list[CommandRecord]:
        """`station`'s latest commands, the newest first."""
        limit = max(1, min(limit, _RECENT_MAX))
        with self._db.read() as cur:
            cur.execute(
                self._db.sql(
                    f"SELECT {_COLUMNS} FROM commands WHERE station = ? ORDER BY id DESC LIMIT ?"  # noqa: S608 - constant columns
                ),
                (station, limit),
            )
            return [_record(row) for row in cur.fetchall()]

    def by_request(self, request: str) -> CommandRecord | None:
        """The `doctor` command a report answers (its `request`)."""
        with self._db.read() as cur:
            cur.execute(
                self._db.sql(f"SELECT {_COLUMNS} FROM commands WHERE request = ?"),  # noqa: S608 - constant columns
                (request,),
            )
            row = cur.fetchone()
        return None if row is None else _record(row)


def _record(row: Any) -> CommandRecord:
    command_id, station, kind, args, by_user, at, request, sent_at = row
    return CommandRecord(
        id=int(command_id),
        station=station,
        kind=kind,
        args=json.loads(args),
        by_user=by_user,
        at=at,
        request=request,
        sent_at=sent_at,
    )


class CommandSender:
    """Signs, logs and publishes commands, over an MQTT connection of its own.

    The connection is opened at the first command and kept; a publish that fails drops
    it, and the command is tried once more on a fresh one. An injected `client` (already
    connected, its life the caller's) is used as it is.
    """

    def __init__(
        self,
        *,
        broker: BrokerSection,
        resolve: Resolve,
        signing_key: StationKey,
        database: Database,
        client_id: str,
        client: aiomqtt.Client | None = None,
        clock: Clock | None = None,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        self._broker = broker
        self._resolve = resolve
        self._key = signing_key
        self._log = CommandLog(database=database)
        self._client_id = client_id
        self._injected = client
        self._client: aiomqtt.Client | None = None
        self._clock = clock or SystemClock()
        self._publish_timeout_s = publish_timeout_s
        self._lock = asyncio.Lock()

    @property
    def log(self) -> CommandLog:
        return self._log

    async def send(
        self, station: str, kind: str, args: Mapping[str, Any], *, by: str
    ) -> CommandRecord:
        """Sign, log and publish `kind` to `station` on behalf of the user `by`.

        CommandError for a command refused before anything happened; CommandNotSent
        when it is logged but the broker did not confirm it."""
        if not isinstance(station, str) or not _STATION_ID.fullmatch(station):
            raise CommandError(
                "station_invalid",
                Text("Stasiun tidak dikenal.", "Unknown station."),
                field="station",
            )
        if not by.strip() or len(by) > _BY_MAX:
            raise CommandError(
                "by_missing",
                Text("Pengirim perintah wajib diisi.", "Who sends the command must be given."),
                field="by",
            )
        at = _rfc3339(self._clock)
        signed_args, request = _arguments(kind, args, issued_at=at)
        record = await asyncio.to_thread(
            self._log.record,
            station=station,
            kind=kind,
            args=signed_args,
            by_user=by,
            at=at,
            request=request,
        )
        payload = sign_message(self._key, CentralMessage(station, kind, signed_args))
        topic = StationTopics(station).command(kind)
        try:
            await self._publish(topic, payload)
        except _NOT_SENT as exc:
            error = str(exc) or type(exc).__name__
            log.warning("command_not_sent", station=station, kind=kind, id=record.id, error=error)
            raise CommandNotSent(record, error) from exc
        confirmed = await asyncio.to_thread(
            self._log.confirm, record.id, sent_at=_rfc3339(self._clock)
        )
        log.info("command_sent", station=station, kind=kind, id=record.id, by=by, request=request)
        return confirmed

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _publish(self, topic: str, payload: bytes) -> None:
        async with self._lock:
            if self._injected is not None:
                async with asyncio.timeout(self._publish_timeout_s):
                    await self._injected.publish(topic, payload, qos=1)
                return
            try:
                await self._publish_connected(topic, payload)
            except _NOT_SENT:
                # A connection the broker dropped meanwhile: once more on a fresh one.
                await self._drop()
                try:
                    await self._publish_connected(topic, payload)
                except _NOT_SENT:
                    await self._drop()
                    raise

    async def _publish_connected(self, topic: str, payload: bytes) -> None:
        client = await self._connected()
        async with asyncio.timeout(self._publish_timeout_s):
            await client.publish(topic, payload, qos=1)

    async def _connected(self) -> aiomqtt.Client:
        if self._client is None:
            client = make_client(self._broker, resolve=self._resolve, identifier=self._client_id)
            async with asyncio.timeout(self._publish_timeout_s):
                await client.__aenter__()
            self._client = client
        return self._client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                async with asyncio.timeout(self._publish_timeout_s):
                    await client.__aexit__(None, None, None)
            except (*SESSION_ERRORS, TimeoutError):
                log.debug("command_client_close_failed")


def _arguments(
    kind: str, args: Mapping[str, Any], *, issued_at: str
) -> tuple[dict[str, Any], str | None]:
    """The arguments to sign for `kind`, and a `doctor` request's id."""
    if kind == RESEND:
        start = args.get("from")
        if set(args) != {"from"} or not is_count(start, minimum=1):
            raise CommandError(
                "resend_from_invalid",
                Text(
                    f"'from' harus bilangan bulat 1 sampai {MAX_INT}.",
                    f"'from' must be an integer from 1 to {MAX_INT}.",
                ),
                field="from",
            )
        return {"from": start}, None
    if kind == DOCTOR:
        if args:
            raise CommandError(
                "doctor_args",
                Text(
                    "Permintaan diagnosis tidak memakai argumen.",
                    "A diagnosis request takes no arguments.",
                ),
            )
        request = uuid.uuid4().hex
        return {"request": request, "issued_at": issued_at}, request
    raise CommandError(
        "command_unknown",
        Text(f"Perintah {kind!r} tidak dikenal.", f"Unknown command {kind!r}."),
        field="kind",
    )


def _rfc3339(clock: Clock) -> str:
    return datetime.fromtimestamp(clock.wall_ns() / 1e9, UTC).isoformat(timespec="seconds")
