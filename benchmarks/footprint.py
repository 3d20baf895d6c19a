"""The daemon's footprint on the box (start to READY, memory, idle CPU) as one JSON object.

`appliance run` runs as a real child process, started as `sim.day_run` starts it
(`StationDaemon`: the station's config and the simulator's overlay), with every
simulated device attached:

- `start_to_ready_s`: from spawning the process to the `READY=1` datagram on a notify
  socket this script owns (`NOTIFY_SOCKET`, an `AF_UNIX` datagram socket, as systemd
  gives a `Type=notify` unit), `--starts` times on the same station and devices (the
  first start on a new register, the others on the register the one before left):
  min, median, max (target: median <= 1.5 s). Beside it `import_s`, the wall time of
  `python -c "import appliance.daemon, appliance.station"` alone (and of `python -c pass`),
  how much of the start is the interpreter and the imports.
- `rss_idle_mb`: the daemon's resident memory (VmRSS, VmHWM its peak, RssAnon, RssFile;
  PSS and USS from smaps_rollup; MiB) at READY and after `--settle-s` idle
  (target: RSS <= 60 MiB).
- `cpu_idle_percent`: the daemon's CPU (utime + stime from /proc/PID/stat, in percent of
  one core) over `--idle-s` idle wall seconds right after, with its context switches per
  second (all its threads; many voluntary ones mean busy polling) (target <= 0.5 %).
  The simulated devices run inside this script's own process, so `others` gives that
  process's CPU as the simulator's, and pcscd's and its namespace helper's.
- `rss_day_mb`: a small realistic day (`sim.day.plan_day`, all applicants at opening, no
  faults, officers with SOP-minute durations at `--speed`) played through a new daemon
  with `sim.day_run.office_run`, as benchmarks/day.py does; the daemon's RSS sampled
  every 0.2 s during the day (max), at the end, its VmHWM, and the applicants served.
  (The kernel updates VmHWM lazily: a sample may exceed it by a few hundred KiB.)
  Every process the daemon starts (its fingerprint worker) counts, summed with it:
  `max_sampled_with_workers` is the largest sum of the samples (it misses peaks shorter
  than 0.2 s); `peak_with_workers` is the largest sum, over 0.2 s windows, of each
  process's own peak in that window (every VmHWM read, then reset by writing 5 to
  /proc/PID/clear_refs): an upper bound of the true summed peak that no short peak
  escapes (target: <= 150 MiB); `hwm_with_workers` the daemon's peak plus the largest
  peak of any worker, a looser upper bound that adds peaks hours apart.
  `rss_idle_mb.with_workers` is the same sum at idle (no worker runs then).

The daemon gets `WATCHDOG_USEC` from `--watchdog-s` (default 30: the unit's WatchdogSec)
so that, as under systemd, it feeds the watchdog while idle, and the rest of the unit's
environment (MALLOC_ARENA_MAX, python-escpos's cache). `machine.wake_up_cost` is what
this machine charges a bare asyncio loop for waking ten times a second: an idle daemon's
CPU is mostly wake-ups, and a virtual machine charges far more for one than a Raspberry
Pi. MiB are 2**20 bytes.

    python benchmarks/footprint.py [--starts 5] [--settle-s 10] [--idle-s 60]
                                   [--applicants 8] [--speed 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script (`python benchmarks/footprint.py`): its siblings are found from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim._base import Timing
from sim.daemon import StationDaemon
from sim.day import plan_day
from sim.day_run import _free_port, _prepare_station, next_working_day, office_run
from sim.office import SimulatedOffice
from sim.pcscd import SOCKET_VARIABLE, PrivatePcscd

REPOSITORY = Path(__file__).resolve().parent.parent
TARGETS = {
    "start_to_ready_s": 1.5,
    "rss_idle_mb": 60.0,
    "rss_day_hwm_mb": 150.0,
    "cpu_idle_percent": 0.5,
}
IMPORTS = "import appliance.daemon, appliance.station"
_RSS_EVERY_S = 0.2
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- /proc


def _fields(path: str) -> dict[str, str]:
    """A /proc file of `Key:  value` lines (status, smaps_rollup), under /proc."""
    lines = Path("/proc", path).read_text(encoding="utf-8").splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _status(pid: int | str) -> dict[str, str]:
    return _fields(f"{pid}/status")


def _kib(value: str) -> int:
    """`1234 kB`, as /proc writes KiB."""
    return int(value.split(maxsplit=1)[0])


def _mib(value: str) -> float:
    return round(_kib(value) / 1024, 1)


def _memory(pid: int) -> dict[str, Any]:
    status = _status(pid)
    rollup = _fields(f"{pid}/smaps_rollup")
    private = _kib(rollup["Private_Clean"]) + _kib(rollup["Private_Dirty"])
    return {
        "rss": _mib(status["VmRSS"]),
        "hwm": _mib(status["VmHWM"]),
        "rss_anon": _mib(status["RssAnon"]),
        "rss_file": _mib(status["RssFile"]),
        "pss": _mib(rollup["Pss"]),
        "uss": _mib(f"{private} kB"),
        "threads": int(status["Threads"]),
    }


@dataclass(frozen=True)
class CpuSample:
    """A process's CPU time (all its threads, live or exited) and its threads' context
    switches (only threads still alive: an exited thread's switches are lost)."""

    at: float
    ticks: int
    voluntary: int
    involuntary: int

    @classmethod
    def of(cls, pid: int) -> CpuSample:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        fields = stat[stat.rindex(")") + 2 :].split()  # fields from the 3rd (state) on
        voluntary = involuntary = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                status = _status(f"{pid}/task/{task.name}")
                voluntary += int(status["voluntary_ctxt_switches"])
                involuntary += int(status["nonvoluntary_ctxt_switches"])
        return cls(
            at=time.monotonic(),
            ticks=int(fields[11]) + int(fields[12]),  # utime, stime (fields 14, 15)
            voluntary=voluntary,
            involuntary=involuntary,
        )

    def until(self, later: CpuSample) -> dict[str, float]:
        wall = later.at - self.at
        return {
            "cpu_percent": round(100 * (later.ticks - self.ticks) / _CLOCK_TICKS / wall, 3),
            "cpu_s": round((later.ticks - self.ticks) / _CLOCK_TICKS, 2),
            "voluntary_ctxt_switches_per_s": round((later.voluntary - self.voluntary) / wall, 1),
            "involuntary_ctxt_switches_per_s": round(
                (later.involuntary - self.involuntary) / wall, 1
            ),
        }


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                for child in (task / "children").read_text(encoding="utf-8").split():
                    found += [int(child), *_descendants(int(child))]
    return found


def _with_workers(pid: int) -> dict[str, Any]:
    """The daemon's resident memory summed with every process it started (its workers)."""
    rss = hwm = 0
    workers: dict[str, float] = {}
    for one in (pid, *_descendants(pid)):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, KeyError):
            status = _status(one)
            rss += _kib(status["VmRSS"])
            hwm += _kib(status["VmHWM"])
            if one != pid:
                workers[str(one)] = _mib(status["VmRSS"])
    return {"rss": round(rss / 1024, 1), "hwm": round(hwm / 1024, 1), "workers": workers}


def _name(pid: int, pcscd: PrivatePcscd) -> str:
    if pid == pcscd.pid:
        return "pcscd"
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "namespace_main" in command:
        return "pcscd_namespace_helper"
    return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip() + f"_{pid}"


# ---------------------------------------------------------------- the notify socket


class NotifyListener:
    """A datagram socket standing in for systemd: every message, with when it came."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self._socket.bind(str(path))
        self._messages: asyncio.Queue[tuple[float, dict[str, str]]] = asyncio.Queue()
        self.watchdog_pings = 0
        asyncio.get_running_loop().add_reader(self._socket, self._read)

    def _read(self) -> None:
        arrived = time.perf_counter()
        with contextlib.suppress(BlockingIOError):
            while True:
                data = self._socket.recv(4096)
                message = dict(line.split("=", 1) for line in data.decode().splitlines())
                self.watchdog_pings += message.get("WATCHDOG") == "1"
                self._messages.put_nowait((arrived, message))
                arrived = time.perf_counter()

    async def ready(self, pid: int, *, within_s: float = 60.0) -> float:
        """When READY=1 came from `pid` (perf_counter), discarding what came before."""
        async with asyncio.timeout(within_s):
            while True:
                arrived, message = await self._messages.get()
                if message.get("READY") == "1" and message.get("MAINPID") == str(pid):
                    return arrived

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._socket)
        self._socket.close()


# As the service unit sets them (systemd/ktpel-station.service): glibc's malloc tuned for
# a long-running threaded process, and python-escpos's parsed database kept between starts.
_UNIT_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576"}


def _daemon_environment(notify: NotifyListener, watchdog_s: float, cache: Path) -> dict[str, str]:
    """What systemd would give the daemon: the notify socket, the watchdog, and the rest
    of the unit's environment (python-escpos's cache in `cache`)."""
    values = {
        **_UNIT_ENVIRONMENT,
        "ESCPOS_CAPABILITIES_PICKLE_DIR": str(cache),
        "NOTIFY_SOCKET": str(notify.path),
    }
    if watchdog_s > 0:
        values["WATCHDOG_USEC"] = str(round(watchdog_s * 1e6))
    return values


# ---------------------------------------------------------------- the measurements


def _spread(values: list[float], digits: int = 3) -> dict[str, Any]:
    return {
        "min": round(min(values), digits),
        "median": round(statistics.median(values), digits),
        "max": round(max(values), digits),
        "each": [round(value, digits) for value in values],
    }


def _imports(runs: int) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items() if name != SOCKET_VARIABLE}

    def wall(code: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=REPOSITORY, env=env, close_fds=True
        )
        return time.perf_counter() - started

    imports = [wall(IMPORTS) for _ in range(runs)]
    bare = [wall("pass") for _ in range(runs)]
    rss = subprocess.run(
        [sys.executable, "-c", f"{IMPORTS}; print(open('/proc/self/status').read())"],
        check=True,
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    status = dict(line.split(":", 1) for line in rss.splitlines() if ":" in line)
    return {
        "command": f'python -c "{IMPORTS}"',
        **_spread(imports),
        "interpreter_alone_s": round(statistics.median(bare), 3),
        "rss_mb": _mib(status["VmRSS"]),
    }


async def _idle_station(
    directory: Path,
    pcscd: PrivatePcscd,
    notify: NotifyListener,
    *,
    starts: int,
    settle_s: float,
    idle_s: float,
    watchdog_s: float,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """Start the daemon `starts` times on one station and one set of devices (real time,
    devices at their realistic speed); keep the last one and watch it idle."""
    port = _free_port()
    config_path, config = _prepare_station(
        directory, port=port, clock_table={}, uplink=None, settings={}
    )
    sim = SimulatedOffice(
        directory=directory / "sim",
        pcscd=pcscd,
        timing=Timing(),
        card_transport_key=config.card_key_paths[0],
    )
    daemon: StationDaemon | None = None
    try:
        await sim.start()
        ready_s: list[float] = []
        api_s: list[float] = []
        for number in range(1, starts + 1):
            daemon = StationDaemon(
                config=config_path,
                overlays=(sim.overlay_path,),
                log=directory / "daemon.log",
                api_url=f"http://127.0.0.1:{port}",
                env=env,
            )
            spawned = time.perf_counter()
            await daemon.start()  # returns once GET /api/v1/health answers 200
            answered = time.perf_counter()
            assert daemon.pid is not None
            ready = await notify.ready(daemon.pid)
            ready_s.append(ready - spawned)
            api_s.append(answered - spawned)
            if number < starts:
                await daemon.stop()
        assert daemon is not None
        assert daemon.pid is not None
        pid = daemon.pid
        at_ready = _memory(pid)
        await asyncio.sleep(settle_s)
        settled = _memory(pid)
        settled_with_workers = _with_workers(pid)
        watched = {"daemon": pid, "simulator_in_this_process": os.getpid()}
        watched |= {
            _name(other, pcscd): other for other in _descendants(os.getpid()) if other != pid
        }
        pings = notify.watchdog_pings
        before = {name: CpuSample.of(other) for name, other in watched.items()}
        await asyncio.sleep(idle_s)
        after = {name: CpuSample.of(other) for name, other in watched.items()}
        if daemon.died.is_set():
            raise RuntimeError(f"the daemon died while idle: {daemon.failure}")
        usage = {name: before[name].until(after[name]) for name in watched}
        daemon_children = len(_descendants(pid))
        daemon_usage = usage.pop("daemon")
        await daemon.stop()
    finally:
        if daemon is not None:
            await daemon.stop(check=False)
        await sim.stop()
    return {
        "start_to_ready_s": {
            "starts": starts,
            **_spread(ready_s),
            "api_answers_s": round(statistics.median(api_s), 3),
            "note": "start 1 on a new register, the others on the register it left",
        },
        "rss_idle_mb": {
            **settled,
            "with_workers": settled_with_workers,
            "after_ready_s": settle_s,
            "at_ready": at_ready,
        },
        "cpu_idle_percent": {
            "daemon": daemon_usage["cpu_percent"],
            "window_s": idle_s,
            "daemon_detail": daemon_usage,
            "daemon_children": daemon_children,
            "watchdog_pings_in_window": notify.watchdog_pings - pings,
            "watchdog_usec": round(watchdog_s * 1e6) if watchdog_s > 0 else None,
            "others": usage,
        },
    }


@dataclass
class DaySamples:
    """The day's samples: the daemon's RSS, its sum with its workers', each process's
    peak (the largest VmHWM read: a worker's is lost once it has stopped), and the sums
    of the peaks per window."""

    daemon: list[float]
    with_workers: list[float]
    hwm_kib: dict[int, int]
    window_peaks: list[float]


def _window_peak(pid: int) -> int:
    """The process's VmHWM in KiB since the last call, which starts a new window: the
    kernel resets VmHWM to the current RSS when 5 is written to clear_refs."""
    hwm = _kib(_status(pid)["VmHWM"])
    with contextlib.suppress(PermissionError):
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")
    return hwm


async def _sample_rss(pid: int, into: DaySamples) -> None:
    while True:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, KeyError):
            own = _kib(_status(pid)["VmRSS"])
            peak = _window_peak(pid)
            into.hwm_kib[pid] = max(into.hwm_kib.get(pid, 0), peak)
            total = own
            for worker in _descendants(pid):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError, KeyError):
                    total += _kib(_status(worker)["VmRSS"])
                    worker_peak = _window_peak(worker)
                    peak += worker_peak
                    into.hwm_kib[worker] = max(into.hwm_kib.get(worker, 0), worker_peak)
            into.daemon.append(round(own / 1024, 1))
            into.with_workers.append(round(total / 1024, 1))
            into.window_peaks.append(round(peak / 1024, 1))
        await asyncio.sleep(_RSS_EVERY_S)


async def _day(
    directory: Path,
    pcscd: PrivatePcscd,
    *,
    applicants: int,
    speed: float,
    seed: int,
    env: Mapping[str, str],
) -> dict[str, Any]:
    plan = plan_day(
        applicants=applicants,
        seed=seed,
        today=next_working_day(date.today()),  # noqa: DTZ011 - a calendar day for the rules
        arrivals_over_s=0,
        faults=False,
    )
    samples = DaySamples(daemon=[], with_workers=[], hwm_kib={}, window_peaks=[])
    async with contextlib.AsyncExitStack() as stack:
        run = await stack.enter_async_context(
            office_run(directory, plan, speed=speed, pcscd=pcscd, env=env)
        )
        pid = run.daemon.pid
        assert pid is not None
        sampler = asyncio.create_task(_sample_rss(pid, samples), name="rss-sampler")
        try:
            started = time.perf_counter()
            await run.play(plan)
            wall = time.perf_counter() - started
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        daemon_hwm = max(samples.hwm_kib.get(pid, 0), _window_peak(pid))
        end = _memory(pid)
        end_with_workers = _with_workers(pid)
    report = run.report()
    worker_hwm = max((kib for one, kib in samples.hwm_kib.items() if one != pid), default=0)
    return {
        "peak_with_workers": max(samples.window_peaks, default=end["rss"]),
        "max_sampled": max(samples.daemon, default=end["rss"]),
        "max_sampled_with_workers": max(samples.with_workers, default=end["rss"]),
        "hwm_with_workers": round((daemon_hwm + worker_hwm) / 1024, 1),
        "end": end["rss"],
        "end_with_workers": end_with_workers["rss"],
        "hwm": round(daemon_hwm / 1024, 1),
        "workers_seen": len(samples.hwm_kib) - 1,
        "worker_hwm_max": round(worker_hwm / 1024, 1),
        "end_detail": end,
        "samples": len(samples.daemon),
        "every_s": _RSS_EVERY_S,
        "applicants": applicants,
        "served": report.served,
        "returned": report.returned_at_check + report.returned_at_validate,
        "suket": report.suket,
        "speed": speed,
        "day_min": round(report.day_s / 60, 1),
        "wall_s": round(wall, 1),
        "verified": report.verified is None,
    }


async def _wake_up_cost(seconds: float = 10.0) -> dict[str, float]:
    """What this machine charges a process for waking: the CPU of a bare asyncio loop
    that sleeps 0.1 s at a time. A virtual machine may charge a hundred times what a
    Raspberry Pi does per wake-up, and an idle daemon's CPU is mostly wake-ups."""

    def runtime_ns() -> int:
        return int(Path("/proc/self/schedstat").read_text().split()[0])

    start_ns, start = runtime_ns(), time.perf_counter()
    wakes = 0
    while time.perf_counter() - start < seconds:
        await asyncio.sleep(0.1)
        wakes += 1
    cpu_s = (runtime_ns() - start_ns) / 1e9
    wall_s = time.perf_counter() - start
    return {
        "bare_loop_10_per_s_cpu_percent": round(100 * cpu_s / wall_s, 3),
        "cpu_us_per_wake_up": round(cpu_s / wakes * 1e6, 1),
    }


async def _measure(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": [round(load, 2) for load in os.getloadavg()],
            "wake_up_cost": await _wake_up_cost(),
        },
        "targets": TARGETS,
        "import_s": await asyncio.to_thread(_imports, args.starts),
    }
    # One pcscd for the simulated readers of both stations: a process talks to one only.
    os.environ.pop(SOCKET_VARIABLE, None)
    with tempfile.TemporaryDirectory(prefix="ktpel-fp-") as tmp:
        root = Path(tmp)  # short: UNIX socket paths must fit 108 bytes
        async with PrivatePcscd(directory=root / "pcscd") as pcscd:
            notify = NotifyListener(root / "notify")
            env = _daemon_environment(notify, args.watchdog_s, cache=root)
            try:
                result |= await _idle_station(
                    root / "idle",
                    pcscd,
                    notify,
                    starts=args.starts,
                    settle_s=args.settle_s,
                    idle_s=args.idle_s,
                    watchdog_s=args.watchdog_s,
                    env=env,
                )
                result["rss_day_mb"] = await _day(
                    root / "day",
                    pcscd,
                    applicants=args.applicants,
                    speed=args.speed,
                    seed=args.seed,
                    env=env,
                )
            finally:
                notify.close()
    result["ready_ok"] = result["start_to_ready_s"]["median"] <= TARGETS["start_to_ready_s"]
    result["rss_idle_ok"] = result["rss_idle_mb"]["with_workers"]["rss"] <= TARGETS["rss_idle_mb"]
    result["rss_day_ok"] = result["rss_day_mb"]["peak_with_workers"] <= TARGETS["rss_day_hwm_mb"]
    result["cpu_idle_ok"] = result["cpu_idle_percent"]["daemon"] <= TARGETS["cpu_idle_percent"]
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="daemon starts timed (5)")
    parser.add_argument(
        "--settle-s", type=float, default=10.0, help="idle after READY before RSS (10)"
    )
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle CPU window (60)")
    parser.add_argument(
        "--watchdog-s", type=float, default=30.0, help="WatchdogSec given; 0: none (30)"
    )
    parser.add_argument("--applicants", type=int, default=8, help="the day's applicants (8)")
    parser.add_argument("--speed", type=float, default=120.0, help="the day's time scale (120)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.starts < 1:
        parser.error("--starts must be at least 1")
    # SIGTERM as Ctrl-C: cancelled, every process started here is stopped on the way out.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    print(json.dumps(await _measure(args), indent=2))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("footprint: interrupted; every process it started is stopped")
