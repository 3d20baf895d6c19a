"""A station process that only ships its register, for the test that SIGKILLs it in the
middle of a drain.

python -m tests.uplink_child STATION_DIR STATION_ID SETTINGS_JSON
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from appliance.register import Register, StationKey
from appliance.sync import Uplink, UplinkSection


async def _ship(station_dir: Path, station: str, settings: UplinkSection) -> None:
    key = StationKey.load(station_dir / "keys" / "station.key")
    register = Register.open(station_dir / "register.sqlite3", station_id=station, key=key)
    uplink = Uplink(
        settings=settings,
        register=register,
        key=key,
        resolve=lambda path: path if path.is_absolute() else station_dir / path,
    )
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(uplink.run())
        acked = 0
        while True:  # each acknowledgement the station has persisted, for the parent
            await uplink.wait_acked(acked + 1)
            acked = uplink.status().acked
            print(f"acked {acked}", flush=True)


if __name__ == "__main__":
    directory, station_id, settings_json = sys.argv[1:4]
    asyncio.run(
        _ship(Path(directory), station_id, UplinkSection.model_validate_json(settings_json))
    )
