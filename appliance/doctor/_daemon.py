"""Whether the station daemon runs, and whether it is this station's.

The doctor asks the daemon's local API (`/api/v1/health`, then `/api/v1/status`) rather
than looking for a process: what matters is whether something answers as this station.
The answer also says who may open the devices, which are exclusive: while a daemon (or
something like one) runs, they are its, and the doctor reports the daemon's view of them.
When the doctor runs inside the daemon (a check-up the central office asked for), the
daemon's own view is given to it (`DaemonView`) and nothing is asked over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from appliance._text import Text
from appliance._version import __version__
from appliance.config import Config

from ._limits import DoctorLimits
from ._report import Finding, Level, _check_failed

_HEALTH_PATH: Final = "/api/v1/health"
_STATUS_PATH: Final = "/api/v1/status"


@dataclass(frozen=True, slots=True, kw_only=True)
class _DaemonProbe:
    findings: list[Finding]
    holds_devices: bool
    """A daemon (or something like one) runs: the devices are its, not ours to open."""
    device_status: Mapping[str, Any] | None = None
    """`/api/v1/status`'s "devices", when the daemon has that endpoint."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonView:
    """The running daemon's view of itself, for a doctor run inside it."""

    devices: Mapping[str, Any]
    """`DeviceSupervisor.snapshot()`: the devices are the daemon's, never opened here."""
    stale_loops: Sequence[str] = ()
    """`Liveness.stale()`: the daemon's loops that stopped beating."""


def _probe_in_process(view: DaemonView) -> _DaemonProbe:
    running = Finding(
        check="daemon",
        level=Level.OK,
        text=Text(
            "Daemon stasiun berjalan (versi {version}); pemeriksaan ini berjalan di dalamnya "
            "atas permintaan kantor pusat dan tidak membuka perangkat, yang dipegang daemon",
            "The station daemon is running (version {version}); this check-up runs inside it "
            "at the central office's request and does not open the devices, which it holds",
        ).format(version=__version__),
        details={"running": True, "version": __version__, "in_process": True},
    )
    if view.stale_loops:
        running = _daemon_stuck(running, ", ".join(view.stale_loops))
    return _DaemonProbe(findings=[running], holds_devices=True, device_status=view.devices)


async def _probe_daemon_safely(config: Config, limits: DoctorLimits) -> _DaemonProbe:
    try:
        return await _probe_daemon(config, limits)
    except Exception as exc:  # noqa: BLE001 - a failed check is reported, never fatal
        # Not knowing whether the daemon holds the devices, leave them alone.
        return _DaemonProbe(findings=[_check_failed("daemon", exc)], holds_devices=True)


async def _probe_daemon(config: Config, limits: DoctorLimits) -> _DaemonProbe:
    base = config.api.local_url
    async with httpx.AsyncClient(
        base_url=base, trust_env=False, timeout=limits.daemon_s, verify=config.api_verify()
    ) as http:
        answer = await _ask_health(http, config, limits, where=f"{base}{_HEALTH_PATH}")
        if isinstance(answer, _DaemonProbe):
            return answer
        status = await _ask_status(http, limits)
    version = answer.get("version", "?")
    running = Finding(
        check="daemon",
        level=Level.OK,
        text=Text(
            "Daemon stasiun berjalan (versi {version}) di {url}; pemeriksaan ini tidak "
            "membuka perangkat, yang sedang dipegang daemon",
            "The station daemon is running (version {version}) at {url}; this check-up "
            "does not open the devices, which the daemon holds",
        ).format(version=version, url=base),
        details={"running": True, "version": version, "url": base},
    )
    devices = None if status is None else status.get("devices")
    if not isinstance(devices, Mapping):
        # A daemon without the status endpoint: say so rather than stay silent.
        unchecked = [_devices_not_checked()] if config.devices else []
        return _DaemonProbe(findings=[running, *unchecked], holds_devices=True)
    stuck = status.get("stale_loops") if status is not None else None
    if stuck:
        running = _daemon_stuck(running, ", ".join(map(str, stuck)))
    return _DaemonProbe(findings=[running], holds_devices=True, device_status=devices)


async def _ask_health(
    http: httpx.AsyncClient, config: Config, limits: DoctorLimits, *, where: str
) -> dict[str, Any] | _DaemonProbe:
    """The health answer of this station's daemon, or what to report instead of it."""
    try:
        async with asyncio.timeout(limits.daemon_s):
            response = await http.get(_HEALTH_PATH)
    except httpx.ConnectError:
        return _DaemonProbe(findings=[_daemon_not_running(where)], holds_devices=False)
    except (TimeoutError, httpx.TimeoutException):
        return _DaemonProbe(findings=[_daemon_hung(where, limits)], holds_devices=True)
    except httpx.HTTPError:
        return _DaemonProbe(findings=[_not_the_daemon(config)], holds_devices=False)
    health = _json_object(response)
    if response.status_code != 200 or health.get("status") != "ok":
        return _DaemonProbe(findings=[_not_the_daemon(config)], holds_devices=False)
    if health.get("station") != config.station.id:
        other = str(health.get("station"))
        return _DaemonProbe(findings=[_other_station(config, other)], holds_devices=True)
    return health


async def _ask_status(http: httpx.AsyncClient, limits: DoctorLimits) -> dict[str, Any] | None:
    """The daemon's `/api/v1/status`; None from a daemon without it."""
    try:
        async with asyncio.timeout(limits.daemon_s):
            response = await http.get(_STATUS_PATH)
    except (TimeoutError, httpx.HTTPError):
        return None
    return _json_object(response) if response.status_code == 200 else None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _daemon_not_running(where: str) -> Finding:
    return Finding(
        check="daemon",
        level=Level.WARNING,
        text=Text(
            "Daemon stasiun tidak berjalan (tidak ada jawaban di {where}); "
            "perangkat diperiksa langsung",
            "The station daemon is not running (nothing answers at {where}); "
            "the devices are checked directly",
        ).format(where=where),
        advice=Text(
            "Setelah pemeriksaan, jalankan layanannya: `sudo systemctl start ktpel-station`. "
            "Jika ia berhenti sendiri, lihat sebabnya: `journalctl -u ktpel-station -n 50`.",
            "After the check-up, start the service: `sudo systemctl start ktpel-station`. "
            "If it stops by itself, see why: `journalctl -u ktpel-station -n 50`.",
        ),
        details={"running": False},
    )


def _daemon_hung(where: str, limits: DoctorLimits) -> Finding:
    return Finding(
        check="daemon",
        level=Level.PROBLEM,
        text=Text(
            "Daemon stasiun menerima sambungan di {where} tetapi tidak menjawab dalam "
            "{seconds:g} detik; perangkat tidak diperiksa",
            "The station daemon accepts connections at {where} but does not answer "
            "within {seconds:g} s; the devices were not checked",
        ).format(where=where, seconds=limits.daemon_s),
        advice=Text(
            "Lihat `systemctl status ktpel-station` dan `journalctl -u ktpel-station -n 50`, "
            "lalu jalankan ulang: `sudo systemctl restart ktpel-station`.",
            "See `systemctl status ktpel-station` and `journalctl -u ktpel-station -n 50`, "
            "then restart it: `sudo systemctl restart ktpel-station`.",
        ),
        details={"running": None},
    )


def _daemon_stuck(running: Finding, loops: str) -> Finding:
    return Finding(
        check="daemon",
        level=Level.PROBLEM,
        text=Text(
            "{running}; tetapi bagian ini macet: {loops} (watchdog ditahan, systemd akan "
            "menjalankan ulang)",
            "{running}; but these loops are stuck: {loops} (the watchdog is withheld, systemd "
            "will restart it)",
        ).format(running=running.text, loops=loops),
        advice=Text(
            "Lihat sebabnya di `journalctl -u ktpel-station -n 100`; jika tidak pulih sendiri, "
            "`sudo systemctl restart ktpel-station` dan kirim log itu ke tim teknis pusat.",
            "See why in `journalctl -u ktpel-station -n 100`; if it does not recover by itself, "
            "`sudo systemctl restart ktpel-station` and send that log to the central technical "
            "team.",
        ),
        details={**running.details, "stale_loops": loops},
    )


def _not_the_daemon(config: Config) -> Finding:
    return Finding(
        check="daemon",
        level=Level.PROBLEM,
        text=Text(
            "Program lain, bukan daemon stasiun, menjawab di port {port}",
            "Another program, not the station daemon, answers on port {port}",
        ).format(port=config.api.port),
        advice=Text(
            "Cari program itu: `sudo ss -ltnp 'sport = :{port}'`; hentikan, atau ubah "
            "[api] port di konfigurasi.",
            "Find it: `sudo ss -ltnp 'sport = :{port}'`; stop it, or change [api] port "
            "in the configuration.",
        ).format(port=config.api.port),
        details={"running": False},
    )


def _other_station(config: Config, other: str) -> Finding:
    return Finding(
        check="daemon",
        level=Level.PROBLEM,
        text=Text(
            "Daemon yang berjalan di port {port} adalah stasiun {other}, bukan {station}; "
            "perangkat tidak diperiksa",
            "The daemon running on port {port} is station {other}, not {station}; the "
            "devices were not checked",
        ).format(port=config.api.port, other=other, station=config.station.id),
        advice=Text(
            "Periksa konfigurasi yang dipakai layanan (`systemctl cat ktpel-station`) dan "
            "jalankan doctor dengan berkas yang sama (--config).",
            "Check which configuration the service uses (`systemctl cat ktpel-station`) and "
            "run the doctor with that same file (--config).",
        ),
        details={"running": True, "station": other},
    )


def _devices_not_checked() -> Finding:
    return Finding(
        check="devices",
        level=Level.WARNING,
        text=Text(
            "Perangkat tidak diperiksa: daemon sedang memakainya dan versi ini tidak "
            "melaporkan statusnya",
            "Devices were not checked: the daemon holds them and this version does not "
            "report their status",
        ),
        advice=Text(
            "Lihat ringkasannya di `systemctl status ktpel-station` (perangkat siap N/M), atau "
            "hentikan layanan sebentar (`sudo systemctl stop ktpel-station`), jalankan doctor "
            "lagi, lalu `sudo systemctl start ktpel-station`.",
            "See the summary in `systemctl status ktpel-station` (devices ready N/M), or stop "
            "the service for a moment (`sudo systemctl stop ktpel-station`), run the doctor "
            "again, then `sudo systemctl start ktpel-station`.",
        ),
    )
