"""Protocol-level device simulators, fault injection and scenarios."""

from ._base import Fault, FaultState, SimulatedDevice, Timing
from .office import SimulatedOffice
from .pty import PtyPort
from .sbi import SbiKind, SbiSimulator
from .serial_devices import SatisfactionKeypadSim, SignaturePadSim

__all__ = [
    "Fault",
    "FaultState",
    "PtyPort",
    "SatisfactionKeypadSim",
    "SbiKind",
    "SbiSimulator",
    "SignaturePadSim",
    "SimulatedDevice",
    "SimulatedOffice",
    "Timing",
]
