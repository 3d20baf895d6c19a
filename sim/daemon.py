"""The station daemon as a child process, the way systemd runs it: `appliance run` with
a config and the simulator's overlay, started, waited for, stopped, or killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from .pcscd import SOCKET_VARIABLE


class DaemonFailed(RuntimeError):
    """The daemon exited before it was ready, or on its own."""


APPLIANCE: Final = (sys.executable, "-m", "appliance")


class StationDaemon:
    def __init__(
        self,
        *,
        config: Path,
        overlays: tuple[Path, ...] = (),
        log: Path,
        api_url: str,
        program: Sequence[str] = APPLIANCE,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`program` is what runs `appliance`'s command line: a test may put a wrapper
        in front (a mount namespace, a fault to inject), as systemd would exec it; `env`
        is added to the environment it inherits (NOTIFY_SOCKET, as systemd gives it)."""
        self._env = dict(env or {})
        self._command = [*program, "run", "--config", str(config)]
        for overlay in overlays:
            self._command += ["--config-overlay", str(overlay)]
        self._log = log
        self._api_url = api_url
        self._process: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self.starts = 0
        self.died = asyncio.Event()
        """Set when the daemon exited on its own (not stopped or killed from here)."""
        self.failure: DaemonFailed | None = None

    async def start(self, *, within_s: float = 60.0) -> None:
        """Start the daemon and return once its API answers."""
        # The config says which pcscd the daemon's readers are on, not our environment.
        env = {name: value for name, value in os.environ.items() if name != SOCKET_VARIABLE}
        env |= self._env
        with self._log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self._command, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=env
            )
        self.starts += 1
        self._watch = asyncio.create_task(self._watch_exit(self._process), name="daemon-watch")
        async with asyncio.timeout(within_s), httpx.AsyncClient(base_url=self._api_url) as http:
            pause = 0.02
            while True:
                if self._process.returncode is not None:
                    raise DaemonFailed(self._failure("exited before it was ready"))
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/api/v1/health")).status_code == 200:
                        return
                # Nothing to wait on but the socket itself: a short, growing pause.
                await asyncio.sleep(pause)
                pause = min(0.2, pause * 2)

    async def devices_ready(self, *, within_s: float = 30.0) -> dict[str, Any]:
        """The daemon's status report (`/api/v1/status`) once every device it drives is
        READY: they come up on their own after the daemon is ready, and nothing announces
        it but the API."""
        async with asyncio.timeout(within_s), httpx.AsyncClient(base_url=self._api_url) as http:
            pause = 0.02
            while True:
                with contextlib.suppress(httpx.TransportError):
                    report: dict[str, Any] = (await http.get("/api/v1/status")).json()
                    if all(d["state"] == "READY" for d in report["devices"].values()):
                        return report
                await asyncio.sleep(pause)
                pause = min(0.2, pause * 2)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def send_signal(self, signum: signal.Signals) -> None:
        """A signal to the running daemon (SIGHUP to reload, SIGSTOP to freeze it)."""
        if self._process is None or self._process.returncode is not None:
            raise DaemonFailed("appliance run is not running")
        self._process.send_signal(signum)

    async def stop_within(self, seconds: float) -> int:
        """SIGTERM, and the exit status, which must come within `seconds` (TimeoutError
        otherwise, with the daemon left running for the caller to kill)."""
        process = self._process
        if process is None:
            raise DaemonFailed("appliance run is not running")
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(seconds):
            status = await process.wait()
        self._process = None
        return status

    async def kill(self) -> None:
        """SIGKILL: the power cut of a process."""
        await self._end(signal.SIGKILL)

    async def stop(self, *, check: bool = True) -> int:
        """SIGTERM, as systemd stops it; the exit status, which must be 0 if `check`
        (unless the daemon had died already, which `died` told)."""
        status = await self._end(signal.SIGTERM)
        if check and status != 0 and not self.died.is_set():
            raise DaemonFailed(self._failure(f"exited with status {status} on SIGTERM"))
        return status

    async def _watch_exit(self, process: asyncio.subprocess.Process) -> None:
        status = await process.wait()
        self.failure = DaemonFailed(self._failure(f"exited on its own (status {status})"))
        self.died.set()

    async def _end(self, signum: signal.Signals) -> int:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        process, self._process = self._process, None
        if process is None:
            return 0
        if process.returncode is None:
            process.send_signal(signum)
        return await process.wait()

    def _failure(self, what: str) -> str:
        tail = self._log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        return f"appliance run {what}; the end of {self._log}:\n" + "\n".join(tail)
