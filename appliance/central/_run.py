"""One `appliance central` process: the collector, the status keeper, the alert keeper,
the dashboard's web server and the command sender, run as named tasks of one TaskGroup
until SIGTERM or SIGINT; and the central office's signing key and text overview.

Several such processes may serve one PostgreSQL database and one broker (the collectors'
shared subscription): every part keeps its shared state in the database, so none
assumes it is alone. Each part has its own database connection and, where it reads the
collector's store, its own store object: they run on their own threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass

from appliance._text import Text
from appliance.api import ApiServer, LanMode
from appliance.clock import Clock, SystemClock
from appliance.logs import get_logger
from appliance.register import StationKey
from appliance.sync import Collector, CollectorStore, StationKeys, StationOverview, open_store

from ._alert_keeper import AlertKeeper
from ._alert_store import AlertStore
from ._commands import CommandSender
from ._config import CentralConfig
from ._database import Database
from ._fleet import Fleet, load_fleet
from ._metrics import CentralMetrics
from ._status import StatusTable
from ._status_keeper import StatusKeeper
from .web import LiveFeed, compose_context, create_dashboard, database_markers

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Opened:
    """What the process opened, closed in reverse when it stops."""

    stores: tuple[CollectorStore, ...]
    databases: tuple[Database, ...]


class CentralOffice:
    """The parts of one central process, built from its config (`run()` runs them)."""

    def __init__(self, *, config: CentralConfig, clock: Clock | None = None) -> None:
        clock = clock or SystemClock()
        self.config = config
        resolve = config.state_path
        signing_key = StationKey.load(resolve(config.central.signing_key))
        self.fleet: Fleet = load_fleet(config.fleet, config.central.state_dir)
        stores: list[CollectorStore] = []
        databases: list[Database] = []

        def store() -> CollectorStore:
            stores.append(opened := open_store(config.store_url))
            return opened

        def database() -> Database:
            databases.append(opened := Database.open(config.database_url))
            return opened

        try:
            self.collector = Collector(
                settings=config.central,
                broker=config.broker,
                resolve=resolve,
                store=store(),
                keys=StationKeys(directory=resolve(config.central.stations_dir)),
                signing_key=signing_key,
                records_store=store(),
            )
            self.status_keeper = StatusKeeper(
                store=store(),
                database=database(),
                fleet=self.fleet,
                clock=clock,
                hours=config.fleet,
            )
            alerts_db = database()
            fleet, hours = self.fleet, config.fleet
            self.alert_keeper = AlertKeeper(
                settings=config.alerts,
                store=AlertStore(database=alerts_db),
                statuses=StatusTable(alerts_db),
                calendar=lambda station: hours.calendar(fleet.zone_of(station)),
                broker=config.broker,
                resolve=resolve,
                identifier=config.central.id,
                clock=clock,
            )
            self.commands = CommandSender(
                broker=config.broker,
                resolve=resolve,
                signing_key=signing_key,
                database=database(),
                client_id=f"{config.central.id}-commands",
                clock=clock,
            )
            settings = config.dashboard
            self.live = LiveFeed(markers=database_markers(database()))
            context = compose_context(
                database=database(),
                settings=settings,
                clock=clock,
                fleet=self.fleet,
                live=self.live,
                store=store(),
                targets=config.targets,
                commands=self.commands,
            )
            self.users = context.users
            collector = self.collector
            metrics = CentralMetrics(
                collector_stats=lambda: collector.stats, alerts=AlertStore(database=database())
            )
            app = create_dashboard(context, metrics=metrics.asgi_app)
            lan = (
                LanMode(
                    certificate=resolve(settings.certificate),
                    key=resolve(settings.key),
                    allowed_clients=settings.allowed_clients,
                )
                if settings.certificate is not None and settings.key is not None
                else None
            )
            self.dashboard = ApiServer(
                app=app, host=settings.host, port=settings.port, on_stop=self.live.stop, lan=lan
            )
        except BaseException:
            _close(_Opened(tuple(stores), tuple(databases)))
            raise
        self._opened = _Opened(tuple(stores), tuple(databases))

    async def run(self) -> None:
        """Every part, until cancelled (or until one fails, which stops the others)."""
        try:
            async with asyncio.TaskGroup() as parts:
                parts.create_task(self.collector.run(), name="collector")
                parts.create_task(self.status_keeper.run(), name="status-keeper")
                if self.config.alerts.enabled:
                    parts.create_task(self.alert_keeper.run(), name="alert-keeper")
                parts.create_task(self.dashboard.serve(), name="dashboard")
        finally:
            await self.commands.close()

    def close(self) -> None:
        self.collector.close()
        self.users.close()
        _close(self._opened)


def _close(opened: _Opened) -> None:
    for database in reversed(opened.databases):
        database.close()
    for store in reversed(opened.stores):
        store.close()


async def run_central(config: CentralConfig) -> None:
    """The central office until SIGTERM or SIGINT."""
    office = CentralOffice(config=config)
    loop = asyncio.get_running_loop()
    running = asyncio.create_task(office.run(), name="central")
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, running.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await running
        log.info("central_stopped")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        office.close()


def overview(config: CentralConfig) -> list[StationOverview]:
    store = open_store(config.store_url)
    try:
        return store.overview()
    finally:
        store.close()


def init_central_key(config: CentralConfig) -> list[Text]:
    """The central office's signing key, and the public half every station needs."""
    path = config.state_path(config.central.signing_key)
    key = StationKey.generate()
    key.save(path)
    public_path = path.with_suffix(".pub")
    public_path.write_bytes(key.public_key.to_pem())
    return [
        Text("kunci kantor pusat dibuat: {path}", "central office key created: {path}").format(
            path=path
        ),
        Text(
            "salin {pub} ke setiap stasiun ([uplink] central_public_key) — sidik {fp}",
            "copy {pub} to every station ([uplink] central_public_key) — fingerprint {fp}",
        ).format(pub=public_path, fp=key.public_key.fingerprint),
    ]
