"""Register sync throughput, station to centre, as one JSON object on stdout:

- `drain`: a backlog of `--events` register events (seq 1 is the register's own
  `register.created`) drained by the station's real `Uplink` through a private mosquitto
  (the fleet's ACL, persistence on) into the real `Collector` storing into SQLite, timed
  from the uplink's start until the centre's acknowledgement of the head reaches the
  station. Then every seq 1..head must be stored exactly once and equal the register's.
  A QoS 0 monitor on the station's register topic counts the messages (batches) and the
  events in them (re-sent ones included); it costs the broker one more copy of each.
- `bare`: on the same broker, before the drain, the same events pre-encoded with
  `encode_event`, one per message, QoS 1, at most `--bare-in-flight` awaiting their
  PUBACK, published by a bare aiomqtt client as the station, and counted by a plain
  aiomqtt subscriber (the central user, QoS 1): events per second until the subscriber
  has them all. What the uplink is compared with: `drain_vs_bare` (target >= 3).
- `ingest`: the collector catching up with `--stations` stations at once, into SQLite and
  into a throwaway PostgreSQL, verifying every signature and only the last of each
  linked run (`every_signature` false). Before timing: the stations' events are made and
  signed with the fleet's station keys, encoded as register messages of
  `--message-events`, the collector's persistent session and shared subscription are
  created (the collector is started, connected, stopped), and the messages are published
  into its queue at the broker (started with `max_queued_messages 0`: no limit). Timed:
  from the collector's start with the same id until every station's head is acknowledged
  (target >= 20,000 events/s). Should the broker not deliver the queue (`--ingest-method
  live`, or automatically when it does not), the messages are published instead while
  the collector runs, by one connection per station, and `method` says so.

Also: `ingest.breakdown_us_per_event_one_thread`, the cost of each stage of the
collector's work (decode, hash, Ed25519 verify, store) on a sample, one thread; and with
`--variants`, the drain again with other uplink and collector settings.

Product defaults are used for everything the issue does not fix (uplink batch, in-flight
and window; the collector's batch); the JSON lists what was used. Every span reports its
CPU time: this process's, mosquitto's, and the rest of the machine's, which is the
PostgreSQL server's or, on a shared machine, somebody else's (then the rates are low).

    python benchmarks/sync.py [--events 100000] [--stations 200] [--ingest-events 100000]
    python benchmarks/sync.py --quick      # a smoke run with small numbers
    python benchmarks/sync.py --variants   # + the drain with other settings
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiomqtt

# Run as a script (`python benchmarks/sync.py`): its siblings are found from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.logs import configure_logging
from appliance.register import GENESIS_HASH, Event, Register, StationKey, format_ts
from appliance.sync import (
    CollectorSection,
    StationTopics,
    UplinkSection,
    check_message,
    decode_events,
    encode_event,
    encode_events,
)
from appliance.sync._mqtt import CancelSafeClient
from sim.broker import MOSQUITTO, PrivateMosquitto
from sim.postgres import BIN as POSTGRES_BIN
from sim.postgres import PrivatePostgres
from tests.sync_rig import CENTRAL_USER, Fleet, append_events, opened_store, running

_STARTED = time.perf_counter()
_DRAIN_STATION = "st-drain"
_DRAIN_COLLECTOR = "drain"
_INGEST_COLLECTOR = "ingest"
_TARGET_RATIO = 3.0
_TARGET_INGEST = 20_000
_LIMIT_S = 600.0
_BREAKDOWN_MESSAGES = 20
# The rig's uplink and collector settings are tuned for quick tests (3 s timeouts, fast
# reconnects); the benchmark puts the product's defaults back.
_UPLINK_DEFAULTS: dict[str, Any] = {
    name: UplinkSection.model_fields[name].default
    for name in ("ack_timeout_s", "publish_timeout_s", "reconnect_min_s", "reconnect_max_s")
}
_COLLECTOR_DEFAULTS: dict[str, Any] = {
    name: CollectorSection.model_fields[name].default
    for name in ("resend_interval_s", "reconnect_min_s", "reconnect_max_s")
}
_UPLINK_REPORTED = (
    "batch_max_events",
    "batch_max_bytes",
    "max_in_flight",
    "window_events",
    "ack_timeout_s",
    "publish_timeout_s",
)
# Other settings tried with --variants, (uplink, collector) overrides: the headline is
# the defaults' figure.
_VARIANTS: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (
    ({}, {"every_signature": False}),
    ({"window_events": 40_000}, {}),
    ({"max_in_flight": 16, "window_events": 20_000}, {}),
    ({"batch_max_events": 2_000, "window_events": 40_000}, {}),
)


def _say(text: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measuring helpers


def _cpu_s(pid: int | None = None) -> float:
    """User + system CPU seconds of a process so far (this one by default)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds every process of the machine has used so far (/proc/stat)."""
    line = Path("/proc/stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(n) for n in line[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Clock:
    """Wall and CPU time over one measured span: this process, the broker, and the whole
    machine (the rest is other processes: a PostgreSQL server's, or anybody else's)."""

    broker_pid: int | None
    wall: float = 0.0
    cpu: float = 0.0
    broker_cpu: float = 0.0
    machine: float = 0.0

    def _broker(self) -> float:
        return _cpu_s(self.broker_pid) if self.broker_pid else 0.0

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = _cpu_s()
        self.broker_cpu = self._broker()
        self.machine = _machine_busy_s()

    def lap(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        cpu, broker = _cpu_s() - self.cpu, self._broker() - self.broker_cpu
        machine = _machine_busy_s() - self.machine
        return {
            "wall_s": round(wall, 3),
            "cpu_s_this_process": round(cpu, 2),
            "cpu_s_mosquitto": round(broker, 2),
            "cpu_s_rest_of_machine": round(max(0.0, machine - cpu - broker), 2),
            "machine_cpu_busy": round(machine / wall / (os.cpu_count() or 1), 2),
        }


def _client(
    broker: PrivateMosquitto, user: str, identifier: str, *, max_in_flight: int | None = None
) -> aiomqtt.Client:
    client = CancelSafeClient(
        broker.host,
        broker.port,
        username=user,
        password=Fleet.password(user),
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        max_inflight_messages=max_in_flight,
    )
    # aiomqtt warns (a log line per publish) past 10 publishes awaiting their PUBACK;
    # many more is what these clients are for.
    client.pending_calls_threshold = 1_000_000
    return client


async def _clear_retained(broker: PrivateMosquitto, topic: str) -> None:
    """A retained `ack` of an earlier run would tell a fresh uplink it is all done."""
    async with _client(broker, CENTRAL_USER, "bench-clear") as client:
        await client.publish(topic, b"", qos=1, retain=True)


@dataclass
class _Tally:
    messages: int = 0
    events: int = 0
    bytes: int = 0


@contextlib.asynccontextmanager
async def _monitor(broker: PrivateMosquitto, topic: str) -> AsyncIterator[_Tally]:
    """Counts what is published on `topic` while the block runs (QoS 0: no PUBACKs)."""
    tally = _Tally()
    async with _client(broker, CENTRAL_USER, "bench-monitor") as client:
        await client.subscribe(topic, qos=0)

        async def count() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                tally.messages += 1
                tally.events += payload.count(b'"seq":')
                tally.bytes += len(payload)

        async with running(count(), "bench-monitor"):
            yield tally


async def _until(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# ---------------------------------------------------------------- bare loop


async def _bare(
    broker: PrivateMosquitto, station: str, payloads: Sequence[bytes], in_flight: int
) -> dict[str, Any]:
    topic = StationTopics(station).register
    total = len(payloads)
    received = 0
    all_in = asyncio.Event()
    clock = _Clock(broker.pid)
    async with _client(broker, CENTRAL_USER, "bench-bare-subscriber") as subscriber:
        await subscriber.subscribe(topic, qos=1)

        async def count() -> None:
            nonlocal received
            async for _ in subscriber.messages:
                received += 1
                if received >= total:
                    all_in.set()
                    return

        async with (
            running(count(), "bench-bare-subscriber"),
            _client(broker, station, "bench-bare-publisher", max_in_flight=in_flight) as client,
        ):
            slots = asyncio.Semaphore(in_flight)

            async def publish(payload: bytes) -> None:
                try:
                    await client.publish(topic, payload, qos=1)
                finally:
                    slots.release()

            clock.start()
            async with asyncio.TaskGroup() as publishes:
                for payload in payloads:
                    await slots.acquire()
                    publishes.create_task(publish(payload))
            confirmed_s = time.perf_counter() - clock.wall
            async with asyncio.timeout(_LIMIT_S):
                await all_in.wait()
            span = clock.lap()
    return {
        "params": {
            "events": total,
            "events_per_message": 1,
            "qos": 1,
            "max_in_flight": in_flight,
            "payloads": "encode_event(event), encoded before timing",
            "publisher": f"aiomqtt as the station ({station}), MQTT v5",
            "subscriber": f"aiomqtt as {CENTRAL_USER!r}, QoS 1, plain subscription",
        },
        "received": received,
        "publishes_confirmed_s": round(confirmed_s, 3),
        **span,
        "events_per_s": round(total / span["wall_s"], 1),
    }


# ---------------------------------------------------------------- drain


async def _drain(
    fleet: Fleet,
    broker: PrivateMosquitto,
    register: Register,
    head: int,
    *,
    uplink_overrides: dict[str, Any],
    collector_overrides: dict[str, Any],
    tag: str,
) -> dict[str, Any]:
    station = register.station_id
    topics = StationTopics(station)
    await _clear_retained(broker, topics.ack)
    store_url = f"sqlite:{fleet.collector_dir / f'drain-{tag}.sqlite3'}"
    # A fresh acknowledgement file per run: the register is the same backlog each time.
    settings = {
        **_UPLINK_DEFAULTS,
        **uplink_overrides,
        "state_file": Path(f"uplink-{tag}.json"),
    }
    collector_settings = {**_COLLECTOR_DEFAULTS, **collector_overrides}
    uplink = fleet.uplink(register, broker, **settings)
    used = fleet.uplink_settings(station, broker, **settings)
    clock = _Clock(broker.pid)
    with opened_store(store_url) as store:
        # One collector id for every drain run: an earlier run's persistent session,
        # offline in the same share group, would otherwise be dealt messages.
        collector = fleet.collector(broker, store, name=_DRAIN_COLLECTOR, **collector_settings)
        try:
            async with (
                running(collector.run(), "collector"),
                _monitor(broker, topics.register) as tally,
            ):
                async with asyncio.timeout(10):
                    await collector.connected.wait()
                clock.start()
                async with running(uplink.run(), "uplink"):
                    async with asyncio.timeout(_LIMIT_S):
                        await uplink.wait_acked(head)
                    span = clock.lap()
                    status = uplink.status()
                # The monitor sees the messages a moment after the collector does.
                await _until(lambda: tally.events >= head, 5.0)
        finally:
            collector.close()
        stored = list(store.events(station))
        duplicates = collector.duplicates
    seqs_once = [event.seq for event in stored] == list(range(1, head + 1))
    identical = stored == list(register.events())
    return {
        "params": {
            "events": head,
            "uplink": {name: getattr(used, name) for name in _UPLINK_REPORTED},
            "collector": {
                "store": "sqlite",
                "every_signature": collector_settings.get("every_signature", True),
                "max_batch_events": CollectorSection.model_fields["max_batch_events"].default,
            },
        },
        "acked": status.acked,
        "messages": tally.messages,
        "events_sent": tally.events,
        "megabytes_sent": round(tally.bytes / 1e6, 1),
        "duplicates": duplicates,
        "reconnects": status.reconnects,
        **span,
        "events_per_s": round(head / span["wall_s"], 1),
        "verified": {"every_seq_once": seqs_once, "identical_to_register": identical},
    }


async def _drain_and_bare(
    directory: Path, events: int, in_flight: int, *, variants: bool
) -> dict[str, Any]:
    fleet = Fleet(directory, (_DRAIN_STATION,))
    register = fleet.register(_DRAIN_STATION)
    _say(f"drain: appending {events - 1} events to the register")
    head = append_events(register, events - 1)  # + register.created
    payloads = [encode_event(event).encode() for event in register.events()]
    result: dict[str, Any] = {}
    with fleet.broker(max_queued_messages=0) as broker:
        # The bare loop first: no collector session exists yet to queue its messages for.
        _say(f"bare: {len(payloads)} events, one a message, {in_flight} in flight")
        result["bare"] = await _bare(broker, _DRAIN_STATION, payloads, in_flight)
        _say(f"bare: {result['bare']['events_per_s']} events/s")
        _say(f"drain: {head} events, uplink defaults")
        result["drain"] = await _drain(
            fleet,
            broker,
            register,
            head,
            uplink_overrides={},
            collector_overrides={},
            tag="defaults",
        )
        _say(f"drain: {result['drain']['events_per_s']} events/s")
        if variants:
            result["drain_variants"] = []
            for number, (uplink, collector) in enumerate(_VARIANTS, start=1):
                _say(f"drain: {head} events, uplink {uplink}, collector {collector}")
                run = await _drain(
                    fleet,
                    broker,
                    register,
                    head,
                    uplink_overrides=uplink,
                    collector_overrides=collector,
                    tag=f"variant-{number}",
                )
                result["drain_variants"].append(run)
                _say(f"drain: {run['events_per_s']} events/s")
        result["mosquitto_peak_rss_mb"] = _peak_rss_mb(broker.pid)
    register.close()
    return result


# ---------------------------------------------------------------- ingest


def _signed_events(station: str, key: StationKey, count: int) -> list[Event]:
    """`count` blank-card deliveries of `station`, hashed, chained and signed."""
    boot = str(uuid.uuid4())
    wall_ns = time.time_ns() - count * 1_000_000_000
    prev_hash = GENESIS_HASH
    events = []
    for seq in range(1, count + 1):
        draft = Event(
            station=station,
            seq=seq,
            ts=format_ts(wall_ns + seq * 1_000_000_000),
            mono_ns=seq * 1_000_000_000,
            boot_id=boot,
            clock_synced=True,
            type="blank.received",
            app=None,
            data_json=f'{{"count":1,"reference":"BAST-{seq}"}}',
            prev_hash=prev_hash,
            hash="",
            sig="",
        )
        digest = hashlib.sha256(draft.body()).digest()
        event = dataclasses.replace(draft, hash=digest.hex(), sig=key.sign(digest).hex())
        events.append(event)
        prev_hash = event.hash
    return events


def _messages(fleet: Fleet, per_station: int, per_message: int) -> list[tuple[str, bytes]]:
    """(station, payload) of every register message, the stations interleaved."""
    by_station = []
    for station in fleet.stations:
        events = _signed_events(station, fleet.keys[station], per_station)
        by_station.append(
            [
                (station, encode_events(encode_event(e) for e in events[i : i + per_message]))
                for i in range(0, len(events), per_message)
            ]
        )
    rounds = max(len(messages) for messages in by_station)
    return [
        messages[index]
        for index in range(rounds)
        for messages in by_station
        if index < len(messages)
    ]


async def _publish_all(
    broker: PrivateMosquitto, messages: Sequence[tuple[str, bytes]], in_flight: int = 20
) -> None:
    """As the central user, who may write every station's topics."""
    async with _client(broker, CENTRAL_USER, "bench-preload", max_in_flight=in_flight) as client:
        slots = asyncio.Semaphore(in_flight)

        async def publish(station: str, payload: bytes) -> None:
            try:
                await client.publish(StationTopics(station).register, payload, qos=1)
            finally:
                slots.release()

        async with asyncio.TaskGroup() as publishes:
            for station, payload in messages:
                await slots.acquire()
                publishes.create_task(publish(station, payload))


async def _publish_per_station(
    broker: PrivateMosquitto, messages: Sequence[tuple[str, bytes]]
) -> None:
    """Each station's messages, in order, from a connection of its own, all at once."""
    by_station: dict[str, list[bytes]] = {}
    for station, payload in messages:
        by_station.setdefault(station, []).append(payload)

    async def station_loop(station: str, payloads: list[bytes]) -> None:
        async with _client(broker, station, f"bench-station-{station}") as client:
            for payload in payloads:
                await client.publish(StationTopics(station).register, payload, qos=1)

    async with asyncio.TaskGroup() as stations:
        for station, payloads in by_station.items():
            stations.create_task(station_loop(station, payloads))


async def _ingest_run(
    fleet: Fleet,
    broker: PrivateMosquitto,
    messages: Sequence[tuple[str, bytes]],
    store_url: str,
    per_station: int,
    *,
    every_signature: bool,
    method: str,
) -> dict[str, Any]:
    """One timed catch-up into a fresh store; `method` "preload" or "live"."""
    total = per_station * len(fleet.stations)
    settings = {**_COLLECTOR_DEFAULTS, "every_signature": every_signature}
    clock = _Clock(broker.pid)
    with opened_store(store_url) as store:
        if method == "preload":
            # The persistent session and its shared subscription, then its queue.
            collector = fleet.collector(broker, store, name=_INGEST_COLLECTOR, **settings)
            try:
                async with running(collector.run(), "collector"):
                    async with asyncio.timeout(10):
                        await collector.connected.wait()
            finally:
                collector.close()
            await _publish_all(broker, messages)
        collector = fleet.collector(broker, store, name=_INGEST_COLLECTOR, **settings)
        complete = False
        try:
            clock.start()
            async with running(collector.run(), "collector"):
                async with contextlib.AsyncExitStack() as live:
                    if method == "live":
                        async with asyncio.timeout(10):
                            await collector.connected.wait()
                        publishing = asyncio.create_task(_publish_per_station(broker, messages))
                        live.push_async_callback(_finish, publishing)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_LIMIT_S if method == "live" else 120):
                            for station in fleet.stations:
                                await collector.wait_acked(station, per_station)
                            complete = True
                span = clock.lap()
        finally:
            collector.close()
        heads = store.heads()
    return {
        "complete": complete,
        "stations_at_head": sum(heads.get(station) == per_station for station in fleet.stations),
        "stored_events": collector.stored_events,
        "duplicates": collector.duplicates,
        **span,
        "events_per_s": round(total / span["wall_s"], 1),
        "target_events_per_s": _TARGET_INGEST,
    }


async def _finish(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _breakdown(
    fleet: Fleet, messages: Sequence[tuple[str, bytes]], stores: dict[str, str]
) -> dict[str, Any]:
    """Where the collector's time goes: each stage of its work on `messages`, one thread,
    in microseconds per event. `check_message` is decode + hash + verify; the store's
    ingest is one call for all the messages, as one group of the collector's."""
    keys = {station: fleet.keys[station].public_key for station, _ in messages}
    started = time.perf_counter()
    decoded = [(station, decode_events(payload)) for station, payload in messages]
    decode_s = time.perf_counter() - started
    events = [(keys[station], event) for station, batch in decoded for event in batch]
    started = time.perf_counter()
    digests = [hashlib.sha256(event.body()).digest() for _, event in events]
    hash_s = time.perf_counter() - started
    started = time.perf_counter()
    verified = all(
        key.verify(digest, bytes.fromhex(event.sig))
        for (key, event), digest in zip(events, digests, strict=True)
    )
    verify_s = time.perf_counter() - started
    check_s = {}
    for every_signature in (True, False):
        started = time.perf_counter()
        for station, payload in messages:
            check_message(station, keys[station], payload, every_signature=every_signature)
        check_s[every_signature] = time.perf_counter() - started
    store_s = {}
    for backend, url in stores.items():
        with opened_store(url) as store:
            started = time.perf_counter()
            store.ingest(decoded)
            store_s[backend] = time.perf_counter() - started

    def per_event(seconds: float) -> float:
        return round(seconds / len(events) * 1e6, 1)

    return {
        "events": len(events),
        "messages": len(messages),
        "decode_events": per_event(decode_s),
        "sha256_of_body": per_event(hash_s),
        "ed25519_verify": per_event(verify_s),
        "check_message_every_signature": per_event(check_s[True]),
        "check_message_last_of_each_run": per_event(check_s[False]),
        **{f"store_ingest_{backend}": per_event(store_s[backend]) for backend in store_s},
        "all_verified": verified,
    }


async def _ingest(
    directory: Path,
    stations: int,
    total: int,
    per_message: int,
    *,
    postgres: bool,
    method: str,
) -> dict[str, Any]:
    per_station = total // stations
    names = tuple(f"st-{number:03d}" for number in range(stations))
    _say(f"ingest: keys for {stations} stations")
    fleet = Fleet(directory, names)
    _say(f"ingest: signing {stations} x {per_station} events")
    started = time.perf_counter()
    messages = _messages(fleet, per_station, per_message)
    prepare_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "params": {
            "stations": stations,
            "events_per_station": per_station,
            "events": per_station * stations,
            "events_per_message": per_message,
            "messages": len(messages),
            "megabytes": round(sum(len(payload) for _, payload in messages) / 1e6, 1),
            "collector": {
                "workers": os.cpu_count(),
                "max_batch_events": CollectorSection.model_fields["max_batch_events"].default,
            },
            "signing_s_before_timing": round(prepare_s, 1),
        },
        "method": method,
    }
    backends = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    with fleet.broker(max_queued_messages=0) as broker, contextlib.ExitStack() as servers:
        server = None
        if postgres:
            server = servers.enter_context(PrivatePostgres(directory=directory / "postgres"))
        _say("ingest: one-thread cost of each stage, on a sample")
        stores = {"sqlite": f"sqlite:{fleet.collector_dir / 'breakdown.sqlite3'}"}
        if server is not None:
            stores["postgresql"] = server.fresh_database("breakdown")
        result["breakdown_us_per_event_one_thread"] = _breakdown(
            fleet, messages[:_BREAKDOWN_MESSAGES], stores
        )
        for backend in backends:
            result[backend] = {}
            for every_signature in (True, False):
                label = "every_signature" if every_signature else "last_of_each_run"
                name = f"ingest_{backend}_{label}"

                def store_url(database: str, backend: str = backend) -> str:
                    if server is not None and backend == "postgresql":
                        return server.fresh_database(database)
                    return f"sqlite:{fleet.collector_dir / f'{database}.sqlite3'}"

                url = store_url(name)
                _say(f"ingest: {backend}, {label}, {result['method']}")
                run = await _ingest_run(
                    fleet,
                    broker,
                    messages,
                    url,
                    per_station,
                    every_signature=every_signature,
                    method=result["method"],
                )
                if not run["complete"] and result["method"] == "preload":
                    _say("ingest: the broker did not deliver the queue; publishing live instead")
                    result["method"] = "live (preload did not deliver every message)"
                    result["preload_attempt"] = run
                    url = store_url(f"{name}_live")
                    run = await _ingest_run(
                        fleet,
                        broker,
                        messages,
                        url,
                        per_station,
                        every_signature=every_signature,
                        method="live",
                    )
                result[backend][label] = run
                _say(f"ingest: {run['events_per_s']} events/s")
        result["mosquitto_peak_rss_mb"] = _peak_rss_mb(broker.pid)
    if result["method"].startswith("live"):
        result["method_detail"] = (
            "the collector runs; each station's messages are published in order from its "
            "own connection (one per station, all at once); timed from the collector's start"
        )
    else:
        result["method_detail"] = (
            "collector session + shared subscription created, collector stopped, every "
            "message queued for it at the broker, then timed from the collector's restart"
        )
    return result


# ---------------------------------------------------------------- the machine


def _peak_rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"unknown ({exc})"
    return (done.stdout or done.stderr).strip().splitlines()[0]


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "aiomqtt": version("aiomqtt"),
        "paho_mqtt": version("paho-mqtt"),
        "mosquitto": _first_line([str(MOSQUITTO), "-h"]),
        "postgresql": _first_line([str(POSTGRES_BIN / "postgres"), "--version"]),
        # The machine may be shared: see each span's cpu_s_rest_of_machine too.
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="drain and bare loop")
    parser.add_argument("--bare-in-flight", type=int, default=100)
    parser.add_argument("--stations", type=int, default=200, help="ingest")
    parser.add_argument("--ingest-events", type=int, default=100_000, help="over all stations")
    parser.add_argument("--message-events", type=int, default=250, help="ingest messages")
    parser.add_argument("--ingest-method", choices=("preload", "live"), default="preload")
    parser.add_argument("--no-postgres", action="store_true", help="ingest into SQLite only")
    parser.add_argument("--variants", action="store_true", help="also other uplink settings")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small numbers")
    args = parser.parse_args()
    if args.quick:
        args.events, args.stations, args.ingest_events = 5_000, 20, 5_000
    configure_logging(level="warning")  # stdout is for the JSON
    with tempfile.TemporaryDirectory(prefix="ktpel-bench-sync-") as tmp:
        result: dict[str, Any] = {"machine": _machine(), "quick": args.quick}
        result |= await _drain_and_bare(
            Path(tmp) / "drain", args.events, args.bare_in_flight, variants=args.variants
        )
        result["drain_vs_bare"] = round(
            result["drain"]["events_per_s"] / result["bare"]["events_per_s"], 2
        )
        result["target_drain_vs_bare"] = _TARGET_RATIO
        result["ingest"] = await _ingest(
            Path(tmp) / "ingest",
            args.stations,
            args.ingest_events,
            args.message_events,
            postgres=not args.no_postgres,
            method=args.ingest_method,
        )
    result["peak_rss_mb_this_process"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    result["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    result["total_wall_s"] = round(time.perf_counter() - _STARTED, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
