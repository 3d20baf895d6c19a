"""Whether the biometric retention purge keeps up: how many applications and captures
await it (counts only, never whose), and whether the oldest is overdue by more than the
daily purge explains, which means the purge is not running.

Read-only, on a worker thread: the biometric index without its master key (application
ids and blob counts are not encrypted), the register's ending events for those ids.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Final

from appliance._text import Text
from appliance.biostore import read_held
from appliance.clock import Clock
from appliance.config import Config
from appliance.register._reads import read_application_endings
from appliance.retention import DAY_S, due_applications, retention_cutoff

from ._limits import DoctorLimits
from ._report import Finding, Level

OVERDUE_WARNING_S: Final = 2 * DAY_S
"""The purge runs daily: an application due for longer than this was missed by it."""


async def _inspect_retention(config: Config, limits: DoctorLimits, clock: Clock) -> list[Finding]:
    async with asyncio.timeout(limits.register_s):
        return [await asyncio.to_thread(_retention_finding, config, clock)]


def _retention_finding(config: Config, clock: Clock) -> Finding:
    days = config.biometrics.retention_days
    held = read_held(config.biometrics_dir)
    endings = (
        read_application_endings(config.register_path, held)
        if held and config.register_path.exists()
        else {}
    )
    cutoff = retention_cutoff(clock, days)
    due = due_applications(endings, cutoff)
    blobs = sum(held[app] for app in due)
    details: dict[str, float] = {
        "applications_held": len(held),
        "applications_awaiting_purge": len(due),
        "blobs_awaiting_purge": blobs,
        "retention_days": days,
    }
    if not due:
        return Finding(
            check="retention",
            level=Level.OK,
            text=Text(
                "Data biometrik: {held} permohonan tersimpan, tidak ada yang menunggu "
                "pemusnahan (masa simpan {days} hari)",
                "Biometrics: {held} applications stored, none awaiting the purge "
                "(retention {days} days)",
            ).format(held=len(held), days=days),
            details=details,
        )
    overdue_s = (_parse(cutoff) - _parse(min(endings[app] for app in due))).total_seconds()
    details["oldest_overdue_days"] = round(overdue_s / DAY_S, 1)
    text = Text(
        "Data biometrik: {apps} permohonan ({blobs} rekaman) menunggu pemusnahan, "
        "yang tertua lewat {overdue:.1f} hari dari masa simpan {days} hari",
        "Biometrics: {apps} applications ({blobs} captures) await the purge, the oldest "
        "{overdue:.1f} days past the {days}-day retention",
    ).format(apps=len(due), blobs=blobs, overdue=overdue_s / DAY_S, days=days)
    if overdue_s <= OVERDUE_WARNING_S:
        return Finding(check="retention", level=Level.OK, text=text, details=details)
    return Finding(
        check="retention",
        level=Level.WARNING,
        text=text,
        advice=Text(
            "Pemusnahan harian tidak berjalan. Pastikan layanan berjalan "
            "(`systemctl status ktpel-station`) dan periksa log untuk "
            "`biometric_purge_failed`.",
            "The daily purge is not running. Check that the service runs "
            "(`systemctl status ktpel-station`) and look in its log for "
            "`biometric_purge_failed`.",
        ),
        details=details,
    )


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)
