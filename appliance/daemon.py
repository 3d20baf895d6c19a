"""`appliance run`: the station as one long-running process.

The station's parts are opened in the order they depend on each other (`Station.open`)
and run as named tasks of one TaskGroup until SIGTERM or SIGINT asks the process to
stop; then the tasks are cancelled, which lets a device step in progress record itself
as interrupted, and the parts are closed in reverse, the register last.
"""

from __future__ import annotations

import asyncio
import signal

from appliance.config import Config
from appliance.logs import get_logger
from appliance.station import Station

log = get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(config: Config) -> None:
    """Run the station until a stop signal; a part that fails ends it with its error."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Station.open(config) as station:
            runner = asyncio.create_task(station.run(), name="station")
            stopping = asyncio.create_task(stop.wait(), name="stop-signal")
            announce = asyncio.create_task(_announce(station), name="announce")
            await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (announce, stopping, runner):
                task.cancel()
            if stop.is_set():
                log.info("station_stopping")
            await asyncio.gather(announce, stopping, return_exceptions=True)
            try:
                await runner  # a part that failed raises here, after the others stopped
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    log.info("station_stopped")


async def _announce(station: Station) -> None:
    await station.api.started.wait()
    await station.pipeline.ready.wait()
    log.info(
        "station_ready",
        station=station.config.station.id,
        api=f"http://{station.config.api.host}:{station.api.port}",
    )
