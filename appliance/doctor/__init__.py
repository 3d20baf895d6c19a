"""`appliance doctor`: the technician's one command at a station nobody watches.

It checks, each within a time bound so that it answers even when something hangs: the
configuration, whether the station daemon runs, every configured device, the broker,
the register, the key files, the disk and the clock; and it says, in plain words and in
the station's language, what was found and what to check. The exit status is 1 if
something needs fixing, else 0 (warnings alone leave it 0).

Devices are exclusive (a serial port is opened with a lock, a USB interface claimed), so
when the daemon answers on its local API the doctor asks it how its devices are rather
than opening them; only when the daemon is down does it open each device itself, learn
who it is, and close it again. Inside the daemon, for a check-up the central office asks
for (`StationDoctor`), the daemon's own view of its devices is used.

docs/doctor.md says what each check does and why.
"""

from ._daemon import DaemonView
from ._devices import device_finding, findings_from_daemon_status
from ._diagnose import diagnose, run_doctor
from ._host import EARLIEST_PLAUSIBLE_TIME
from ._limits import REGISTER_TAIL_EVENTS, DoctorLimits
from ._remote import StationDoctor
from ._report import Finding, Level, Report, render

__all__ = [
    "EARLIEST_PLAUSIBLE_TIME",
    "REGISTER_TAIL_EVENTS",
    "DaemonView",
    "DoctorLimits",
    "Finding",
    "Level",
    "Report",
    "StationDoctor",
    "device_finding",
    "diagnose",
    "findings_from_daemon_status",
    "render",
    "run_doctor",
]
