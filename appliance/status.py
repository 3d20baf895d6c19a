"""What `appliance status` shows a technician: the running daemon's own account of its
devices (with the reasons of those not ready), today's queue and steps, blank stock, the
uplink, the disk, the clock and the loops the watchdog vouches for.

The daemon builds the report (`StatusReport`, served unauthenticated on the local API
as `/api/v1/status`: it holds counts and states, nothing about a citizen), and the
command renders it in the operator's language (`render_status`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from appliance._text import Language, Text
from appliance._version import __version__
from appliance.clock import Timekeeper, wall_datetime
from appliance.diskspace import MIB
from appliance.liveness import Liveness
from appliance.sync import Uplink


class StatusReport:
    def __init__(
        self,
        *,
        telemetry: Callable[[], Mapping[str, Any]],
        devices: Callable[[], dict[str, dict[str, Any]]],
        uplink: Uplink | None,
        clock: Timekeeper,
        liveness: Liveness,
    ) -> None:
        self._telemetry = telemetry
        self._devices = devices
        self._uplink = uplink
        self._clock = clock
        self._liveness = liveness
        self._started = time.monotonic()

    def __call__(self) -> dict[str, Any]:
        report = dict(self._telemetry())
        wall = wall_datetime(self._clock)
        report |= {
            "version": __version__,
            "uptime_s": round(time.monotonic() - self._started, 1),
            "devices": self._devices(),
            "uplink": None if self._uplink is None else self._uplink.status().to_json(),
            "clock": {
                "now": wall.isoformat(timespec="seconds"),
                "synchronised": self._clock.synchronised(),
            },
            "stale_loops": self._liveness.stale(),
            "accepting_new_work": not report["disk"]["refusing"],
        }
        return report


def render_status(report: Mapping[str, Any], language: Language) -> str:
    """The report as a technician reads it on a terminal, one concern per line."""
    lines: list[str] = []

    def say(text: Text) -> None:
        lines.append(text.in_language(language))

    say(
        Text(
            "Stasiun {station} (versi {version}), berjalan {uptime}",
            "Station {station} (version {version}), up {uptime}",
        ).format(
            station=report["station"],
            version=report["version"],
            uptime=_duration(report["uptime_s"]),
        )
    )
    if not report["accepting_new_work"]:
        say(
            Text(
                "  ! Permohonan baru DITOLAK: penyimpanan hampir penuh",
                "  ! New applications REFUSED: storage nearly full",
            )
        )
    if report["stale_loops"]:
        say(
            Text(
                "  ! Macet (watchdog ditahan): {loops}", "  ! Stuck (watchdog withheld): {loops}"
            ).format(loops=", ".join(report["stale_loops"]))
        )
    _devices(report["devices"], say)
    queue = report["queue"]
    say(
        Text(
            "Antrean hari ini ({day}): menunggu {waiting}, dipanggil {called}, dilayani "
            "{served}, tidak hadir {no_show}",
            "Queue today ({day}): waiting {waiting}, called {called}, served {served}, "
            "no-show {no_show}",
        ).format(day=report["day"], **queue)
    )
    stages = ", ".join(f"{stage} {n}" for stage, n in sorted(report["applications"].items()))
    say(
        Text("Permohonan terbuka: {stages}", "Open applications: {stages}").format(
            stages=stages or "-"
        )
    )
    breaches = sum(step["breaches"] for step in report["steps"].values())
    by_step = ", ".join(
        f"{name} {step['breaches']}" for name, step in report["steps"].items() if step["breaches"]
    )
    say(
        Text(
            "Pelanggaran waktu hari ini: {n}{detail}", "Time-budget breaches today: {n}{detail}"
        ).format(n=breaches, detail=f" ({by_step})" if by_step else "")
    )
    blanks = report["blanks"]
    say(
        Text(
            "Blangko tersedia: {available} (diproses {in_process}, rusak {spoiled})",
            "Blank cards available: {available} (in process {in_process}, spoiled {spoiled})",
        ).format(**blanks)
    )
    _uplink(report["uplink"], say)
    disk = report["disk"]
    say(
        Text(
            "Disk: sisa {free} MB dari {total} MB (cadangan {reserve} MB){warn}",
            "Disk: {free} MB free of {total} MB (reserve {reserve} MB){warn}",
        ).format(
            free=disk["free_bytes"] // MIB,
            total=disk["total_bytes"] // MIB,
            reserve=disk["reserve_bytes"] // MIB,
            warn=Text(" - HAMPIR PENUH", " - NEARLY FULL") if disk["low"] else "",
        )
    )
    clock = report["clock"]
    say(
        Text("Jam: {now}, {sync}", "Clock: {now}, {sync}").format(
            now=clock["now"],
            sync=Text("tersinkron", "synchronised")
            if clock["synchronised"]
            else Text(
                "TIDAK tersinkron (peristiwa ditandai; urutan tetap menurut seq)",
                "NOT synchronised (events are flagged; order is by seq)",
            ),
        )
    )
    return "\n".join(lines)


def _devices(devices: Mapping[str, Mapping[str, Any]], say: Callable[[Text], None]) -> None:
    ready = sum(device["state"] == "READY" for device in devices.values())
    say(
        Text("Perangkat siap {ready}/{total}", "Devices ready {ready}/{total}").format(
            ready=ready, total=len(devices)
        )
    )
    for name, device in sorted(devices.items()):
        reason = device.get("reason")
        because = Text(reason["id"], reason["en"]) if reason else None
        say(
            Text("  {name}: {state}{because}", "  {name}: {state}{because}").format(
                name=name,
                state=device["state"],
                because=Text(" - {r}", " - {r}").format(r=because) if because else "",
            )
        )


def _uplink(uplink: Mapping[str, Any] | None, say: Callable[[Text], None]) -> None:
    if uplink is None:
        say(Text("Uplink: tidak dikonfigurasi", "Uplink: not configured"))
        return
    say(
        Text(
            "Uplink: {link}, belum terkirim {backlog} peristiwa, diakui s.d. seq {acked}, "
            "akuan terakhir {last}{error}",
            "Uplink: {link}, {backlog} events unsent, acknowledged up to seq {acked}, "
            "last ack {last}{error}",
        ).format(
            link=Text("tersambung", "connected") if uplink["connected"] else Text("putus", "down"),
            backlog=uplink["backlog"],
            acked=uplink["acked"],
            last=uplink["last_ack_at"] or Text("belum ada", "none yet"),
            error=Text(" ({e})", " ({e})").format(e=uplink["last_error"])
            if uplink["last_error"] and not uplink["connected"]
            else "",
        )
    )


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"
