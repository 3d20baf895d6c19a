"""The doctor run inside the station daemon, for a check-up the central office asked for
(`cmd/doctor`, docs/uplink.md).

The daemon keeps serving while it runs: the checks run on a worker thread with an event
loop of their own, so neither the register's reading nor the broker's probe can hold up
the daemon's loop, and the whole is bounded in time. The devices are the daemon's: the
doctor reports the supervisor's view of them (taken on the daemon's loop, where it
lives) and opens none. Nothing personal goes into the report: the checks report counts,
paths, devices and times, and a check that fails names only its error's type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from appliance._text import Text
from appliance.clock import Clock, SystemClock
from appliance.config import Config
from appliance.logs import get_logger

from ._daemon import DaemonView
from ._diagnose import diagnose
from ._limits import DoctorLimits
from ._report import Finding, Level, Report

log = get_logger(__name__)

BOUND_S: Final = 60.0
"""Each check has its own bound (DoctorLimits, at most 20 s); this one holds even if a
check were to ignore its own."""


class StationDoctor:
    """Runs the doctor inside the daemon; an instance is the uplink's `doctor`."""

    def __init__(
        self,
        *,
        config: Config,
        devices: Callable[[], Mapping[str, Any]],
        stale_loops: Callable[[], Sequence[str]] = tuple,
        clock: Clock | None = None,
        limits: DoctorLimits | None = None,
        bound_s: float = BOUND_S,
    ) -> None:
        self._config = config
        self._devices = devices
        self._stale_loops = stale_loops
        self._clock = clock or SystemClock()
        self._limits = limits or DoctorLimits()
        self._bound_s = bound_s

    async def __call__(self) -> dict[str, Any]:
        view = DaemonView(devices=self._devices(), stale_loops=tuple(self._stale_loops()))
        try:
            # The thread is not stopped by the timeout; its checks end by their own bounds.
            async with asyncio.timeout(self._bound_s):
                report = await asyncio.to_thread(self._run, view)
        except TimeoutError:
            log.warning("doctor_remote_timeout", bound_s=self._bound_s)
            report = self._unfinished()
        return report.to_json()

    def _run(self, view: DaemonView) -> Report:
        return asyncio.run(
            diagnose(self._config, clock=self._clock, limits=self._limits, daemon_view=view)
        )

    def _unfinished(self) -> Report:
        return Report(
            station=self._config.station.id,
            findings=(
                Finding(
                    check="doctor",
                    level=Level.PROBLEM,
                    text=Text(
                        "Pemeriksaan tidak selesai dalam {seconds:g} detik",
                        "The check-up did not finish within {seconds:g} s",
                    ).format(seconds=self._bound_s),
                    advice=Text(
                        "Lihat log stasiun (`journalctl -u ktpel-station -n 100`) atau minta "
                        "petugas setempat menjalankan `appliance doctor`.",
                        "See the station's log (`journalctl -u ktpel-station -n 100`) or ask "
                        "someone on site to run `appliance doctor`.",
                    ),
                ),
            ),
        )
