"""How long each of the doctor's checks may take, and the thresholds it judges by.

Every check takes a `DoctorLimits` so that the doctor always answers, even when a daemon,
a device, the broker or a disk hangs; tests pass tighter ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

REGISTER_TAIL_EVENTS: Final = 1000
"""The newest events whose hash, chain link and signature the doctor checks; proving the
whole register is `appliance register verify`'s job, minutes on a year's register."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DoctorLimits:
    """How long each check may take, and the thresholds it judges by."""

    daemon_s: float = 2.0
    """The daemon is on loopback: up and well, it answers in milliseconds."""
    device_margin_s: float = 2.0
    """Beyond each driver's own connect timeout, before the doctor gives up on it."""
    disconnect_s: float = 5.0
    broker_s: float = 10.0
    register_s: float = 20.0
    register_tail_events: int = REGISTER_TAIL_EVENTS
    disk_s: float = 5.0
    """statvfs on a dead network mount can block: bounded like the rest."""
