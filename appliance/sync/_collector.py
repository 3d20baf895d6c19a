"""The central collector: every station's register, checked and stored once, and
acknowledged only once it is.

Messages arrive on an MQTT v5 shared subscription, so several collectors (sharing one
PostgreSQL) divide the stations' traffic between them. Named tasks in one TaskGroup form
a pipeline: `receive` sorts messages (register messages to a queue per station, the
latest state, telemetry, device status and doctor report of each station to a slot of
its own); `check` takes register messages round-robin over the stations and has worker
processes decode them and verify hashes and signatures on every core (`CheckPool`);
`store` writes what passed, in the order taken, in one transaction per group, then
acknowledges; `records` writes the latest records and the flags in batches. An
`ack {"upto": N}` is published only for the head the store reports: gapless, linked,
verified and durable. A gap asks the station to `resend` (at most once per
`resend_interval_s`), and a message that fails its check, a chain that breaks or a seq
stored twice with different content flags the station for the operations room.

Messages are PUBACKed once the collector has room for them, before they are stored:
safety does not rest on the broker but on the station, which sends again whatever was
not acknowledged. Until there is room the broker keeps them (MQTT v5's Receive Maximum),
and one station's flood cannot take another's room (`_collector_queues`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiomqtt

from appliance._backoff import Backoff
from appliance.clock import Clock, SystemClock
from appliance.logs import get_logger
from appliance.register import Event, StationKey, format_ts

from ._check import MALFORMED, CheckedMessage, WireItem
from ._check_pool import CheckPool, CheckPoolBroken
from ._collector_flags import UNKNOWN_STATION, Flagger
from ._collector_queues import LatestRecords, RegisterQueue, Waiting
from ._collector_records import DEVICES_PER_STATION, RecordIntake, write_records
from ._collector_stats import CollectorCounters, CollectorStats, snapshot
from ._errors import StoreError
from ._keys import StationKeys
from ._mqtt import Resolve, keep_reconnecting, make_client, puback, session_errors
from ._settings import BrokerSection, CollectorSection
from ._signed import ACK, RESEND, CentralMessage, sign_message
from ._store import CollectorStore, IngestOutcome
from ._topics import TOPIC_ROOT, StationTopics, parse_topic

log = get_logger(__name__)

T = TypeVar("T")

# QoS 1 messages the broker may have sent and the collector not yet PUBACKed: past it the
# broker keeps them queued for the collector's session.
_RECEIVE_MAXIMUM: Final = 256
# Past this many unread, the broker is not keeping to the Receive Maximum.
_UNREAD_WARNING: Final = 4 * _RECEIVE_MAXIMUM
# Register messages waiting to be checked, in bytes in all (a message is at most 512 KiB)
# and in messages per station (the uplink has at most ~20 out, 40 while it sends again).
_QUEUE_BYTES: Final = 64 * 1024 * 1024
_STATION_MESSAGES: Final = 32
# What a worker is handed at once (~2,000 events), and how many such pieces are out.
_CHUNK_BYTES: Final = 1_500_000
_CHUNKS_PER_WORKER: Final = 2
_EVENT_BYTES: Final = 700  # a register event on the wire, roughly
# How often the heads acknowledged are looked at again while busy (`_confirm_acks`).
_CONFIRM_S: Final = 1.0
_RECORDS_BATCH: Final = 500
_SUBSCRIBED: Final = ("register", "state", "telemetry", "device/+", "doctor")


@dataclass(slots=True)
class _InCheck:
    """A piece of register messages out to the check, in the order taken."""

    task: asyncio.Task[list[CheckedMessage]]
    messages: int
    bytes: int
    since: float


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
        records_store: CollectorStore | None = None,
    ) -> None:
        """`workers`: the check's worker processes, one per core by default; 0 checks
        on threads of this process instead. `records_store`: a second connection to the
        same database for the state, telemetry, device, doctor records and the flags, on
        a thread of its own, so that they do not wait behind the register's ingest (a
        fleet's devices reporting at once are tens of thousands of records); without
        it they take turns on `store`."""
        self._settings = settings
        self._broker = broker
        self._resolve = resolve
        self._store = store
        self._keys = keys
        self._signing_key = signing_key
        self._clock = clock or SystemClock()
        self._pool = CheckPool(processes=workers, every_signature=settings.every_signature)
        # One thread owns each store's connection.
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="collector-store")
        self._records_store = records_store or store
        self._records_thread = (
            ThreadPoolExecutor(1, thread_name_prefix="collector-records")
            if records_store is not None
            else self._store_thread
        )
        self._register = RegisterQueue(per_station=_STATION_MESSAGES, max_bytes=_QUEUE_BYTES)
        self._records = LatestRecords(devices_per_station=DEVICES_PER_STATION)
        self._in_check: deque[_InCheck] = deque()
        self._storing: list[_InCheck] = []
        self._in_check_changed = asyncio.Event()
        self._chunk_bytes = min(_CHUNK_BYTES, settings.max_batch_events * _EVENT_BYTES)
        self._resent_at: dict[str, float] = {}
        self._unconfirmed: set[str] = set()
        self._confirmed_at = 0.0
        self._counters = CollectorCounters()
        self._flagger = Flagger(records=self._records, counters=self._counters, now=self._now)
        self._intake = RecordIntake(keys=keys, records=self._records, flagger=self._flagger)
        self.acked: dict[str, int] = {}
        """The last head acknowledged per station."""
        self._handled = asyncio.Event()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None

    @property
    def stored_events(self) -> int:
        """Events stored by this collector since it started (for the benchmark and logs)."""
        return self._counters.events_stored

    @property
    def duplicates(self) -> int:
        """Events received again and absorbed."""
        return self._counters.events_duplicate

    @property
    def stats(self) -> CollectorStats:
        """Counters since the start and gauges now, for /metrics."""
        pieces = (*self._in_check, *self._storing)
        return snapshot(
            self._counters,
            register=self._register,
            records=self._records,
            pieces=[(piece.messages, piece.bytes, piece.since) for piece in pieces],
            connected=self.connected.is_set(),
            unread=len(self._client.messages) if self._client is not None else 0,
        )

    @property
    def worker_pids(self) -> list[int]:
        """The check's worker processes (for the benchmark's memory figures)."""
        return self._pool.worker_pids()

    async def wait_acked(self, station: str, seq: int) -> None:
        """Until this collector has acknowledged `seq` of `station` (bound it with
        asyncio.timeout)."""
        await self.wait_until(lambda: self.acked.get(station, 0) >= seq)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until `condition` holds, looked at after each message received, each group
        stored and each batch of records and flags."""
        while not condition():
            await self._handled.wait()

    def _signal_handled(self) -> None:
        handled, self._handled = self._handled, asyncio.Event()
        handled.set()

    def close(self) -> None:
        self._pool.close()
        self._store_thread.shutdown()
        self._records_thread.shutdown()

    async def run(self) -> None:
        """Collect until cancelled, reconnecting to the broker with backoff."""
        await keep_reconnecting(
            self._session,
            backoff=Backoff(
                initial_s=self._settings.reconnect_min_s,
                maximum_s=self._settings.reconnect_max_s,
                jitter=0.3,
            ),
            connected=self.connected,
            expected=(StoreError, CheckPoolBroken),
            log=log,
            name="collector",
        )

    async def _session(self) -> None:
        client = make_client(
            self._broker,
            resolve=self._resolve,
            identifier=f"ktpel-central-{self._settings.id}",
            persistent_session_s=self._settings.session_expiry_s or None,
            receive_maximum=_RECEIVE_MAXIMUM,
            max_in_flight=_RECEIVE_MAXIMUM,
        )
        # Acknowledgements go out together, one per station of a group.
        client.pending_calls_threshold = 100_000
        try:
            async with client:
                self._client = client
                group = self._settings.share_group
                for kind in _SUBSCRIBED:
                    await client.subscribe(f"$share/{group}/{TOPIC_ROOT}/+/{kind}", qos=1)
                self.connected.set()
                log.info("collector_connected", group=group, stations=len(self._keys))
                with session_errors(StoreError, CheckPoolBroken):
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self._receive(client), name="collector-receive")
                        tasks.create_task(self._check(), name="collector-check")
                        tasks.create_task(self._store_and_ack(client), name="collector-store")
                        tasks.create_task(self._keep_records(), name="collector-records")
        finally:
            self._client = None
            # What was out to the check is dropped with the session: it was not
            # acknowledged, so the stations send it again.
            for piece in self._in_check:
                piece.task.cancel()
            self._in_check.clear()
            self._storing.clear()

    # -- receive ------------------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> None:
        warned = False
        async for message in client.messages:
            unread = len(client.messages)
            self._counters.unread_peak = max(self._counters.unread_peak, unread)
            if unread > _UNREAD_WARNING and not warned:
                # Then a backlog at the broker moves into this process's memory, and
                # flow control rests on the register queue's bound alone.
                warned = True
                log.warning(
                    "broker_ignores_receive_maximum",
                    unread=unread,
                    receive_maximum=_RECEIVE_MAXIMUM,
                    hint="mosquitto before 2.0.13 (eclipse/mosquitto#2306)",
                )
            topic = parse_topic(str(message.topic))
            payload = message.payload if isinstance(message.payload, bytes) else b""
            at = self._now()
            since = time.monotonic()
            if topic is None:
                self._counters.received["other"] += 1
                log.warning("collector_topic_ignored", topic=str(message.topic))
            elif topic.kind == "register":
                self._counters.received["register"] += 1
                # Room in all is waited for (the broker keeps the rest); a station past
                # its own share is dropped at once, so it cannot hold up the others.
                await self._register.room()
                if not self._register.offer(Waiting(topic.station, payload, since)):
                    self._counters.dropped += 1
            else:
                self._counters.received[topic.kind] += 1
                self._intake.take(topic, payload, at=at, since=since)
            puback(client, message)
            self._signal_handled()

    # -- records ------------------------------------------------------------------------

    async def _keep_records(self) -> None:
        while True:
            flags, records = await self._records.take(_RECORDS_BATCH)
            try:
                malformed = await self._in_store(
                    write_records,
                    self._records_store,
                    flags,
                    records,
                    executor=self._records_thread,
                )
                self._counters.flags[MALFORMED] += malformed
            except BaseException:
                self._records.restore(flags, records, time.monotonic())
                raise
            finally:
                self._signal_handled()

    # -- check --------------------------------------------------------------------------

    async def _check(self) -> None:
        limit = _CHUNKS_PER_WORKER * self._pool.workers
        while True:
            while len(self._in_check) >= limit:
                await self._in_check_wait()
            taken = await self._register.take(self._chunk_bytes)
            items: list[WireItem] = []
            for message in taken:
                key = self._keys.get(message.station)
                if key is None:
                    detail = "no registered public key"
                    self._flagger.flag(message.station, UNKNOWN_STATION, None, detail)
                    continue
                items.append((message.station, key.raw, message.payload))
            task = asyncio.create_task(self._checked(items), name="collector-check-piece")
            size = sum(len(message.payload) for message in taken)
            self._in_check.append(_InCheck(task, len(taken), size, taken[0].since))
            self._in_check_signal()

    async def _checked(self, items: list[WireItem]) -> list[CheckedMessage]:
        return await self._pool.check(items) if items else []

    def _in_check_signal(self) -> None:
        changed, self._in_check_changed = self._in_check_changed, asyncio.Event()
        changed.set()

    async def _in_check_wait(self) -> None:
        await self._in_check_changed.wait()

    async def _next_checked(self) -> list[CheckedMessage]:
        """The oldest piece out to the check, with those behind it that are done too, up
        to `max_batch_events`: one transaction for all of them, in the order taken. They
        stay in `_storing` until stored."""
        while not self._in_check:
            await self._in_check_wait()
        checked = list(await self._in_check[0].task)
        self._storing.append(self._in_check.popleft())
        events = sum(len(message.events) for message in checked)
        while (
            self._in_check
            and self._in_check[0].task.done()
            and events < self._settings.max_batch_events
        ):
            piece = self._in_check.popleft()
            self._storing.append(piece)
            more = piece.task.result()
            checked += more
            events += sum(len(message.events) for message in more)
        self._in_check_signal()
        return checked

    # -- store and acknowledge -----------------------------------------------------------

    async def _store_and_ack(self, client: aiomqtt.Client) -> None:
        while True:
            checked = await self._next_checked()
            try:
                await self._store_checked(client, checked)
            finally:
                self._storing.clear()
                self._signal_handled()

    async def _store_checked(self, client: aiomqtt.Client, checked: list[CheckedMessage]) -> None:
        for message in checked:
            self._counters.events_rejected += len(message.rejections)
            for rejection in message.rejections:
                self._flagger.flag(message.station, rejection.kind, rejection.seq, rejection.detail)
        batches: list[tuple[str, Sequence[Event]]] = [
            (message.station, message.events) for message in checked if message.events
        ]
        if not batches:
            return
        outcomes = await self._in_store(self._ingest, batches)
        heads: dict[str, IngestOutcome] = {}
        for outcome in outcomes:
            heads[outcome.station] = outcome  # the last outcome of a station is its head
            self._flagger.outcome(outcome)
        publishes = []
        for station, outcome in heads.items():
            # Acknowledge even when nothing new was stored: a station re-sending what
            # is already here (it lost the retained ack with a broker's store) must
            # hear that it can stop.
            publishes.append(self._publish(client, station, ACK, {"upto": outcome.head}))
            if outcome.gap_from is not None:
                publishes.append(self._ask_resend(client, station, outcome.gap_from))
        # Together: one at a time, each waiting for its PUBACK, took longer than the
        # group's store at a few hundred stations a group.
        await asyncio.gather(*publishes)
        for station, outcome in heads.items():
            self.acked[station] = max(self.acked.get(station, 0), outcome.head)
        self._counters.acks_published += len(heads)
        self._unconfirmed.update(heads)
        idle = not self._in_check and not self._register.messages
        if idle or time.monotonic() - self._confirmed_at >= _CONFIRM_S:
            await self._confirm_acks(client)

    async def _confirm_acks(self, client: aiomqtt.Client) -> None:
        """Publish again any head that moved past what this collector acknowledged.

        Another collector of the group may commit a higher head for the same station and
        publish its ack before this one's lower ack reaches the broker: the retained ack
        would then stay behind the head. Each collector looks at the heads again once its
        acks are PUBACKed (so the broker has them), when it has nothing else to do and at
        least every `_CONFIRM_S`: whichever ack the broker took last, its sender looked
        after it, and published the head if it was higher."""
        stations, self._unconfirmed = self._unconfirmed, set()
        self._confirmed_at = time.monotonic()
        current = await self._in_store(self._store.heads)
        behind = {s: current[s] for s in stations if current.get(s, 0) > self.acked.get(s, 0)}
        await asyncio.gather(
            *(self._publish(client, s, ACK, {"upto": head}) for s, head in behind.items())
        )
        for station, head in behind.items():
            self.acked[station] = head
        self._counters.acks_published += len(behind)

    def _ingest(self, batches: list[tuple[str, Sequence[Event]]]) -> list[IngestOutcome]:
        """In the store's thread: counted as soon as committed, so that a collector
        stopped while its store works does not lose the count of what it stored."""
        outcomes = self._store.ingest(batches)
        self._counters.events_stored += sum(outcome.stored for outcome in outcomes)
        self._counters.events_duplicate += sum(outcome.duplicates for outcome in outcomes)
        return outcomes

    async def _ask_resend(self, client: aiomqtt.Client, station: str, start: int) -> None:
        now = time.monotonic()
        if now - self._resent_at.get(station, -1e9) < self._settings.resend_interval_s:
            return
        self._resent_at[station] = now
        log.info("collector_resend", station=station, start=start)
        self._counters.resends_requested += 1
        await self._publish(client, station, RESEND, {"from": start})

    async def _publish(
        self, client: aiomqtt.Client, station: str, kind: str, args: dict[str, Any]
    ) -> None:
        topics = StationTopics(station)
        topic = topics.ack if kind == ACK else topics.command(kind)
        payload = sign_message(self._signing_key, CentralMessage(station, kind, args))
        await client.publish(topic, payload, qos=1, retain=kind == ACK)

    async def _in_store(
        self,
        function: Callable[..., T],
        *args: Any,
        executor: ThreadPoolExecutor | None = None,
        **kwargs: Any,
    ) -> T:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(
                executor or self._store_thread, lambda: function(*args, **kwargs)
            )
        finally:
            self._counters.store_calls.observe(time.perf_counter() - started)

    def _now(self) -> str:
        return format_ts(self._clock.wall_ns())
