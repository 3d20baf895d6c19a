"""Time as the station reads it: wall time, monotonic time, boot identity, clock sync.

A Raspberry Pi has no real-time clock, so after a power cut the wall clock may be years
off until NTP answers. The register therefore records, with every event, whether the
clock was synchronised, and orders nothing by wall time. Everything that reads time
takes a `Clock`, so tests and the simulator can drive it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Protocol

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
# systemd's ntp_synced(): the kernel's maximum error estimate stays below 16 s only while
# an NTP daemon keeps disciplining the clock; STA_UNSYNC is ignored, as systemd does,
# because some daemons set it on purpose to keep the kernel away from the RTC.
_MAX_ERROR_SYNCED_US = 16_000_000


class Clock(Protocol):
    def wall_ns(self) -> int:
        """Nanoseconds since the UNIX epoch, as the (possibly wrong) wall clock says."""
        ...

    def monotonic_ns(self) -> int:
        """Nanoseconds of a clock that never goes back within one boot."""
        ...

    def synchronised(self) -> bool:
        """Whether the wall clock is disciplined by NTP right now."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def __init__(self) -> None:
        self._synced = False
        self._synced_checked_at = -1

    def wall_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def synchronised(self) -> bool:
        # Asked for every event; sync state changes over minutes, so one system call
        # a second is enough.
        second = time.monotonic_ns() // 1_000_000_000
        if second != self._synced_checked_at:
            self._synced = kernel_clock_synchronised()
            self._synced_checked_at = second
        return self._synced


def wall_datetime(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.wall_ns() / 1e9, tz=UTC)


@cache
def boot_id() -> str:
    """The kernel's identifier of this boot; monotonic times compare only within one."""
    try:
        return _BOOT_ID_PATH.read_text(encoding="ascii").strip()
    except OSError:
        # Not Linux (a developer's laptop): one id per process is the honest fallback.
        return str(uuid.uuid4())


class _Timex(ctypes.Structure):
    # The leading fields of struct timex (see adjtimex(2)); the tail is padding large
    # enough for every ABI, since the kernel writes the whole structure.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 256),
    )


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def kernel_clock_synchronised() -> bool:
    """Ask the kernel, read-only, whether the clock is NTP-synchronised."""
    libc = _libc()
    if libc is None:
        return False
    timex = _Timex()  # modes = 0: read, change nothing; needs no privilege
    if libc.adjtimex(ctypes.byref(timex)) < 0:
        return False
    return int(timex.maxerror) < _MAX_ERROR_SYNCED_US


class ManualClock:
    """A clock that moves only when told: for tests and instant simulated days."""

    def __init__(
        self, *, wall_ns: int = 1_763_700_000_000_000_000, synchronised: bool = True
    ) -> None:
        self._wall_ns = wall_ns
        self._mono_ns = 0
        self.is_synchronised = synchronised

    def wall_ns(self) -> int:
        return self._wall_ns

    def monotonic_ns(self) -> int:
        return self._mono_ns

    def synchronised(self) -> bool:
        return self.is_synchronised

    def advance(self, seconds: float) -> None:
        step = int(seconds * 1_000_000_000)
        if step < 0:
            raise ValueError("a monotonic clock never goes back")
        self._wall_ns += step
        self._mono_ns += step

    def set_wall(self, wall_ns: int) -> None:
        """Jump the wall clock alone, as NTP does after a power cut."""
        self._wall_ns = wall_ns
