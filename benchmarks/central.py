"""The central office's collector tier at national scale, as one JSON object on stdout.

- `ingest`: `--stations` stations' backlogs (`--events` in all, each message 200 events
  of an office's day, every signature verified) into a throwaway PostgreSQL, by 1 and by
  2 collectors in one MQTT v5 share group, each collector a process of its own
  (`appliance.sync.Collector`, its check on a worker process per core). Before timing:
  the stations' events are sealed and signed (`sim.central_load`), each collector's
  persistent session and shared subscriptions are made, and every message is queued
  for the group at a private mosquitto (`max_queued_messages 0`). Timed: from the
  collectors' start until a monitor has seen every station's acknowledgement of its
  head. Reported: events/s in total (target >= 20,000), the ratio of 2 collectors to 1,
  the CPU seconds of each collector process and of its check workers, mosquitto's and
  the rest of the machine's (PostgreSQL's, or anybody else's on a shared machine).
- `national_day`: `--national` stations (7,277, one per kecamatan) come back at once,
  each with ~100 register events of an office's day, its signed birth, its four devices'
  status and a telemetry; all of it queued at the broker before the collector starts
  (a standing start), while every station's telemetry goes on arriving every 60 s.
  Timed until every station's head is acknowledged (target <= 60 s); then until every
  station's telemetry, birth and devices are in the store. The collectors' peak RSS
  (VmHWM of the process and of each check worker).
- `dashboard`: `benchmarks/central_dashboard.py`'s `measure`, when that module is there.

    python benchmarks/central.py               # the full run (a few minutes)
    python benchmarks/central.py --quick       # a smoke run with small numbers
    python benchmarks/central.py --no-dashboard
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiomqtt

# Run as a script (`python benchmarks/central.py`): its siblings are found from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance._secrets import write_secret_file
from appliance.logs import configure_logging
from appliance.register import StationKey
from appliance.sync import (
    TOPIC_ROOT,
    BrokerSection,
    Collector,
    CollectorSection,
    StationKeys,
    StationTopics,
    open_store,
)
from appliance.sync._mqtt import CancelSafeClient
from benchmarks.sync import _Clock, _cpu_s, _machine, _peak_rss_mb
from sim.broker import PrivateMosquitto, fleet_acl
from sim.central_load import LoadFleet, LoadStation
from sim.fleet import BATCH
from sim.postgres import PrivatePostgres

_STARTED = time.perf_counter()
_CENTRAL_USER: Final = "central"
_PASSWORD: Final = "central-secret"  # noqa: S105 - a throwaway broker's
_GROUP: Final = "collectors"
_TARGET_INGEST: Final = 20_000
_TARGET_NATIONAL_S: Final = 60.0
_LIMIT_S: Final = 600.0
_TELEMETRY_INTERVAL_S: Final = 60.0
_SUBSCRIBED: Final = ("register", "state", "telemetry", "device/+", "doctor")
# As docs/deploy-central.md runs `appliance central`: glibc's malloc keeps an arena per
# thread (2,500 stations at once: a peak RSS of 785 MB without this, 308 MB with it).
_COLLECTOR_ENVIRONMENT: Final = {"MALLOC_ARENA_MAX": "2"}


def _say(text: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the central office


@dataclass
class _Centre:
    """The central office's files: its key, its MQTT password, the stations' keys."""

    directory: Path
    key: StationKey = field(default_factory=StationKey.generate)

    def __post_init__(self) -> None:
        self.key.save(self.directory / "keys" / "central.key")
        write_secret_file(self.directory / "keys" / "mqtt.password", _PASSWORD.encode())

    @property
    def stations_dir(self) -> Path:
        return self.directory / "stations"

    def broker(self) -> PrivateMosquitto:
        return PrivateMosquitto(
            directory=self.directory / "broker",
            users={_CENTRAL_USER: _PASSWORD},
            acl=fleet_acl(central_user=_CENTRAL_USER),
            max_queued_messages=0,
            persistence=False,
        )


def _client(broker: PrivateMosquitto, identifier: str, **options: Any) -> aiomqtt.Client:
    client = CancelSafeClient(
        broker.host,
        broker.port,
        username=_CENTRAL_USER,
        password=_PASSWORD,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        **options,
    )
    client.pending_calls_threshold = 1_000_000
    return client


async def _make_sessions(broker: PrivateMosquitto, names: Sequence[str]) -> None:
    """Each collector's persistent session with its shared subscriptions, as the
    collector makes it, so that what is published next is queued for the group."""
    from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
    from paho.mqtt.properties import Properties  # noqa: PLC0415

    for name in names:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        client = _client(broker, f"ktpel-central-{name}", clean_start=False, properties=properties)
        async with client:
            for kind in _SUBSCRIBED:
                await client.subscribe(f"$share/{_GROUP}/{TOPIC_ROOT}/+/{kind}", qos=1)


async def _drop_sessions(broker: PrivateMosquitto, names: Sequence[str]) -> None:
    """Gone, so that a later run's group is not dealt messages for an absent member."""
    for name in names:
        async with _client(broker, f"ktpel-central-{name}", clean_start=True):
            pass


async def _publish(
    broker: PrivateMosquitto,
    messages: Sequence[tuple[str, bytes]],
    in_flight: int = 100,
    *,
    retain: bool = False,
) -> None:
    async with _client(broker, "bench-publisher", max_inflight_messages=in_flight) as client:
        slots = asyncio.Semaphore(in_flight)

        async def one(topic: str, payload: bytes) -> None:
            try:
                await client.publish(topic, payload, qos=1, retain=retain)
            finally:
                slots.release()

        async with asyncio.TaskGroup() as publishes:
            for topic, payload in messages:
                await slots.acquire()
                publishes.create_task(one(topic, payload))


@contextlib.asynccontextmanager
async def _acks(broker: PrivateMosquitto) -> AsyncIterator[dict[str, int]]:
    """The latest `upto` acknowledged to each station, as the stations would hear it
    (retained acks of an earlier run are ignored)."""
    heard: dict[str, int] = {}
    # QoS 1: mosquitto drops QoS 0 messages to a subscriber that falls behind, and
    # thousands of acks come at once.
    async with _client(broker, "bench-acks") as client:
        await client.subscribe(f"{TOPIC_ROOT}/+/ack", qos=1)

        async def listen() -> None:
            async for message in client.messages:
                if message.retain or not isinstance(message.payload, bytes):
                    continue
                station = str(message.topic).split("/")[2]
                upto = json.loads(message.payload)["upto"]
                heard[station] = max(heard.get(station, 0), upto)

        task = asyncio.create_task(listen())
        try:
            yield heard
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _retained_acks(broker: PrivateMosquitto, stations: Collection[str]) -> dict[str, int]:
    """The retained ack of each of `stations`, as a station reconnecting now would hear it."""
    heard: dict[str, int] = {}
    async with _client(broker, "bench-retained") as client:
        await client.subscribe(f"{TOPIC_ROOT}/+/ack", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                async for message in client.messages:
                    if isinstance(message.payload, bytes) and message.payload:
                        station = str(message.topic).split("/")[2]
                        heard[station] = json.loads(message.payload)["upto"]
                    if all(station in heard for station in stations):
                        break
    return heard


async def _until(condition: Any, timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_s)
    return True


# ---------------------------------------------------------------- a collector process


class _CollectorProcess:
    """One `Collector` in a process of its own (as `appliance central` runs), driven by
    lines on its stdin: it opens its store, says "ready", collects from "go" until
    "stop", then prints its figures as one JSON line."""

    def __init__(self, centre: _Centre, broker: PrivateMosquitto, store: str, name: str):
        arguments = {
            "directory": str(centre.directory),
            "port": broker.port,
            "store": store,
            "name": name,
        }
        self.name = name
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--child", json.dumps(arguments)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **_COLLECTOR_ENVIRONMENT},
        )

    def _line(self) -> str:
        assert self._process.stdout is not None
        return self._process.stdout.readline().strip()

    def _say(self, line: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()

    async def ready(self) -> None:
        line = await asyncio.to_thread(self._line)
        if line != "ready":
            raise RuntimeError(f"collector {self.name}: {line!r}")

    def go(self) -> None:
        self._say("go")

    async def stop(self) -> dict[str, Any]:
        self._say("stop")
        line = await asyncio.to_thread(self._line)
        await asyncio.to_thread(self._process.wait)
        return dict(json.loads(line))

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def _postgres_cpu_s(server: PrivatePostgres) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its live backends,
    and the backends that ended (their time is in the postmaster's children's)."""
    pid_file = server.directory / "data" / "postmaster.pid"
    postmaster = int(pid_file.read_text(encoding="ascii").split("\n", 1)[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(n) for n in fields[11:15]) / tick
        elif parent == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _proc_cpu_s(pid: int) -> float:
    try:
        return _cpu_s(pid)
    except OSError:
        return 0.0


async def _child(arguments: dict[str, Any]) -> None:
    """The collector process's side of `_CollectorProcess`."""
    configure_logging(level="warning")
    directory = Path(arguments["directory"])
    store = open_store(arguments["store"])
    records_store = open_store(arguments["store"])
    collector = Collector(
        settings=CollectorSection(id=arguments["name"], state_dir=directory, share_group=_GROUP),
        broker=BrokerSection(
            host="127.0.0.1",
            port=arguments["port"],
            username=_CENTRAL_USER,
            password_file=Path("keys/mqtt.password"),
        ),
        resolve=lambda path: path if path.is_absolute() else directory / path,
        store=store,
        keys=StationKeys(directory=directory / "stations"),
        signing_key=StationKey.load(directory / "keys" / "central.key"),
        records_store=records_store,
    )
    read = asyncio.get_running_loop().run_in_executor
    print("ready", flush=True)
    await read(None, sys.stdin.readline)
    cpu = time.process_time()
    task = asyncio.create_task(collector.run())
    await read(None, sys.stdin.readline)
    workers = collector.worker_pids
    figures = {
        "cpu_s_collector": round(time.process_time() - cpu, 2),
        "cpu_s_check_workers": [round(_proc_cpu_s(pid), 2) for pid in workers],
        "peak_rss_mb_collector": _peak_rss_mb(os.getpid()),
        "peak_rss_mb_check_workers": [_peak_rss_mb(pid) for pid in workers],
        "stored_events": collector.stored_events,
        "duplicates": collector.duplicates,
        "stats": _stats(collector),
    }
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    collector.close()
    store.close()
    records_store.close()
    print(json.dumps(figures), flush=True)


def _stats(collector: Collector) -> dict[str, Any]:
    stats = collector.stats
    latency = stats.store_latency
    return {
        "received": stats.received,
        "dropped": stats.dropped,
        "coalesced": stats.coalesced,
        "acks_published": stats.acks_published,
        "resends_requested": stats.resends_requested,
        "flags": stats.flags,
        "unread_peak": stats.unread_peak,
        "store_calls": latency.count,
        "store_mean_ms": round(latency.sum_s / latency.count * 1000, 1) if latency.count else None,
    }


# ---------------------------------------------------------------- the runs


def _register_messages(stations: Sequence[LoadStation]) -> list[tuple[str, bytes]]:
    """Every station's register messages, the stations interleaved."""
    rounds = max(len(station.register) for station in stations)
    return [
        (StationTopics(station.id).register, station.register[index])
        for index in range(rounds)
        for station in stations
        if index < len(station.register)
    ]


async def _collect(
    centre: _Centre,
    broker: PrivateMosquitto,
    server: PrivatePostgres,
    *,
    store: str,
    names: Sequence[str],
    preload: Sequence[tuple[str, bytes]],
    heads: dict[str, int],
    live: Any = None,
    records: Any = None,
) -> dict[str, Any]:
    """One timed run: sessions made, `preload` queued, collectors started, until every
    station of `heads` is acknowledged at its head."""
    # An earlier run's retained acks would answer for this one.
    await _publish(broker, [(StationTopics(s).ack, b"") for s in heads], retain=True)
    await _make_sessions(broker, names)
    _say(f"queueing {len(preload)} messages at the broker")
    await _publish(broker, preload)
    processes = [_CollectorProcess(centre, broker, store, name) for name in names]
    clock = _Clock(broker.pid)
    try:
        await asyncio.gather(*(process.ready() for process in processes))
        async with _acks(broker) as heard, contextlib.AsyncExitStack() as stack:
            clock.start()
            postgres_cpu = _postgres_cpu_s(server)
            for process in processes:
                process.go()
            if live is not None:
                await stack.enter_async_context(live())
            done = await _until(
                lambda: all(heard.get(s, 0) >= head for s, head in heads.items()), _LIMIT_S
            )
            span = clock.lap()
            span["cpu_s_postgres"] = round(_postgres_cpu_s(server) - postgres_cpu, 2)
            span["cpu_s_rest_of_machine"] = round(
                max(0.0, span["cpu_s_rest_of_machine"] - span["cpu_s_postgres"]), 2
            )
            acked = sum(heard.get(s, 0) >= head for s, head in heads.items())
            if records is not None:
                span |= await records(clock.wall)
        figures = [await process.stop() for process in processes]
    finally:
        for process in processes:
            process.kill()
    await _drop_sessions(broker, names)
    retained = await _retained_acks(broker, heads.keys())
    workers_cpu = [sum(f["cpu_s_check_workers"]) for f in figures]
    return {
        "complete": done,
        "stations_acked_at_head": acked,
        "retained_acks_at_head": sum(retained.get(s, 0) >= head for s, head in heads.items()),
        **span,
        "collectors": dict(zip(names, figures, strict=True)),
        "cpu_s_per_collector_process": [f["cpu_s_collector"] for f in figures],
        "cpu_s_check_workers_per_collector": [round(cpu, 2) for cpu in workers_cpu],
        "stored_events": sum(f["stored_events"] for f in figures),
        "duplicates": sum(f["duplicates"] for f in figures),
    }


def _cpu_per_event(run: dict[str, Any], events: int) -> dict[str, Any]:
    """CPU microseconds per event of each part of the tier in the span, and the rate
    those parts alone would reach on this machine's cores with nothing else running on
    them (a projection: on a shared machine the wall time says less than the CPU)."""
    parts = {
        "collector_processes": sum(run["cpu_s_per_collector_process"]),
        "check_workers": sum(run["cpu_s_check_workers_per_collector"]),
        "mosquitto": run["cpu_s_mosquitto"],
        "postgres": run["cpu_s_postgres"],
    }
    per_event = {name: round(cpu / events * 1e6, 1) for name, cpu in parts.items()}
    total_us = sum(per_event.values())
    cores = os.cpu_count() or 1
    return {
        "cpu_us_per_event": per_event,
        "events_per_s_cpu_bound_projection": round(cores / total_us * 1e6) if total_us else None,
    }


async def _ingest(
    centre: _Centre, broker: PrivateMosquitto, server: PrivatePostgres, fleet: LoadFleet
) -> dict[str, Any]:
    total = fleet.events
    heads = {station.id: station.events for station in fleet.stations}
    preload = _register_messages(fleet.stations)
    result: dict[str, Any] = {
        "params": {
            "stations": len(fleet.stations),
            "events": total,
            "events_per_message": BATCH,
            "messages": len(preload),
            "megabytes": round(sum(len(p) for _, p in preload) / 1e6, 1),
            "every_signature": True,
            "store": "postgresql",
            "check_workers_per_collector": os.cpu_count(),
            "collector_environment": _COLLECTOR_ENVIRONMENT,
        }
    }
    for count in (1, 2):
        names = [f"ingest{count}-{index}" for index in range(1, count + 1)]
        url = server.fresh_database(f"ingest{count}")
        _say(f"ingest: {count} collector(s), {total} events")
        run = await _collect(
            centre, broker, server, store=url, names=names, preload=preload, heads=heads
        )
        run["events_per_s"] = round(total / run["wall_s"], 1)
        run |= _cpu_per_event(run, total)
        run["stored_once"] = run["stored_events"] == total
        with contextlib.closing(open_store(url)) as store:
            stored = store.heads()
        run["heads_at_head"] = sum(stored.get(s) == head for s, head in heads.items())
        result[f"collectors_{count}"] = run
        _say(f"ingest: {run['events_per_s']} events/s")
    one, two = result["collectors_1"]["events_per_s"], result["collectors_2"]["events_per_s"]
    result["events_per_s_best"] = max(one, two)
    result["ratio_2_to_1"] = round(two / one, 2)
    result["target_events_per_s"] = _TARGET_INGEST
    return result


@contextlib.asynccontextmanager
async def _telemetry_every_minute(
    broker: PrivateMosquitto, fleet: LoadFleet, sent: dict[str, int]
) -> AsyncIterator[None]:
    """Each station's telemetry, every 60 s, spread over the minute, while the block runs."""
    stations = fleet.stations

    async def beat() -> None:
        async with _client(broker, "bench-telemetry", max_inflight_messages=50) as client:
            pause = _TELEMETRY_INTERVAL_S / len(stations)
            number = 1
            while True:
                started = time.monotonic()
                for index, station in enumerate(stations):
                    payload = fleet.telemetry(station, number=number)
                    await client.publish(StationTopics(station.id).telemetry, payload, qos=1)
                    sent["telemetry"] += 1
                    ahead = started + (index + 1) * pause - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                number += 1

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _national(
    centre: _Centre, broker: PrivateMosquitto, server: PrivatePostgres, fleet: LoadFleet
) -> dict[str, Any]:
    stations = fleet.stations
    heads = {station.id: station.events for station in stations}
    preload: list[tuple[str, bytes]] = []
    for station in stations:
        topics = StationTopics(station.id)
        preload.append((topics.state, station.birth))
        preload += [(topics.device(n), p) for n, p in fleet.devices().items()]
        preload.append((topics.telemetry, fleet.telemetry(station)))
    preload += _register_messages(stations)
    sent = {"telemetry": 0}
    url = server.fresh_database("national")
    names = ["national-1"]
    _say(f"national day: {len(stations)} stations, {fleet.events} events")

    async def records_complete(started: float) -> dict[str, Any]:
        """Until every station's birth, telemetry and four devices are in the store (the
        records are written beside the ingest, and may finish after the last ack)."""
        with contextlib.closing(open_store(url)) as store:
            complete = 0
            deadline = time.monotonic() + _LIMIT_S
            while time.monotonic() < deadline:
                complete = sum(
                    view.telemetry is not None and view.online is True and len(view.devices) == 4
                    for view in store.overview()
                )
                if complete == len(stations):
                    break
                await asyncio.sleep(1.0)
        return {
            "records_complete_stations": complete,
            "records_complete_s": round(time.perf_counter() - started, 1),
        }

    run = await _collect(
        centre,
        broker,
        server,
        records=records_complete,
        store=url,
        names=names,
        preload=preload,
        heads=heads,
        live=lambda: _telemetry_every_minute(broker, fleet, sent),
    )
    with contextlib.closing(open_store(url)) as store:
        stored = store.heads()
    run["heads_at_head"] = sum(stored.get(s) == head for s, head in heads.items())
    run["stations"] = len(stations)
    run["events"] = fleet.events
    run["messages_queued_before_start"] = len(preload)
    run["megabytes_queued"] = round(sum(len(p) for _, p in preload) / 1e6, 1)
    run["telemetry_published_while_draining"] = sent["telemetry"]
    run["events_per_s"] = round(fleet.events / run["wall_s"], 1)
    run |= _cpu_per_event(run, fleet.events)
    run["target_s"] = _TARGET_NATIONAL_S
    figures = run["collectors"]["national-1"]
    run["collector_peak_rss_mb"] = figures["peak_rss_mb_collector"]
    run["check_workers_peak_rss_mb"] = figures["peak_rss_mb_check_workers"]
    return run


async def _main(
    directory: Path, ingest_fleet: LoadFleet, national_fleet: LoadFleet
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    centre = _Centre(directory / "central")
    ingest_fleet.write_keys(centre.stations_dir)
    national_fleet.write_keys(centre.stations_dir)
    with centre.broker() as broker, PrivatePostgres(directory=directory / "postgres") as server:
        result["ingest"] = await _ingest(centre, broker, server, ingest_fleet)
        result["national_day"] = await _national(centre, broker, server, national_fleet)
        result["mosquitto_peak_rss_mb"] = _peak_rss_mb(broker.pid)
    return result


def _dashboard(quick: bool) -> dict[str, Any] | None:  # noqa: FBT001
    """benchmarks/central_dashboard.py's figures, when that benchmark is there."""
    if importlib.util.find_spec("benchmarks.central_dashboard") is None:
        return None
    from benchmarks import central_dashboard  # noqa: PLC0415

    _say("dashboard: benchmarks/central_dashboard.measure")
    figures: dict[str, Any] = central_dashboard.measure(quick=quick)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=200, help="ingest")
    parser.add_argument("--events", type=int, default=100_000, help="ingest, over all stations")
    parser.add_argument("--national", type=int, default=7_277, help="national day: stations")
    parser.add_argument("--national-events", type=int, default=100, help="per station")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small numbers")
    parser.add_argument("--no-dashboard", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(json.loads(args.child)))
        return
    if args.quick:
        args.stations, args.events, args.national = 20, 4_000, 300
    configure_logging(level="warning")  # stdout is for the JSON
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    result: dict[str, Any] = {"machine": _machine(), "quick": args.quick}
    # Sealed before any event loop or thread exists: the fleets are built on forked
    # processes, one per core.
    _say(f"sealing {args.stations} + {args.national} stations' events")
    started = time.perf_counter()
    ingest_fleet = LoadFleet(count=args.stations, events=args.events // args.stations, prefix="ing")
    national_fleet = LoadFleet(count=args.national, events=args.national_events, prefix="kec")
    result["signing_s_before_timing"] = round(time.perf_counter() - started, 1)
    with tempfile.TemporaryDirectory(prefix="ktpel-bench-central-") as tmp:
        result |= asyncio.run(_main(Path(tmp), ingest_fleet, national_fleet))
    if not args.no_dashboard:
        dashboard = _dashboard(args.quick)
        if dashboard is not None:
            result["dashboard"] = dashboard
    result["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    result["total_wall_s"] = round(time.perf_counter() - _STARTED, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
