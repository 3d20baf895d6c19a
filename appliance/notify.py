"""systemd's notify protocol (sd_notify(3)): a datagram of `KEY=value` lines to the
socket named by `$NOTIFY_SOCKET`.

A few lines rather than a dependency: the protocol is one `sendto`. A name starting with
`@` is an abstract socket (its first byte is NUL). Without `$NOTIFY_SOCKET` (a terminal,
a test, a container without systemd) every call does nothing. A message that cannot be
sent is logged once, never raised: the station serves citizens whether or not systemd
listens.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

from appliance.logs import get_logger

log = get_logger(__name__)


class SystemdNotifier:
    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        name = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + name[1:] if name.startswith("@") else name
        self._socket: socket.socket | None = None
        self._failed = False
        self.watchdog_interval_s = _ping_interval(env)
        """How often to send WATCHDOG=1 (half of WatchdogSec), or None without one."""
        if self._address:
            kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            self._socket = socket.socket(socket.AF_UNIX, kind)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def reloading(self) -> None:
        """Reloading the config; READY=1 follows when done. MONOTONIC_USEC lets systemd
        (Type=notify-reload) tell this reload from an earlier one."""
        self._send(
            f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
        )

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={status}")

    def _send(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError as exc:
            if not self._failed:  # once: a missing listener would otherwise fill the log
                log.warning("systemd_notify_failed", socket=self._address, error=str(exc))
            self._failed = True
        else:
            self._failed = False


def _ping_interval(env: Mapping[str, str]) -> float | None:
    # systemd sets WATCHDOG_USEC with WatchdogSec=, and WATCHDOG_PID to the process it
    # expects the pings from: a child that inherited the variables must not ping.
    pid = env.get("WATCHDOG_PID")
    if pid is not None and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None
