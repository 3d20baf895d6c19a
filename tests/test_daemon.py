"""`appliance run` as systemd runs it, against the real daemon process on the simulated
devices, with a notify socket the test owns where systemd's would be.

- A loop stuck in an unbounded await stops the watchdog pings (and only those: the API
  still answers), and the log says which loop.
- SIGTERM in the middle of a device step: exit 0 within a bound, the register verifies
  and says the step was interrupted, and after a restart the step runs again and the
  application goes on to the end.
- SIGKILL with applications at different steps: after a restart every one of them
  reaches the end.
- SIGHUP: RELOADING=1, then READY=1; the staff file and the log level are read again,
  a config that does not load changes nothing, and a change that needs a restart is
  named in the log.
- `appliance status` renders the running daemon's report, and says when none answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import tomli_w

from appliance.clock import ManualTimekeeper
from appliance.register import Event, EventType, read_events
from sim._base import Fault
from sim.day import DayPlan, DurationModel, plan_day
from sim.day_run import STAFF, OfficeRun, office_run
from sim.pcscd import PrivatePcscd
from sim.vpcd import VpcdSlot

APPLIANCE = (sys.executable, "-m", "appliance")
CHILD = (sys.executable, "-m", "tests.daemon_child")
"""`appliance` with a loop that SIGUSR1 wedges (test only: tests/daemon_child.py)."""
TODAY = date.today()  # noqa: DTZ011 - the plans' rules need a calendar day, any one
_SOCKETS = count()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


# ============================================================================ the rig


class Systemd:
    """The test's stand-in for systemd: the notify socket named by the NOTIFY_SOCKET the
    daemon inherits (abstract, so no path length to mind)."""

    def __init__(self) -> None:
        self.name = f"@ktpel-test-daemon-{os.getpid()}-{next(_SOCKETS)}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self._sock.bind("\0" + self.name[1:])

    def close(self) -> None:
        self._sock.close()

    async def next(self) -> dict[str, str]:
        data = await asyncio.get_running_loop().sock_recv(self._sock, 4096)
        return dict(line.split("=", 1) for line in data.decode().splitlines())

    async def expect(self, key: str) -> dict[str, str]:
        """The next message that says `key`; STATUS lines and pings between are passed."""
        while key not in (message := await self.next()):
            pass
        return message

    def drain(self) -> None:
        """Forget what was said so far."""
        with contextlib.suppress(BlockingIOError):
            while True:
                self._sock.recv(4096)


def _plan(
    applicants: int, *, seed: int, arrivals_over_s: float = 0.0, blank_ratio: float = 1.0
) -> DayPlan:
    return plan_day(
        applicants=applicants,
        seed=seed,
        today=TODAY,
        arrivals_over_s=arrivals_over_s,
        model=DurationModel.without_people(),
        blank_ratio=blank_ratio,
    )


async def _appliance(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """`appliance ARGS` as a person at the station's terminal runs it (in Indonesian
    unless told otherwise): exit status, stdout, stderr."""
    env = {name: value for name, value in os.environ.items() if name != "KTPEL_LANG"}
    process = await asyncio.create_subprocess_exec(
        *APPLIANCE,
        *args,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(None if stdin is None else stdin.encode())
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _logged(run: OfficeRun, event: str) -> list[dict[str, Any]]:
    """The daemon's JSON log lines for `event` (the rig logs at "warning" and above)."""
    found = []
    for line in (run.directory / "daemon.log").read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # not one of the daemon's records (a traceback's line)
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


async def _login(http: httpx.AsyncClient, person: str, secret: str) -> httpx.Response:
    return await http.post("/api/v1/session", json={"person": person, "secret": secret})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _events(run: OfficeRun) -> list[Event]:
    return list(read_events(run.config.register_path))


_STEP_EVENTS = {
    EventType.STEP_STARTED: "active",
    EventType.STEP_FINISHED: "finished",
    EventType.STEP_FAILED: "waiting",
    EventType.STEP_SKIPPED: "skipped",
}


def _where(events: list[Event]) -> dict[str, tuple[str, str]]:
    """Each open application's step and phase, read from the register's events."""
    where: dict[str, tuple[str, str]] = {}
    for event in events:
        app = event.app
        if app is None:
            continue
        if event.type == EventType.APPLICATION_ADVANCED:
            where[app] = (event.data["step"], "waiting")
        elif event.type in _STEP_EVENTS:
            where[app] = (event.data["step"], _STEP_EVENTS[EventType(event.type)])
        elif event.type in (EventType.APPLICATION_COMPLETED, EventType.APPLICATION_RETURNED):
            where.pop(app, None)
    return where


async def _until_open(
    run: OfficeRun, want: list[tuple[str, str]], *, within_s: float = 60.0
) -> None:
    """Wait, on the live events, until the open applications stand at `want` (sorted
    (step, phase) pairs)."""
    seen: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=run.api_url, timeout=30) as http:
        login = await _login(http, STAFF.operator, STAFF.secret)
        assert login.status_code == 201, login.text
        headers = _bearer(login.json()["token"])
        try:
            async with (
                asyncio.timeout(within_s),
                http.stream("GET", "/api/v1/events", headers=headers, timeout=None) as stream,
            ):
                lines = stream.aiter_lines()
                while True:
                    views = (
                        await http.get(
                            "/api/v1/applications",
                            params={"state": "in_progress", "limit": 1000},
                            headers=headers,
                        )
                    ).json()
                    seen = sorted((view["step"], view["phase"]) for view in views)
                    if seen == want:
                        return
                    while not (await anext(lines)).startswith("data:"):
                        pass
        except TimeoutError:
            raise AssertionError(f"open applications at {seen}, not {want}") from None


# ============================================================ 1. the watchdog


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_a_wedged_loop_stops_the_watchdog_pings_while_the_api_still_answers(
    tmp_path: Path, pcscd: PrivatePcscd, monkeypatch: pytest.MonkeyPatch
) -> None:
    systemd = Systemd()
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.name)  # the daemon inherits it, as from systemd
    # WatchdogSec=1: a ping every 0.5 s, and a watched loop is stale after 1.5 s.
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    with contextlib.closing(systemd):
        async with (
            office_run(
                tmp_path / "office", _plan(1, seed=1), speed=None, pcscd=pcscd, program=CHILD
            ) as run,
            httpx.AsyncClient(base_url=run.api_url, timeout=30) as http,
        ):
            async with asyncio.timeout(60):
                ready = await systemd.expect("READY")
                assert ready["MAINPID"] == str(run.daemon.pid)
                for _ in range(3):  # the loops go round: the pings come
                    assert await systemd.expect("WATCHDOG") == {"WATCHDOG": "1"}

            run.daemon.send_signal(signal.SIGUSR1)  # the pipeline's worker stops going round
            pings_after = 0
            async with asyncio.timeout(30):
                while True:  # the pings already on their way, until 2 s of silence
                    try:
                        async with asyncio.timeout(2.0):
                            message = await systemd.next()
                    except TimeoutError:
                        break
                    pings_after += message.get("WATCHDOG") == "1"
            # No ping for 2 s, four times the interval: systemd (WatchdogSec=1) would have
            # killed it. Those still sent came within the loop's 1.5 s allowance (about
            # three; more room here for a loaded machine, where the wedge lands late).
            assert pings_after <= 8, pings_after
            print(f"\npings after the wedge, before silence: {pings_after}")

            withheld = _logged(run, "watchdog_withheld")
            assert withheld, "no watchdog_withheld in the daemon's log"
            assert "pipeline" in withheld[-1]["stale"], withheld
            # Only the watchdog notices: the station still answers.
            assert (await http.get("/api/v1/health")).status_code == 200
            status = (await http.get("/api/v1/status")).json()
            assert status["stale_loops"] == ["pipeline"]
        # Leaving office_run sent SIGTERM: the wedged await is cancelled like any other,
        # and the daemon exited 0.


# ============================================================ 2. SIGTERM mid-step


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(180)
async def test_sigterm_mid_step_exits_0_records_the_step_interrupted_and_it_runs_again(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = _plan(1, seed=4, blank_ratio=3.0)  # a new card, with blanks to spare
    assert [a.outcome(TODAY) for a in plan.applicants] == ["served"]
    async with office_run(tmp_path / "office", plan, speed=None, pcscd=pcscd) as run:
        encoder = run.sim.devices["card_encoder"]
        assert isinstance(encoder, VpcdSlot)
        # The chip stops answering after a few writes: the encode and print step stays in
        # progress, with a half-personalised card in the printer.
        encoder.inject(Fault.HANG, {"after_writes": 3})
        day = asyncio.create_task(run.play(plan), name="the-day")
        async with asyncio.timeout(60):
            await encoder.holding.wait()
        events = _events(run)
        (app,) = {event.app for event in events if event.type == EventType.APPLICATION_SUBMITTED}
        assert app is not None
        assert _where(events)[app] == ("encode_print", "active")

        sigterm = time.monotonic()
        status = await run.daemon.stop_within(15)
        took_s = time.monotonic() - sigterm
        encoder.clear(Fault.HANG)
        assert status == 0
        print(f"\nSIGTERM to exit, mid encode_print: {took_s:.2f} s")

        code, out, err = await _appliance(
            "register", "verify", "--config", str(run.directory / "station.toml")
        )
        assert code == 0, out + err
        mine = [event for event in _events(run) if event.app == app]
        assert _where(mine)[app] == ("encode_print", "waiting")
        # Recorded as the daemon stopped, not left for the next start to find.
        failed = next(e for e in reversed(mine) if e.type == EventType.STEP_FAILED)
        assert (failed.data["step"], failed.data["code"], failed.data["detail"]) == (
            "encode_print",
            "interrupted",
            "the station is stopping",
        )
        # The half-written card is counted as spoiled, interrupted: no blank unaccounted.
        (spoiled,) = [e for e in mine if e.type == EventType.BLANK_SPOILED]
        assert spoiled.data["reason"] == "interrupted"
        assert not [e for e in mine if e.type == EventType.CARD_PRINTED]

        await run.daemon.start()
        async with asyncio.timeout(120):
            log = await day
        assert not log.given_up, log.retries
        after = [e for e in _events(run) if e.app == app and e.seq > failed.seq]
        steps = [(e.type, e.data.get("step")) for e in after if e.type in _STEP_EVENTS]
        # The station started the step again by itself, and it finished this time.
        assert steps[:2] == [
            (EventType.STEP_STARTED, "encode_print"),
            (EventType.STEP_FINISHED, "encode_print"),
        ]
        assert after[-1].type == EventType.APPLICATION_COMPLETED
        assert run.report().verified is None


# ============================================================ 3. SIGKILL


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(180)
async def test_sigkill_with_applications_at_different_steps_and_each_reaches_the_end(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    """A focused version of tests/test_crash_day.py (30 kills at random moments over a
    day): one kill at a moment chosen so that the open applications stand at different
    steps, one of them in a device step."""
    plan = _plan(4, seed=6, arrivals_over_s=3600, blank_ratio=2.0)
    assert [a.outcome(TODAY) for a in plan.applicants] == ["served"] * 4
    # The first and the last need their biometrics recorded; the two between were
    # recorded before, so they go straight from validation to the card printer.
    assert [a.recorded_before for a in plan.applicants] == [False, True, True, False]
    arrivals = ManualTimekeeper()
    settings = {"issuance": {"card_timeout_s": 120}}  # a held card is not given up meanwhile
    async with office_run(
        tmp_path / "office", plan, speed=None, pcscd=pcscd, settings=settings
    ) as run:
        desk = run.sim.devices["activation_reader"]
        assert isinstance(desk, VpcdSlot)
        desk.inject(Fault.HANG)  # the activation desk's card stops answering
        day = asyncio.create_task(run.play(plan, clock=arrivals), name="the-day")
        async with asyncio.timeout(60):
            while not arrivals.pending:  # the day has begun: the first arrival is awaited
                await arrivals.timers_changed.wait()
            arrivals.advance(plan.applicants[0].arrival_s)
            await desk.holding.wait()  # the first applicant's card is being activated
        arrivals.advance(3600)  # the others come; the operator is busy at the desk
        at_rest = [
            ("activate", "active"),  # the first, its card held at the desk
            ("activate", "waiting"),  # those recorded before: printed, waiting for the desk
            ("activate", "waiting"),
            ("biometric", "waiting"),  # the last, waiting for the operator
        ]
        await _until_open(run, at_rest)

        await run.daemon.kill()
        desk.clear(Fault.HANG)
        at_kill = _where(_events(run))
        assert sorted(at_kill.values()) == at_rest

        await run.daemon.start()
        async with asyncio.timeout(120):
            log = await day
    assert not log.given_up, log.retries
    events = _events(run)
    # The start after the kill found the device step still active, and recorded it.
    (held,) = [app for app, where in at_kill.items() if where == ("activate", "active")]
    (interrupted,) = [e for e in events if e.type == EventType.STEP_FAILED and e.app == held]
    assert (interrupted.data["code"], interrupted.data["detail"]) == (
        "interrupted",
        "the station restarted during the step",
    )
    completed = {e.app for e in events if e.type == EventType.APPLICATION_COMPLETED}
    assert completed == set(at_kill)
    report = run.report()
    assert report.verified is None, report.verified
    assert report.cards_in_process == 0


# ============================================================ 4, 5: one daemon


@dataclass
class Station:
    run: OfficeRun
    systemd: Systemd
    http: httpx.AsyncClient

    @property
    def config(self) -> Path:
        return self.run.directory / "station.toml"

    async def hangup(self) -> dict[str, str]:
        """SIGHUP, as `systemctl reload` sends it: RELOADING=1, then READY=1 once done."""
        self.systemd.drain()
        self.run.daemon.send_signal(signal.SIGHUP)
        async with asyncio.timeout(30):
            reloading = await self.systemd.expect("RELOADING")
            ready = await self.systemd.expect("READY")
        assert int(reloading["MONOTONIC_USEC"]) > 0
        return ready


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def station(
    tmp_path_factory: pytest.TempPathFactory, pcscd: PrivatePcscd
) -> AsyncIterator[Station]:
    """A daemon under the test's notify socket, shared by the reload and status tests
    (each leaves it as it found it: running, on its original config)."""
    systemd = Systemd()
    with contextlib.closing(systemd), pytest.MonkeyPatch.context() as env:
        env.setenv("NOTIFY_SOCKET", systemd.name)
        env.delenv("WATCHDOG_USEC", raising=False)
        directory = tmp_path_factory.mktemp("station")
        async with (
            office_run(directory, _plan(1, seed=1), speed=None, pcscd=pcscd) as run,
            httpx.AsyncClient(base_url=run.api_url, timeout=30) as http,
        ):
            async with asyncio.timeout(60):
                await systemd.expect("READY")
            yield Station(run=run, systemd=systemd, http=http)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(180)
async def test_sighup_reads_the_staff_file_again_and_refuses_what_it_cannot_apply(
    station: Station,
) -> None:
    run, http, config = station.run, station.http, str(station.config)
    original = station.config.read_text(encoding="utf-8")

    # (a) Someone added while the daemon runs may log in once it has read the file again.
    code, _, err = await _appliance(
        "staff", "add", "--config", config, "--id", "rina", "--name", "Rina Wati",
        "--role", "petugas_loket", stdin="135790\n",
    )  # fmt: skip
    assert code == 0, err
    assert (await _login(http, "rina", "135790")).status_code == 401
    ready = await station.hangup()
    assert ready["STATUS"].startswith("perangkat siap ")
    rina = await _login(http, "rina", "135790")
    assert rina.status_code == 201, rina.text
    assert rina.json()["roles"] == ["petugas_loket"]

    # (b) A PIN changed closes that person's sessions, and only theirs.
    budi = (await _login(http, STAFF.section_head, STAFF.secret)).json()["token"]
    siti = (await _login(http, STAFF.counter, STAFF.secret)).json()["token"]
    code, _, err = await _appliance(
        "staff", "passwd", "--config", config, "--id", STAFF.section_head, stdin="975310\n"
    )
    assert code == 0, err
    assert (await http.get("/api/v1/queue", headers=_bearer(budi))).status_code == 200
    await station.hangup()
    assert (await http.get("/api/v1/queue", headers=_bearer(budi))).status_code == 401
    assert (await http.get("/api/v1/queue", headers=_bearer(siti))).status_code == 200
    assert (await _login(http, STAFF.section_head, STAFF.secret)).status_code == 401
    assert (await _login(http, STAFF.section_head, "975310")).status_code == 201

    try:
        # (c) A config that does not load changes nothing; the station goes on.
        document = tomllib.loads(original)
        station.config.write_text(
            tomli_w.dumps({**document, "api": {**document["api"], "port": "delapan"}}),
            encoding="utf-8",
        )
        await station.hangup()
        (refused,) = _logged(run, "reload_refused")
        assert "api.port" in refused["problem"], refused
        assert (await http.get("/api/v1/health")).status_code == 200
        assert (await http.get("/api/v1/queue", headers=_bearer(siti))).status_code == 200

        # (d) A new port waits for a restart: the log says so, the old port still serves.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        station.config.write_text(
            tomli_w.dumps({**document, "api": {**document["api"], "port": port}}),
            encoding="utf-8",
        )
        await station.hangup()
        (needs_restart,) = _logged(run, "reload_needs_restart")
        assert needs_restart["sections"] == ["api"]
        assert (await http.get("/api/v1/health")).status_code == 200
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/api/v1/health")

        # (e) The log level is applied at once: at "info", the reload itself is logged.
        station.config.write_text(
            tomli_w.dumps({**document, "logging": {**document["logging"], "level": "info"}}),
            encoding="utf-8",
        )
        await station.hangup()
        (reloaded,) = _logged(run, "reloaded")
        assert reloaded["logging_level"] == "info"
        assert len(_logged(run, "reload_needs_restart")) == 1  # logging is applied live
    finally:
        station.config.write_text(original, encoding="utf-8")
        await station.hangup()
    assert len(_logged(run, "reloaded")) == 1  # back at "warning": not logged again


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_appliance_status_renders_the_daemons_report_and_says_when_none_answers(
    station: Station,
) -> None:
    run, config = station.run, str(station.config)
    devices = sorted(run.sim.overlay()["devices"])
    await run.daemon.devices_ready()

    code, out, err = await _appliance("status", "--config", config)
    assert code == 0, err
    lines = out.splitlines()
    assert f"Perangkat siap {len(devices)}/{len(devices)}" in lines
    for name in devices:
        assert f"  {name}: READY" in lines
    assert any(line.startswith("Antrean hari ini (") for line in lines), out
    assert "Uplink: tidak dikonfigurasi" in lines
    assert any(line.startswith("Disk: sisa ") for line in lines), out
    assert any(line.startswith("Jam: ") for line in lines), out

    code, out, err = await _appliance("--lang", "en", "status", "--config", config)
    assert code == 0, err
    lines = out.splitlines()
    assert f"Devices ready {len(devices)}/{len(devices)}" in lines
    assert any(line.startswith("Queue today (") for line in lines), out
    assert any(line.startswith("Disk: ") and " MB free of " in line for line in lines), out
    assert any(line.startswith("Clock: ") for line in lines), out

    code, out, err = await _appliance("status", "--config", config, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert {
        "devices",
        "queue",
        "applications",
        "steps",
        "blanks",
        "uplink",
        "disk",
        "clock",
        "stale_loops",
        "accepting_new_work",
    } <= report.keys()
    assert sorted(report["devices"]) == devices
    assert report["uplink"] is None
    assert report["stale_loops"] == []
    assert report["accepting_new_work"] is True

    assert await run.daemon.stop_within(15) == 0
    try:
        code, out, err = await _appliance("status", "--config", config)
        assert code == 1
        assert out == ""
        assert f"Daemon stasiun tidak menjawab di {run.api_url}/api/v1/status" in err, err
    finally:
        await run.daemon.start()
