"""The central collector: every station's register, checked and stored once, and
acknowledged only once it is.

Messages arrive on an MQTT v5 shared subscription, so several collectors (sharing one
PostgreSQL) divide the stations' traffic between them. Three named tasks in one
TaskGroup form a pipeline: `receive` sorts messages (register messages to be checked,
state, telemetry and device status to be recorded); `check` verifies hashes and
signatures on every core (libsodium releases the GIL); `store` writes what passed in one
transaction per group of messages, then acknowledges. An `ack {"upto": N}` is published
only for the head the store reports: gapless, linked, verified and durable. A gap asks
the station to `resend` (at most once per `resend_interval_s`), and a message that fails
its check, a chain that breaks or a seq stored twice with different content flags the
station for the operations room.

Messages are PUBACKed as they arrive, before they are stored: safety does not rest on
the broker but on the station, which sends again whatever was not acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiomqtt

from appliance._backoff import Backoff
from appliance.clock import Clock, SystemClock
from appliance.logs import get_logger
from appliance.register import Event, PublicKey, StationKey, format_ts

from ._bounds import decode_document, printable
from ._check import BAD_SIGNATURE, MALFORMED, CheckedMessage, check_messages
from ._errors import MalformedMessage, RejectedMessage, StoreError
from ._keys import StationKeys
from ._mqtt import SESSION_ERRORS, Resolve, make_client, raise_if_stopping, session_errors
from ._settings import BrokerSection, CollectorSection
from ._signed import ACK, RESEND, CentralMessage, open_state, sign_message
from ._store import CollectorStore, Flag, IngestOutcome
from ._topics import TOPIC_ROOT, ParsedTopic, StationTopics, parse_topic

log = get_logger(__name__)

T = TypeVar("T")

# Messages waiting to be checked, here and in aiomqtt's queue. Past it aiomqtt drops what
# arrives: a fleet coming back from a long outage must not fill the collector's memory,
# and whatever is dropped is not acknowledged, so the stations send it again.
_QUEUE: Final = 1000
_FLAG_REPEAT_S: Final = 60.0
_FLAG_MEMORY: Final = 10_000
_UNKNOWN_STATION: Final = "unknown_station"
_CHAIN_BREAK: Final = "chain_break"
_CONFLICT: Final = "conflict"


@dataclass(frozen=True, slots=True)
class _Received:
    station: str
    payload: bytes


class Collector:
    def __init__(
        self,
        *,
        settings: CollectorSection,
        broker: BrokerSection,
        resolve: Resolve,
        store: CollectorStore,
        keys: StationKeys,
        signing_key: StationKey,
        clock: Clock | None = None,
        workers: int | None = None,
    ) -> None:
        self._settings = settings
        self._broker = broker
        self._resolve = resolve
        self._store = store
        self._keys = keys
        self._signing_key = signing_key
        self._clock = clock or SystemClock()
        self._workers = workers or os.cpu_count() or 1
        # One thread owns the store's connection; the others check signatures.
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="collector-store")
        self._check_threads = ThreadPoolExecutor(
            self._workers, thread_name_prefix="collector-check"
        )
        self._incoming: asyncio.Queue[_Received] = asyncio.Queue(_QUEUE)
        self._checked: asyncio.Queue[list[CheckedMessage]] = asyncio.Queue(2)
        self._resent_at: dict[str, float] = {}
        self._flagged_at: dict[tuple[str, str, int | None, str], float] = {}
        self.stored_events = 0
        """Events stored by this collector since it started (for the benchmark and logs)."""
        self.duplicates = 0
        """Events received again and absorbed."""
        self.acked: dict[str, int] = {}
        """The last head acknowledged per station."""
        self._handled = asyncio.Event()
        self.connected = asyncio.Event()

    async def wait_acked(self, station: str, seq: int) -> None:
        """Until this collector has acknowledged `seq` of `station` (bound it with
        asyncio.timeout)."""
        await self.wait_until(lambda: self.acked.get(station, 0) >= seq)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until `condition` holds, looked at after each message handled and each flag."""
        while not condition():
            await self._handled.wait()

    def _signal_handled(self) -> None:
        handled, self._handled = self._handled, asyncio.Event()
        handled.set()

    def close(self) -> None:
        self._check_threads.shutdown()
        self._store_thread.shutdown()

    async def run(self) -> None:
        """Collect until cancelled, reconnecting to the broker with backoff."""
        backoff = Backoff(
            initial_s=self._settings.reconnect_min_s,
            maximum_s=self._settings.reconnect_max_s,
            jitter=0.3,
        )
        rng = random.Random()  # noqa: S311 - jitter, not security
        while True:
            async for _ in backoff.delays(rng):
                try:
                    await self._session()
                except (*SESSION_ERRORS, StoreError) as exc:
                    raise_if_stopping(exc)
                    log.warning("collector_disconnected", error=str(exc))
                except Exception as exc:
                    # Whatever one message could provoke, a bug included, must not stop
                    # the fleet's collector: it is logged, and the session opened again.
                    raise_if_stopping(exc)
                    log.exception("collector_failed")
                finally:
                    was_up = self.connected.is_set()
                    self.connected.clear()
                if was_up:
                    break
            await asyncio.sleep(self._settings.reconnect_min_s)

    async def _session(self) -> None:
        client = make_client(
            self._broker,
            resolve=self._resolve,
            identifier=f"ktpel-central-{self._settings.id}",
            persistent_session_s=self._settings.session_expiry_s or None,
            max_queued_incoming=_QUEUE,
        )
        async with client:
            group = self._settings.share_group
            for kind in ("register", "state", "telemetry", "device/+"):
                await client.subscribe(f"$share/{group}/{TOPIC_ROOT}/+/{kind}", qos=1)
            self.connected.set()
            log.info("collector_connected", group=group, stations=len(self._keys))
            with session_errors(StoreError):
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._receive(client), name="collector-receive")
                    tasks.create_task(self._check(), name="collector-check")
                    tasks.create_task(self._store_and_ack(client), name="collector-store")

    # -- receive ------------------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = parse_topic(str(message.topic))
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if topic is None:
                log.warning("collector_topic_ignored", topic=str(message.topic))
            elif topic.kind == "register":
                await self._incoming.put(_Received(topic.station, payload))
            else:
                await self._record(topic, payload)
                self._signal_handled()

    async def _record(self, topic: ParsedTopic, payload: bytes) -> None:
        at = self._now()
        station = topic.station
        key = self._keys.get(station)
        if key is None:
            await self._flag(station, _UNKNOWN_STATION, None, "no registered public key")
            return
        if topic.kind == "state":
            await self._record_state(station, key, payload, at=at)
            return
        # Everything from the network is in bounds before it reaches the store.
        try:
            document = decode_document(payload, where=topic.kind)
        except MalformedMessage as exc:
            await self._flag(station, MALFORMED, None, str(exc))
            return
        if topic.kind == "telemetry":
            await self._in_store(self._store.record_telemetry, station, document, at=at)
        elif topic.kind == "device" and topic.name is not None:
            await self._in_store(self._store.record_device, station, topic.name, document, at=at)

    async def _record_state(self, station: str, key: PublicKey, payload: bytes, *, at: str) -> None:
        """Only what the station signed counts: a forged death would mark it offline until
        its next birth (issue 16, defect 8a). A death of an earlier session (a lower
        bd_seq, a Last Will the broker sends late) is the store's to ignore."""
        try:
            state = open_state(key, payload, station=station)
        except RejectedMessage as exc:
            kind = BAD_SIGNATURE if exc.forged else MALFORMED
            await self._flag(station, kind, None, f"state: {exc}")
            return
        await self._in_store(self._store.record_state, station, state.document, at=at)
        log.info("station_state", station=station, online=state.online, bd_seq=state.bd_seq)

    # -- check --------------------------------------------------------------------------

    async def _check(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            received = await self._take()
            items = []
            for message in received:
                key = self._keys.get(message.station)
                if key is None:
                    await self._flag(
                        message.station, _UNKNOWN_STATION, None, "no registered public key"
                    )
                    continue
                items.append((message.station, key, message.payload))
            shares = [items[index :: self._workers] for index in range(self._workers)]
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(self._check_threads, self._check_share, share)
                    for share in shares
                    if share
                )
            )
            await self._checked.put([checked for share in results for checked in share])

    def _check_share(self, share: list[tuple[str, PublicKey, bytes]]) -> list[CheckedMessage]:
        return check_messages(share, every_signature=self._settings.every_signature)

    async def _take(self) -> list[_Received]:
        """The next message and whatever else is waiting, up to `max_batch_events`-ish."""
        taken = [await self._incoming.get()]
        size = len(taken[0].payload)
        # A register event is ~0.7 kB on the wire: bound the group by bytes, not parsing.
        limit = self._settings.max_batch_events * 700
        while size < limit and not self._incoming.empty():
            message = self._incoming.get_nowait()
            taken.append(message)
            size += len(message.payload)
        return taken

    # -- store and acknowledge -----------------------------------------------------------

    async def _store_and_ack(self, client: aiomqtt.Client) -> None:
        while True:
            checked = await self._checked.get()
            try:
                await self._store_checked(client, checked)
            finally:
                self._signal_handled()

    async def _store_checked(self, client: aiomqtt.Client, checked: list[CheckedMessage]) -> None:
        for message in checked:
            for rejection in message.rejections:
                await self._flag(message.station, rejection.kind, rejection.seq, rejection.detail)
        batches: list[tuple[str, Sequence[Event]]] = [
            (message.station, message.events) for message in checked if message.events
        ]
        if not batches:
            return
        outcomes = await self._in_store(self._store.ingest, batches)
        self.stored_events += sum(outcome.stored for outcome in outcomes)
        self.duplicates += sum(outcome.duplicates for outcome in outcomes)
        heads: dict[str, IngestOutcome] = {}
        for outcome in outcomes:
            heads[outcome.station] = outcome  # the last outcome of a station is its head
            await self._flag_outcome(outcome)
        for station, outcome in heads.items():
            # Acknowledge even when nothing new was stored: a station re-sending what
            # is already here (it lost the retained ack with a broker's store) must
            # hear that it can stop.
            await self._publish(client, station, ACK, {"upto": outcome.head}, retain=True)
            self.acked[station] = outcome.head
            if outcome.gap_from is not None:
                await self._ask_resend(client, station, outcome.gap_from)

    async def _flag_outcome(self, outcome: IngestOutcome) -> None:
        if outcome.chain_break is not None:
            broken = outcome.chain_break
            await self._flag(
                outcome.station,
                _CHAIN_BREAK,
                broken.seq,
                f"links to {broken.prev_hash[:16]}…, the stored seq {broken.seq - 1} "
                f"is {broken.expected_prev_hash[:16]}…",
            )
        for conflict in outcome.conflicts:
            await self._flag(
                outcome.station,
                _CONFLICT,
                conflict.seq,
                f"stored as {conflict.stored_hash[:16]}…, received as "
                f"{conflict.received_hash[:16]}…: the station's history forked",
            )

    async def _ask_resend(self, client: aiomqtt.Client, station: str, start: int) -> None:
        now = time.monotonic()
        if now - self._resent_at.get(station, -1e9) < self._settings.resend_interval_s:
            return
        self._resent_at[station] = now
        log.info("collector_resend", station=station, start=start)
        await self._publish(client, station, RESEND, {"from": start}, retain=False)

    async def _publish(
        self, client: aiomqtt.Client, station: str, kind: str, args: dict[str, Any], *, retain: bool
    ) -> None:
        topics = StationTopics(station)
        topic = topics.ack if kind == ACK else topics.command(kind)
        payload = sign_message(self._signing_key, CentralMessage(station, kind, args))
        await client.publish(topic, payload, qos=1, retain=retain)

    async def _flag(self, station: str, kind: str, seq: int | None, detail: str) -> None:
        # A station repeating the same fault (a forged event it keeps being asked for)
        # is flagged once a minute, not once a message.
        now = time.monotonic()
        detail = printable(detail[:300])  # it may quote the network's text
        key = (station, kind, seq, detail)
        if now - self._flagged_at.get(key, -1e9) < _FLAG_REPEAT_S:
            return
        if len(self._flagged_at) >= _FLAG_MEMORY:  # a flood: forget what is past its minute
            recent = {k: t for k, t in self._flagged_at.items() if now - t < _FLAG_REPEAT_S}
            self._flagged_at = recent
        self._flagged_at[key] = now
        log.warning("station_flagged", station=station, kind=kind, seq=seq, detail=detail)
        flag = Flag(station=station, kind=kind, seq=seq, detail=detail, at=self._now())
        await self._in_store(self._store.flag, flag)
        self._signal_handled()

    async def _in_store(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_thread, lambda: function(*args, **kwargs))

    def _now(self) -> str:
        return format_ts(self._clock.wall_ns())
