"""`appliance run`: the station as one long-running process.

The station's parts are opened in the order they depend on each other (`Station.open`)
and run as named tasks of one TaskGroup until SIGTERM or SIGINT asks the process to
stop; then the tasks are cancelled, which lets a device step in progress record itself
as interrupted, and the parts are closed in reverse, the register last.
"""

from __future__ import annotations

import asyncio
import signal

from appliance._text import Text
from appliance.config import Config
from appliance.hal import DeviceState
from appliance.liveness import Watchdog
from appliance.logs import get_logger
from appliance.notify import SystemdNotifier
from appliance.station import Station

log = get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_STATUS_EVERY_S = 15.0


async def serve(config: Config, *, notifier: SystemdNotifier | None = None) -> None:
    """Run the station until a stop signal; a part that fails ends it with its error.

    Under systemd (`Type=notify`) it says READY=1 once the register and the API are up,
    keeps a one-line STATUS, and says STOPPING=1 when asked to stop.
    """
    notifier = notifier or SystemdNotifier()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Station.open(config) as station:
            runner = asyncio.create_task(station.run(), name="station")
            stopping = asyncio.create_task(stop.wait(), name="stop-signal")
            announce = asyncio.create_task(_announce(station, notifier), name="announce")
            await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (announce, stopping, runner):
                task.cancel()
            if stop.is_set():
                log.info("station_stopping")
                notifier.stopping(Text("berhenti", "stopping").in_language(config.station.language))
            await asyncio.gather(announce, stopping, return_exceptions=True)
            try:
                await runner  # a part that failed raises here, after the others stopped
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        notifier.close()
    log.info("station_stopped")


async def _announce(station: Station, notifier: SystemdNotifier) -> None:
    await station.api.started.wait()
    await station.pipeline.ready.wait()
    log.info(
        "station_ready",
        station=station.config.station.id,
        api=f"http://{station.config.api.host}:{station.api.port}",
    )
    notifier.ready(status_line(station))
    async with asyncio.TaskGroup() as tasks:
        if notifier.watchdog_interval_s is not None:
            watchdog = Watchdog(liveness=station.liveness, notifier=notifier)
            tasks.create_task(watchdog.run(notifier.watchdog_interval_s), name="watchdog")
        while True:
            await asyncio.sleep(_STATUS_EVERY_S)
            notifier.status(status_line(station))


def status_line(station: Station) -> str:
    """What `systemctl status` shows: devices, the queue, open applications, the uplink."""
    devices = station.supervisor.snapshot()
    ready = sum(status["state"] == DeviceState.READY.value for status in devices.values())
    figures = station.pipeline.queue().figures
    open_apps = station.register.query(
        "SELECT count(*) AS n FROM applications WHERE state IN ('in_progress', 'waiting_blank')"
    )[0]["n"]
    uplink = station.uplink.status() if station.uplink is not None else None
    text = Text(
        "perangkat siap {ready}/{total}, antrean {waiting}, permohonan terbuka {open}",
        "devices ready {ready}/{total}, queue {waiting}, open applications {open}",
    ).format(ready=ready, total=len(devices), waiting=figures.waiting, open=open_apps)
    line = text.in_language(station.config.station.language)
    if uplink is not None:
        link = Text("tersambung", "connected") if uplink.connected else Text("putus", "down")
        line += (
            Text(", uplink {link}, belum terkirim {n}", ", uplink {link}, unsent {n}")
            .format(link=link.in_language(station.config.station.language), n=uplink.backlog)
            .in_language(station.config.station.language)
        )
    return line
