"""The API server's idle cost, as one JSON object: what an idle station pays for serving
HTTP, on a Raspberry Pi mostly wake-ups.

Each server runs alone in a fresh child process (`python benchmarks/api_idle.py --child
MODE`), on a loopback port, with the smallest FastAPI app; once it listens, the child
sleeps `--idle-s` seconds on its event loop and reports, for that window, its CPU
(utime + stime, percent of one core), its voluntary context switches per second (each
one a wake-up of the process: the loop's own sleep accounts for one), and how often
the event loop's selector returned (`loop_wakeups_per_s`).

- `station`: `appliance.api.ApiServer`, as the station runs it.
- `uvicorn_serve`: stock `uvicorn.Server.serve()`, whose main loop ticks at 10 Hz: the
  baseline the station's server avoids.

    python benchmarks/api_idle.py [--idle-s 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

MODES = ("station", "uvicorn_serve")


def _voluntary_switches() -> int:
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise RuntimeError("no voluntary_ctxt_switches in /proc/self/status")


class _CountingSelector(selectors.DefaultSelector):
    """The platform's selector, counting how often the event loop comes back from it."""

    returns = 0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(timeout)
        _CountingSelector.returns += 1
        return ready


async def _idle(mode: str, idle_s: float) -> dict[str, float]:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"ok": "yes"}

    if mode == "station":
        from appliance.api import ApiServer  # noqa: PLC0415 - the child's own import

        station = ApiServer(app=app, host="127.0.0.1", port=0)
        serving = asyncio.create_task(station.serve())
        await station.started.wait()
    else:
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn gives a flag, no event
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # past start-up's own work
    usage = resource.getrusage(resource.RUSAGE_SELF)
    switches, returns, wall = _voluntary_switches(), _CountingSelector.returns, time.monotonic()
    await asyncio.sleep(idle_s)
    elapsed = time.monotonic() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "cpu_percent": round(
            100 * (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / elapsed,
            3,
        ),
        "voluntary_switches_per_s": round((_voluntary_switches() - switches) / elapsed, 2),
        "loop_wakeups_per_s": round((_CountingSelector.returns - returns) / elapsed, 2),
    }
    serving.cancel()
    if mode != "station":
        server.should_exit = True
    await asyncio.gather(serving, return_exceptions=True)
    return result


def _child(mode: str, idle_s: float) -> None:
    loop = asyncio.SelectorEventLoop(_CountingSelector())
    try:
        print(json.dumps(loop.run_until_complete(_idle(mode, idle_s))))
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.idle_s)
        return
    report: dict[str, Any] = {"idle_s": args.idle_s}
    for mode in MODES:
        child = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--idle-s", str(args.idle_s)],
            check=True,
            capture_output=True,
            text=True,
        )
        report[mode] = json.loads(child.stdout.splitlines()[-1])  # after any log lines
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
