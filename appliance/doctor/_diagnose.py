"""The doctor's orchestration: run every check, each bounded in time and none able to
hide the others, and gather their findings into one report in a fixed order.

The daemon is asked first, because its answer decides how the devices are checked: a
running daemon holds them, so its view is reported; otherwise the doctor opens them
itself. The other checks then run side by side. Run inside the daemon (`daemon` given),
the doctor takes the daemon's view as it is, and a check that fails names only the
error's type: its message could quote anything, and this report leaves the station.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import TextIO

from appliance._text import Language
from appliance.clock import Clock, SystemClock
from appliance.config import Config
from appliance.logs import get_logger

from ._broker import _probe_broker
from ._daemon import DaemonView, _DaemonProbe, _probe_daemon_safely, _probe_in_process
from ._devices import _probe_devices, findings_from_daemon_status
from ._host import _clock_finding, _config_finding, _inspect_disk
from ._keys import _key_findings
from ._limits import DoctorLimits
from ._register import _inspect_register
from ._report import Finding, Level, Report, _check_failed, render
from ._retention import _inspect_retention

log = get_logger(__name__)


def run_doctor(config: Config, *, language: Language, json_output: bool, out: TextIO) -> int:
    """`appliance doctor`: diagnose, print the report, return the exit status."""
    report = asyncio.run(diagnose(config))
    if json_output:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2), file=out)
    else:
        print(render(report, language), file=out)
    return report.exit_code


async def diagnose(
    config: Config,
    *,
    clock: Clock | None = None,
    limits: DoctorLimits | None = None,
    daemon_view: DaemonView | None = None,
) -> Report:
    """Check the station described by `config`; every check is bounded in time.
    `daemon_view`: the doctor runs inside the daemon, which sees itself so."""
    limits = limits or DoctorLimits()
    if daemon_view is None:
        daemon = await _probe_daemon_safely(config, limits)
    else:
        daemon = _probe_in_process(daemon_view)
    quote = daemon_view is None

    async def _guarded(check: str, probe: Awaitable[list[Finding]]) -> list[Finding]:
        return await _checked(check, probe, quote_error=quote)

    async with asyncio.TaskGroup() as group:
        devices = group.create_task(_guarded("devices", _device_findings(config, daemon, limits)))
        broker = group.create_task(_guarded("broker", _probe_broker(config, limits)))
        register = group.create_task(_guarded("register", _inspect_register(config, limits)))
        disk = group.create_task(_guarded("disk", _inspect_disk(config, limits)))
        keys = group.create_task(_guarded("keys", _checked_keys(config)))
        retention = group.create_task(
            _guarded("retention", _inspect_retention(config, limits, clock or SystemClock()))
        )
    report = Report(
        station=config.station.id,
        findings=(
            _config_finding(config),
            *daemon.findings,
            *devices.result(),
            *broker.result(),
            *register.result(),
            *retention.result(),
            *keys.result(),
            *disk.result(),
            _clock_finding(config, clock or SystemClock()),
        ),
    )
    for finding in report.findings:
        if finding.level is not Level.OK:
            # Info, not warning: the report itself is what the technician reads.
            log.info(
                "doctor_finding", check=finding.check, level=finding.level, text=finding.text.en
            )
    log.info("doctor_done", level=report.level, findings=len(report.findings))
    return report


async def _device_findings(
    config: Config, daemon: _DaemonProbe, limits: DoctorLimits
) -> list[Finding]:
    if not daemon.holds_devices:
        return await _probe_devices(config, limits)
    if daemon.device_status is None:
        return []  # the daemon's finding says why the devices were not checked
    return findings_from_daemon_status(config, daemon.device_status)


async def _checked_keys(config: Config) -> list[Finding]:
    return _key_findings(config)


async def _checked(
    check: str, probe: Awaitable[list[Finding]], *, quote_error: bool
) -> list[Finding]:
    try:
        return await probe
    except Exception as exc:  # noqa: BLE001 - one failed check must not hide the others
        return [_check_failed(check, exc, quote=quote_error)]
