"""Time as the station reads it: wall time, monotonic time, boot identity, clock sync.

A Raspberry Pi has no real-time clock, so after a power cut the wall clock may be years
off until NTP answers. The register therefore records, with every event, whether the
clock was synchronised, and orders nothing by wall time. Everything that reads time
takes a `Clock`, so tests and the simulator can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import heapq
import itertools
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from contextlib import AbstractAsyncContextManager

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
# systemd's ntp_synced(): the kernel's maximum error estimate stays below 16 s only while
# an NTP daemon keeps disciplining the clock; STA_UNSYNC is ignored, as systemd does,
# because some daemons set it on purpose to keep the kernel away from the RTC.
_MAX_ERROR_SYNCED_US = 16_000_000
COMPUTE_ALLOWANCE_S: Final = 30.0
"""Real seconds a scaled clock's timeout grants at least (see `ScaledClock`). Beside four
busy loops on two cores the biometric step took 8.2 s of real time at 60x (p95,
`benchmarks/day.py --hog 4`), past its 6 s there; 30 s leaves that over three times."""


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


class Timekeeper(Clock, Protocol):
    """A clock that can also wait: what the pipeline's budgets, breaches and no-shows run
    on. Durations are in the clock's own seconds, which a simulated day runs faster."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[asyncio.Timeout]:
        """A cancel scope: the block is cancelled (TimeoutError) after `seconds`."""
        ...


class RealTimekeeper(SystemClock):
    """Production time: the machine's clocks, asyncio's timers."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[asyncio.Timeout]:
        return asyncio.timeout(seconds)


class ScaledClock:
    """Simulated time, `speed` times faster than real time, from `start_wall_ns`.

    Simulated time is a function of the machine's monotonic clock, which every process of
    one boot shares: a daemon restarted with the same anchor carries on the same simulated
    day where its predecessor stood, which is what lets a crash test run a day at speed.

    A timeout (a device step's budget) runs at the clock's speed too, but never ends in
    less real time than `compute_allowance_s` (or the budget itself, when shorter): the
    simulated devices' delays shrink with the clock, the computing around them (images,
    templates, the simulator's drawing, a worker starting) does not, and a busy host
    stretches it further. At 60x a 6-minute budget would be 6 real seconds, which a loaded
    machine overran with no device at fault. At speed 1 the allowance changes nothing.
    """

    def __init__(
        self,
        *,
        speed: float,
        start_wall_ns: int,
        anchor_monotonic_ns: int | None = None,
        compute_allowance_s: float = COMPUTE_ALLOWANCE_S,
    ) -> None:
        if not speed > 0:
            raise ValueError("the clock's speed must be positive")
        if not compute_allowance_s >= 0:
            raise ValueError("the compute allowance must be zero or more seconds")
        self.speed = speed
        self.start_wall_ns = start_wall_ns
        self.compute_allowance_s = compute_allowance_s
        self.anchor_monotonic_ns = (
            time.monotonic_ns() if anchor_monotonic_ns is None else anchor_monotonic_ns
        )

    def monotonic_ns(self) -> int:
        return int((time.monotonic_ns() - self.anchor_monotonic_ns) * self.speed)

    def wall_ns(self) -> int:
        return self.start_wall_ns + self.monotonic_ns()

    def synchronised(self) -> bool:
        return True  # simulated time is exactly what it says

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[asyncio.Timeout]:
        return asyncio.timeout(None if seconds is None else self.timeout_real_s(seconds))

    def timeout_real_s(self, seconds: float) -> float:
        """The real seconds a timeout of `seconds` (this clock's) grants its block."""
        seconds = max(0.0, seconds)
        return max(seconds / self.speed, min(seconds, self.compute_allowance_s))


class ManualTimekeeper(ManualClock):
    """A ManualClock whose sleeps and timeouts end only when `advance` passes them."""

    def __init__(
        self, *, wall_ns: int = 1_763_700_000_000_000_000, synchronised: bool = True
    ) -> None:
        super().__init__(wall_ns=wall_ns, synchronised=synchronised)
        self._timers: list[tuple[int, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.timers_changed = asyncio.Event()

    @property
    def pending(self) -> int:
        """Sleeps and timeouts waiting for the clock to move."""
        return len(self._timers)

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        now = self.monotonic_ns()
        while self._timers and self._timers[0][0] <= now:
            _, _, fire = heapq.heappop(self._timers)
            fire()
        self._changed()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        entry = self._at(seconds, wake)
        try:
            await woken
        finally:
            self._forget(entry)

    @contextlib.asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[asyncio.Timeout]:
        async with asyncio.timeout(None) as scope:
            if seconds is None:
                yield scope
                return
            loop = asyncio.get_running_loop()
            entry = self._at(seconds, lambda: scope.reschedule(loop.time()))
            try:
                yield scope
            finally:
                self._forget(entry)

    def _at(self, seconds: float, fire: Callable[[], None]) -> tuple[int, int, Callable[[], None]]:
        entry = (self.monotonic_ns() + int(seconds * 1e9), next(self._order), fire)
        heapq.heappush(self._timers, entry)
        self._changed()
        return entry

    def _forget(self, entry: tuple[int, int, Callable[[], None]]) -> None:
        with contextlib.suppress(ValueError):
            self._timers.remove(entry)
            heapq.heapify(self._timers)
            self._changed()

    def _changed(self) -> None:
        self.timers_changed.set()
        self.timers_changed = asyncio.Event()
