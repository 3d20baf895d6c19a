"""Room left for the register and the biometric store, and the reserve kept back.

An SD card fills up slowly (logs, biometrics awaiting purge, a register that only
grows) and then all at once. Below the reserve the station takes no new ticket and no
new application, so that the applications already in progress can still be recorded to
their end; the register itself refuses cleanly (RegisterFull) only if even the reserve
runs out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from appliance.logs import get_logger

log = get_logger(__name__)

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DiskReport:
    path: str
    """The directory on the fullest of the watched filesystems."""
    free_bytes: int
    total_bytes: int
    reserve_bytes: int
    error: str | None = None
    """Why the filesystem could not be read (then it counts as full)."""

    @property
    def refusing(self) -> bool:
        """New work is refused: the free space is down to the reserve."""
        return self.free_bytes <= self.reserve_bytes

    @property
    def low(self) -> bool:
        """Worth a technician's visit: less than twice the reserve is left."""
        return self.free_bytes <= 2 * self.reserve_bytes

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "free_bytes": self.free_bytes,
            "total_bytes": self.total_bytes,
            "reserve_bytes": self.reserve_bytes,
            "low": self.low,
            "refusing": self.refusing,
            "error": self.error,
        }


class DiskSpace:
    """The free space of the filesystems holding `paths`, measured when asked (statvfs
    is a cheap system call; a cached figure would miss a card filling up)."""

    def __init__(self, *, paths: Iterable[Path], reserve_bytes: int) -> None:
        self._paths = tuple(dict.fromkeys(paths))
        if not self._paths:
            raise ValueError("no path to watch")
        self.reserve_bytes = reserve_bytes

    def report(self) -> DiskReport:
        """The fullest filesystem's figures."""
        reports = [self._measure(path) for path in self._paths]
        return min(reports, key=lambda report: report.free_bytes)

    def _measure(self, path: Path) -> DiskReport:
        try:
            stats = os.statvfs(path)
        except OSError as error:
            log.exception("disk_unreadable", path=str(path))
            return DiskReport(
                path=str(path),
                free_bytes=0,
                total_bytes=0,
                reserve_bytes=self.reserve_bytes,
                error=error.strerror or str(error),
            )
        # f_bavail, not f_bfree: the blocks reserved for root are not ours to count on.
        return DiskReport(
            path=str(path),
            free_bytes=stats.f_bavail * stats.f_frsize,
            total_bytes=stats.f_blocks * stats.f_frsize,
            reserve_bytes=self.reserve_bytes,
        )
