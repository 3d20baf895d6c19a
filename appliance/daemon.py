"""`appliance run`: the station as one long-running process.

The station's parts are opened in the order they depend on each other (`Station.open`)
and run as named tasks of one TaskGroup until SIGTERM or SIGINT asks the process to
stop; then the tasks are cancelled, which lets a device step in progress record itself
as interrupted, and the parts are closed in reverse, the register last.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from appliance._text import Text
from appliance.config import Config, ConfigError
from appliance.hal import DeviceState
from appliance.liveness import DEFAULT_PERIOD_S, Liveness, Watchdog
from appliance.logs import configure_logging, get_logger
from appliance.notify import SystemdNotifier
from appliance.staff import StaffFileError
from appliance.station import Station

log = get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_STATUS_EVERY_S = 15.0
_RELOADABLE = frozenset({"logging"})


async def serve(
    config: Config,
    *,
    reload: Callable[[], Config] | None = None,
    notifier: SystemdNotifier | None = None,
) -> None:
    """Run the station until a stop signal; a part that fails ends it with its error.

    Under systemd (`Type=notify`) it says READY=1 once the register and the API are up,
    keeps a one-line STATUS, and says STOPPING=1 when asked to stop. SIGHUP reads the
    config again with `reload` and applies what can change while running (`_reload`).
    """
    notifier = notifier or SystemdNotifier()
    # The loops prove themselves at least as often as the watchdog wants a ping.
    period_s = min(DEFAULT_PERIOD_S, notifier.watchdog_interval_s or DEFAULT_PERIOD_S)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hangup = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, hangup.set)
    try:
        async with Station.open(config, liveness=Liveness(period_s=period_s)) as station:
            runner = asyncio.create_task(station.run(), name="station")
            stopping = asyncio.create_task(stop.wait(), name="stop-signal")
            announce = asyncio.create_task(_announce(station, notifier), name="announce")
            reloader = asyncio.create_task(
                _reload_on(hangup, station, reload, notifier), name="reload"
            )
            await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (announce, reloader, stopping, runner):
                task.cancel()
            if stop.is_set():
                log.info("station_stopping")
                notifier.stopping(Text("berhenti", "stopping").in_language(config.station.language))
            await asyncio.gather(announce, reloader, stopping, return_exceptions=True)
            try:
                await runner  # a part that failed raises here, after the others stopped
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
    finally:
        for signum in (*_STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        notifier.close()
    log.info("station_stopped")


async def _reload_on(
    hangup: asyncio.Event,
    station: Station,
    load: Callable[[], Config] | None,
    notifier: SystemdNotifier,
) -> None:
    # A SIGHUP during start-up waits for READY: it must not announce readiness early.
    await station.api.started.wait()
    await station.pipeline.ready.wait()
    while True:
        await hangup.wait()
        hangup.clear()
        notifier.reloading()
        try:
            if load is None:
                log.warning("reload_unsupported")
            else:
                _reload(station, load)
        except Exception:
            # A reload that fails in a way not foreseen leaves the station as it was, and
            # the next SIGHUP is still heard.
            log.exception("reload_failed")
        finally:
            notifier.ready(status_line(station))


def _reload(station: Station, load: Callable[[], Config]) -> None:
    """Apply what can change while the station runs: the staff file (after `appliance
    staff add` or `passwd`) and the log level. Anything else changed, [staff] settings
    included, waits for a restart, and the log says which sections. A config or staff
    file that does not read, or a staff file that would leave nobody to log in, changes
    nothing."""
    try:
        config = load()
    except ConfigError as error:
        log.error("reload_refused", problem=error.render("en"))  # noqa: TRY400 - no trace needed
        return
    try:
        # The running staff file: a new path is a [paths] or [staff] change, for a restart.
        changed = station.staff.reload(station.config.staff_path)
    except StaffFileError as error:
        log.error("reload_refused", problem=str(error))  # noqa: TRY400 - no trace needed
        return
    for person in changed:
        station.sessions.close_all(person)
    configure_logging(level=config.logging.level, format=config.logging.format)
    running = station.config
    restart = sorted(
        name
        for name in type(config).model_fields
        if name not in _RELOADABLE and getattr(config, name) != getattr(running, name)
    )
    if restart:
        log.warning("reload_needs_restart", sections=restart)
    log.info(
        "reloaded",
        staff=len(station.staff.members()),
        sessions_closed_for=len(changed),
        logging_level=config.logging.level,
    )


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
    open_apps = sum(station.register.open_by_stage().values())
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
