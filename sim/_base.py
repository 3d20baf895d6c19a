"""What every simulated device shares: its faults and its sense of time."""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Fault(StrEnum):
    UNPLUG = "unplug"  # the device vanishes from its transport, as if its cable were pulled
    HANG = "hang"  # it keeps the line open and never answers again
    GARBAGE = "garbage"  # answers are corrupted bytes
    SLOW = "slow"  # answers come, but late (param: delay_s)
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    LOW_QUALITY = "low_quality"  # captures succeed with poor quality scores
    NO_FINGER = "no_finger"  # nothing is presented: captures find nothing
    BUSY = "busy"  # the device says it is busy with something else
    WRITE_FAILURE = "write_failure"  # a card's chip stops writing mid-file (param: after_bytes)
    CARD_REMOVED = "card_removed"  # the card leaves the reader mid-write (param: after_writes)
    JAM = "jam"  # the next card movement jams: the card stops in the card path
    RIBBON_OUT = "ribbon_out"  # the ribbon is torn or missing, whatever its count says
    FEEDER_EMPTY = "feeder_empty"  # the feeder picks no card, whatever its count says


@dataclass(slots=True)
class Timing:
    """Scales the simulated device's own delays: 1.0 is realistic, 0.0 is instant."""

    scale: float = 1.0

    async def pause(self, seconds: float) -> None:
        # Even an instant device yields, so that a burst does not outrun its reader.
        await asyncio.sleep(max(0.0, seconds * self.scale))


@dataclass(slots=True)
class FaultState:
    """The faults currently injected into one device, with their parameters; a fault the
    device cannot have (`supported`) is refused with ValueError."""

    owner: str = "device"
    supported: frozenset[Fault] = frozenset(Fault)
    active: dict[Fault, Mapping[str, Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __contains__(self, fault: object) -> bool:
        return fault in self.active

    def inject(self, fault: Fault, params: Mapping[str, Any] | None = None) -> None:
        if fault not in self.supported:
            raise ValueError(f"{self.owner} cannot have fault {fault}")
        self.active[fault] = dict(params or {})
        self._signal()

    def clear(self, fault: Fault | None = None) -> None:
        if fault is None:
            self.active.clear()
        else:
            self.active.pop(fault, None)
        self._signal()

    def param(self, fault: Fault, name: str, default: float) -> float:
        return float(self.active.get(fault, {}).get(name, default))

    def _signal(self) -> None:
        # Wake whoever waits for a change (a hung answer waiting to be released).
        self.changed.set()
        self.changed = asyncio.Event()


class NetworkService(ABC):
    """A simulated device that is a service on a loopback port (SBI, the central
    records): unplugging it closes its port, plugging it back opens it again.

    Subclasses set `name` and `faults`, call `super().__init__()`, and say how to
    listen, close, and whether they are listening.
    """

    name: str
    faults: FaultState

    def __init__(self) -> None:
        self._follower: asyncio.Task[None] | None = None
        self._apply_lock = asyncio.Lock()

    @property
    @abstractmethod
    def listening(self) -> bool: ...

    @abstractmethod
    async def _listen(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    async def start(self) -> None:
        await self._listen()
        self._follower = asyncio.create_task(self._follow_faults(), name=f"sim-{self.name}")

    async def stop(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await self._close()

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None:
        """Inject a fault (the control interface's and scenarios' entry point)."""
        self.faults.inject(fault, params)

    def clear(self, fault: Fault | None = None) -> None:
        self.faults.clear(fault)

    async def unplug(self) -> None:
        """Pull the cable and return once it is out: the listener closed, open connections
        cut. (`inject(Fault.UNPLUG)` does the same a moment later, from the follower.)"""
        self.faults.inject(Fault.UNPLUG)
        await self._apply_unplug()

    async def replug(self) -> None:
        """Plug it back in: listen again, on the same port."""
        self.faults.clear(Fault.UNPLUG)
        await self._apply_unplug()

    async def _follow_faults(self) -> None:
        # Faults injected from outside (scenario, control socket) take effect here.
        while True:
            changed = self.faults.changed
            await self._apply_unplug()
            await changed.wait()

    async def _apply_unplug(self) -> None:
        async with self._apply_lock:
            if Fault.UNPLUG in self.faults and self.listening:
                await self._close()
            elif Fault.UNPLUG not in self.faults and not self.listening:
                await self._listen()


class SimulatedDevice(Protocol):
    """A device simulated at the far end of its real transport."""

    name: str
    supported_faults: frozenset[Fault]
    faults: FaultState

    async def start(self) -> None:
        """Begin serving on the transport (create the pty, bind the port...)."""

    async def stop(self) -> None:
        """Stop serving and release the transport."""

    def config_overlay(self) -> dict[str, Any]:
        """The `[devices.<name>]` table that points the daemon's driver at this device."""
        ...


def seeded(seed: int, name: str) -> random.Random:
    """A device's own deterministic random stream: same seed, same behaviour."""
    return random.Random(f"{seed}:{name}")  # noqa: S311 - simulation, not security
