"""One simulated day end to end: the simulated devices, the station daemon as a child
process on the simulator's overlay, the officers playing the plan through the API, and
the day read back from the register.

Time: with a `speed`, the daemon runs on a `ScaledClock` that starts at the office's
opening on the plan's day, and the devices' own delays shrink by the same factor; the
officers sleep on the same clock, anchored to the same monotonic instant, so everyone
agrees on the day's time even across daemon restarts. Without one, the clock is real
and the devices are instant: the machinery alone, as fast as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import tomli_w

from appliance.clock import RealTimekeeper, ScaledClock, Timekeeper
from appliance.config import Config, load_config
from appliance.domain import Role
from appliance.keys import init_keys
from appliance.register import PublicKey, read_events
from appliance.staff import add_member

from ._base import Timing
from .central import CentralReport, SimulatedCentral
from .daemon import APPLIANCE, StationDaemon
from .day import DayPlan
from .day_officers import DayLog, OfficeDay, Staff
from .day_report import DayReport
from .office import SimulatedOffice
from .pcscd import PrivatePcscd

STAFF = Staff(
    counter="siti",
    section_head="budi",
    operator="eko",
    secret="246810",  # noqa: S106 - the simulated office's PIN, printed in its docs
)
_OFFICERS = (
    (STAFF.counter, "Siti Aminah", Role.COUNTER_OFFICER),
    (STAFF.section_head, "Budi Santoso", Role.SECTION_HEAD),
    (STAFF.operator, "Eko Prasetyo", Role.OPERATOR),
)
STATION_ID = "lumajang-sim"
ZONE = ZoneInfo("Asia/Jakarta")
OPENING = time(8, 0)


def next_working_day(day: date) -> date:
    while day.isoweekday() > 5:  # Saturday, Sunday
        day += timedelta(days=1)
    return day


@dataclass
class OfficeRun:
    directory: Path
    config: Config
    sim: SimulatedOffice
    daemon: StationDaemon
    clock: Timekeeper
    api_url: str
    central: SimulatedCentral | None = None

    async def central_report(self, *, within_s: float = 60.0) -> CentralReport | None:
        """Once the centre holds the station's whole register (the daemon still running),
        what it holds; None for a day without a central office."""
        if self.central is None:
            return None
        head = max((event.seq for event in read_events(self.config.register_path)), default=0)
        await self.central.wait_stored(head, within_s=within_s)
        return self.central.report(PublicKey.load(self.config.station_key_path))

    async def play(
        self, plan: DayPlan, *, sequential: bool = False, clock: Timekeeper | None = None
    ) -> DayLog:
        """Play the officers; on the station's clock, unless `clock` says otherwise (a
        test's hand on when applicants arrive)."""
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as http:
            day = OfficeDay(
                plan=plan,
                http=http,
                sim=self.sim,
                clock=clock or self.clock,
                staff=STAFF,
                sequential=sequential,
            )
            playing = asyncio.create_task(day.run(), name="day")
            died = asyncio.create_task(self.daemon.died.wait(), name="daemon-died")
            try:
                await asyncio.wait({playing, died}, return_when=asyncio.FIRST_COMPLETED)
                if not playing.done() and self.daemon.failure is not None:
                    raise self.daemon.failure
                return await playing
            finally:
                # Cancelled from outside (a test's deadline) or ended by a dead daemon:
                # the officers stop too, before their HTTP client closes.
                pending = [task for task in (playing, died) if not task.done()]
                for task in pending:
                    task.cancel()
                for task in pending:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    def report(self) -> DayReport:
        return DayReport.read(
            self.config.register_path, PublicKey.load(self.config.station_key_path)
        )


@contextlib.asynccontextmanager
async def office_run(
    directory: Path,
    plan: DayPlan,
    *,
    speed: float | None,
    opens: time = OPENING,
    pcscd: PrivatePcscd | None = None,
    central: bool = False,
    dashboard: bool = False,
    settings: Mapping[str, Mapping[str, object]] | None = None,
    program: Sequence[str] = APPLIANCE,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[OfficeRun]:
    """The simulator and the daemon, ready for `play`; on the way out the daemon is
    stopped with SIGTERM (DaemonFailed unless it exits 0) and the simulator with it.

    With a `speed`, the station's clock starts at `opens` on the plan's day (a test's day
    may start late, to run past midnight).

    `settings` are config tables merged over the station's (`{"paths": {"reserve_mb":
    8}}`); `program` runs `appliance`, with `env` added to its environment (see
    StationDaemon).

    With `central`, the station ships its register over its uplink to a central office
    (a private broker and a collector) started beside it; with `dashboard`, the whole
    central office with its dashboard (`SimulatedCentral`)."""
    clock: Timekeeper = RealTimekeeper()
    clock_table: dict[str, object] = {}
    if speed is not None:
        start = datetime.combine(plan.today, opens, tzinfo=ZONE)
        scaled = ScaledClock(speed=speed, start_wall_ns=int(start.timestamp() * 1e9))
        clock_table = {
            "speed": speed,
            "start": start,
            "anchor_monotonic_ns": scaled.anchor_monotonic_ns,
        }
        clock = scaled
    port = _free_port()
    office = None
    if central:
        office = SimulatedCentral(
            directory=directory / "central", station=STATION_ID, dashboard=dashboard
        )
        office.start_broker()
    sim = SimulatedOffice(
        directory=directory / "sim",
        pcscd=pcscd,
        timing=Timing(scale=0.0 if speed is None else 1 / speed),
        card_print_s=plan.model.card_print_s,
        keypad_auto_press=False,  # the plan's applicants press it (or not)
    )
    try:
        config_path, config = _prepare_station(
            directory,
            port=port,
            clock_table=clock_table,
            uplink=None if office is None else office.uplink_table(),
            settings=settings or {},
        )
        sim.card_transport_key = config.card_key_paths[0]  # the blanks' maker shares it
        if office is not None:
            office.start_collector(config.station_key_path.with_suffix(".pub"))
        await sim.start()
    except BaseException:
        if office is not None:
            await office.stop()
        raise
    api_url = f"http://127.0.0.1:{port}"
    daemon = StationDaemon(
        config=config_path,
        overlays=(sim.overlay_path,),
        log=directory / "daemon.log",
        api_url=api_url,
        program=program,
        env=env,
    )
    try:
        await daemon.start()
        yield OfficeRun(
            directory=directory,
            config=config,
            sim=sim,
            daemon=daemon,
            clock=clock,
            api_url=api_url,
            central=office,
        )
        await daemon.stop()  # a clean SIGTERM exits 0, or this says why not
    finally:
        await daemon.stop(check=False)
        await sim.stop()
        if office is not None:
            await office.stop()


def _prepare_station(
    directory: Path,
    *,
    port: int,
    clock_table: dict[str, object],
    uplink: dict[str, object] | None,
    settings: Mapping[str, Mapping[str, object]],
) -> tuple[Path, Config]:
    """The station's config file (and what it says), keys and officers, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    document: dict[str, object] = {
        "station": {"id": STATION_ID, "office": "Kecamatan Lumajang"},
        "paths": {"state_dir": "state"},
        "api": {"port": port},
        "logging": {"level": "warning", "format": "json"},
    }
    if clock_table:
        document["clock"] = clock_table
    if uplink is not None:
        document["uplink"] = uplink
    for table, values in settings.items():
        current = document.setdefault(table, {})
        if not isinstance(current, dict):
            raise TypeError(f"[{table}] is not a table")
        current.update(values)
    config_path = directory / "station.toml"
    config_path.write_text(tomli_w.dumps(document), encoding="utf-8")
    config = load_config(config_path)
    init_keys(config)
    for person, name, role in _OFFICERS:
        add_member(
            config.staff_path, person_id=person, name=name, roles=[role], secret=STAFF.secret
        )
    return config_path, config


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
