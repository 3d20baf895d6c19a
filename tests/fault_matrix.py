"""The fault matrix: every simulated device x every fault it can have.

Each rig pairs a simulator with the real driver on its real transport and says how to
run one operation. The test (test_fault_matrix.py) asserts, for every cell, that the
operation ends within its deadline with the expected typed error, that the status says
why, and that the supervisor brings the device back to READY once the fault clears;
conftest prints the resulting table at the end of the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from appliance.hal import Device, DeviceError
from sim._base import Fault


@dataclass(frozen=True, slots=True)
class Expect:
    error: type[DeviceError]
    code: str


@dataclass(slots=True)
class Rig:
    """A started simulator and a driver pointed at it."""

    device: Device
    operate: Callable[[float], Awaitable[Any]]
    inject: Callable[[Fault], None]
    clear: Callable[[], None]


RigFactory = Callable[[Any], AbstractAsyncContextManager[Rig]]
RIGS: dict[str, tuple[RigFactory, dict[Fault, Expect]]] = {}

# Filled by the test, printed by conftest at the end of the run.
RESULTS: dict[tuple[str, str], str] = {}


def rig(name: str, expectations: dict[Fault, Expect]) -> Callable[[RigFactory], RigFactory]:
    """Register a rig and what each fault it can have must produce."""

    def register(factory: RigFactory) -> RigFactory:
        RIGS[name] = (factory, expectations)
        return factory

    return register


def render_table() -> str:
    devices = sorted({device for device, _ in RESULTS})
    faults = [fault.value for fault in Fault if any(f == fault.value for _, f in RESULTS)]
    header = "| device | " + " | ".join(faults) + " |"
    lines = [header, "|" + "---|" * (len(faults) + 1)]
    for device in devices:
        cells = [RESULTS.get((device, fault), "-") for fault in faults]
        lines.append(f"| {device} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
