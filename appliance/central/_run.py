"""Running the collector, and the central office's signing key."""

from __future__ import annotations

import asyncio
import signal

from appliance._text import Text
from appliance.logs import get_logger
from appliance.register import StationKey
from appliance.sync import Collector, StationKeys, StationOverview, open_store

from ._config import CentralConfig

log = get_logger(__name__)


async def run_collector(config: CentralConfig) -> None:
    """Collect until SIGTERM or SIGINT."""
    store = open_store(config.store_url)
    collector = Collector(
        settings=config.central,
        broker=config.broker,
        resolve=config.state_path,
        store=store,
        keys=StationKeys(directory=config.state_path(config.central.stations_dir)),
        signing_key=StationKey.load(config.state_path(config.central.signing_key)),
    )
    loop = asyncio.get_running_loop()
    collecting = asyncio.create_task(collector.run(), name="collector")
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, collecting.cancel)
    try:
        await collecting
    except asyncio.CancelledError:
        log.info("collector_stopped")
    finally:
        collector.close()
        store.close()


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
