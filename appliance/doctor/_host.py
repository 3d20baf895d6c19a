"""The station's ground: its configuration, its disk and its clock.

The configuration is summarised (it loaded, or the doctor would not run); the disk's free
space is judged as the daemon judges it, bounded in time because statvfs can block; the
clock must be plausible and synchronised, since the register's times and the broker's
certificates depend on it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from appliance._text import Text
from appliance.clock import Clock, wall_datetime
from appliance.config import Config
from appliance.diskspace import MIB, DiskSpace

from ._limits import DoctorLimits
from ._report import Finding, Level

_GIB: Final = 1024 * MIB
# A Raspberry Pi has no real-time clock: after a power cut without network it may think
# it is 1970. No station ran before this date, so a clock behind it is plainly wrong.
EARLIEST_PLAUSIBLE_TIME: Final = datetime(2025, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- config


def _config_finding(config: Config) -> Finding:
    summary = Text(
        "Konfigurasi sah: stasiun {station} ({office}), {devices} perangkat, "
        "direktori data {state}",
        "Configuration is valid: station {station} ({office}), {devices} devices, "
        "state directory {state}",
    ).format(
        station=config.station.id,
        office=config.station.office,
        devices=len(config.devices),
        state=config.state_dir,
    )
    if config.devices:
        return Finding(check="config", level=Level.OK, text=summary)
    return Finding(
        check="config",
        level=Level.WARNING,
        text=summary,
        advice=Text(
            "Tambahkan satu tabel [devices.<nama>] per alat di konfigurasi "
            "(contohnya di examples/station.toml).",
            "Add one [devices.<name>] table per device to the configuration "
            "(examples/station.toml shows them).",
        ),
    )


# ----------------------------------------------------------------------------- disk


async def _inspect_disk(config: Config, limits: DoctorLimits) -> list[Finding]:
    """Free space as the daemon judges it (`[paths] reserve_mb`): below twice the reserve
    it is low; at the reserve the station takes no new application."""
    state_dir = config.state_dir
    if not state_dir.is_dir():
        return [_state_dir_missing(state_dir)]
    # The filesystems the daemon watches, those that exist yet (a new station has no
    # biometric store); the state directory stands in for them all until then.
    watched = [p for p in (config.register_path.parent, config.biometrics_dir) if p.is_dir()]
    disk = DiskSpace(paths=watched or [state_dir], reserve_bytes=config.paths.reserve_mb * MIB)
    try:
        async with asyncio.timeout(limits.disk_s):
            report = await asyncio.to_thread(disk.report)
    except TimeoutError:
        return [
            Finding(
                check="disk",
                level=Level.PROBLEM,
                text=Text(
                    "Disk di {path} tidak menjawab dalam {seconds:g} detik",
                    "The disk at {path} does not answer within {seconds:g} s",
                ).format(path=state_dir, seconds=limits.disk_s),
                advice=_FAILING_DISK,
            )
        ]
    details = report.to_json()
    if report.error is not None:
        return [
            Finding(
                check="disk",
                level=Level.PROBLEM,
                text=Text(
                    "Disk di {path} tidak dapat dibaca: {error}",
                    "The disk at {path} cannot be read: {error}",
                ).format(path=report.path, error=report.error),
                advice=_FAILING_DISK,
                details=details,
            )
        ]
    text = Text(
        "Ruang kosong di {path}: {free} dari {total} (cadangan {reserve})",
        "Free space at {path}: {free} of {total} (reserve {reserve})",
    ).format(
        path=report.path,
        free=_size(report.free_bytes),
        total=_size(report.total_bytes),
        reserve=_size(report.reserve_bytes),
    )
    if not report.low:
        return [Finding(check="disk", level=Level.OK, text=text, details=details)]
    if report.refusing:
        text = Text(
            "{text}: stasiun MENOLAK permohonan baru",
            "{text}: the station REFUSES new applications",
        ).format(text=text)
    return [
        Finding(
            check="disk",
            level=Level.PROBLEM if report.refusing else Level.WARNING,
            text=text,
            advice=_FREE_SOME_SPACE.format(path=state_dir),
            details=details,
        )
    ]


def _state_dir_missing(path: Path) -> Finding:
    return Finding(
        check="disk",
        level=Level.PROBLEM,
        text=Text(
            "Direktori data {path} tidak ada", "The state directory {path} is missing"
        ).format(path=path),
        advice=Text(
            "Buat dengan `sudo systemd-tmpfiles --create` (docs/deploy.md, langkah 2), dan "
            "periksa [paths] state_dir di konfigurasi.",
            "Create it with `sudo systemd-tmpfiles --create` (docs/deploy.md, step 2), and "
            "check [paths] state_dir in the configuration.",
        ),
    )


_FAILING_DISK: Final = Text(
    "Kartu SD atau disk mungkin rusak: lihat `dmesg | tail` dan siapkan penggantinya bersama "
    "kantor pusat.",
    "The SD card or disk may be failing: see `dmesg | tail` and plan its replacement with the "
    "central office.",
)
_FREE_SOME_SPACE: Final = Text(
    "Pastikan uplink mengirim register ke pusat (tidak ada yang dihapus sebelum diakui), "
    "kosongkan berkas lain di luar {path} (misalnya `sudo journalctl --vacuum-size=100M`), "
    "atau pindah ke kartu SD yang lebih besar. Jangan hapus apa pun di {path}.",
    "Make sure the uplink ships the register to the centre (nothing is deleted before it is "
    "acknowledged), free other files outside {path} (e.g. `sudo journalctl "
    "--vacuum-size=100M`), or move to a larger SD card. Delete nothing in {path}.",
)


def _size(size: int) -> Text:
    value, unit = (size / _GIB, "GiB") if size >= _GIB else (size / MIB, "MiB")
    english = f"{value:.1f} {unit}"
    return Text(english.replace(".", ","), english)  # Indonesian writes a decimal comma


# ---------------------------------------------------------------------------- clock


def _clock_finding(config: Config, clock: Clock) -> Finding:
    now = wall_datetime(clock).astimezone(config.zone)
    shown = f"{now:%Y-%m-%d %H:%M %Z}"
    details = {"wall_time": now.isoformat(), "synchronised": clock.synchronised()}
    if now < EARLIEST_PLAUSIBLE_TIME:
        return Finding(
            check="clock",
            level=Level.PROBLEM,
            text=Text(
                "Jam sistem menunjukkan {now}: jelas salah",
                "The system clock says {now}: plainly wrong",
            ).format(now=shown),
            advice=Text(
                "Sambungkan stasiun ke jaringan agar NTP membetulkan jam (`timedatectl status`); "
                "tanpa jaringan, atur manual: `sudo timedatectl set-time 'YYYY-MM-DD HH:MM'`. "
                "Selama jam salah, sertifikat broker ditolak.",
                "Connect the station to the network so NTP sets the clock (`timedatectl "
                "status`); without a network, set it by hand: `sudo timedatectl set-time "
                "'YYYY-MM-DD HH:MM'`. While the clock is wrong, the broker's certificate is "
                "refused.",
            ),
            details=details,
        )
    if not details["synchronised"]:
        return Finding(
            check="clock",
            level=Level.WARNING,
            text=Text(
                "Jam sistem belum tersinkron dengan NTP (sekarang {now})",
                "The system clock is not synchronised by NTP (now {now})",
            ).format(now=shown),
            advice=Text(
                "Periksa jaringan (kabel, modem) dan NTP: `timedatectl status` harus "
                "menunjukkan 'System clock synchronized: yes'; lihat `systemctl status "
                "systemd-timesyncd`. Register mencatat waktu sebagai tidak pasti sampai itu.",
                "Check the network (cable, modem) and NTP: `timedatectl status` must show "
                "'System clock synchronized: yes'; see `systemctl status systemd-timesyncd`. "
                "Until then the register marks its times as uncertain.",
            ),
            details=details,
        )
    return Finding(
        check="clock",
        level=Level.OK,
        text=Text(
            "Jam sistem tersinkron (NTP): {now}",
            "The system clock is synchronised (NTP): {now}",
        ).format(now=shown),
        details=details,
    )
