"""Protocol-level device simulators, fault injection and scenarios.

Import what you need from its modules (`sim.office.SimulatedOffice`, ...): `appliance`'s
command line reads `sim.cli` for its arguments, and must not load every simulator to
start the daemon.
"""
