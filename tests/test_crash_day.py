"""The power goes, again and again: a simulated day with the daemon SIGKILLed at random
moments and started again each time, while the officers carry on through the API.

At the end every applicant is where the SOP puts them (served, or given a Surat
Keterangan for want of a blank, or returned with their file), the register verifies,
the blank cards add up and no card is unaccounted for.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from appliance.clock import ManualTimekeeper
from appliance.register import EventType, read_events
from appliance.status import render_status
from sim.daemon import DaemonFailed
from sim.day import DurationModel, plan_day
from sim.day_run import OfficeRun, office_run
from sim.pcscd import PrivatePcscd

pytestmark = pytest.mark.asyncio(loop_scope="module")

KILLS = 30
APPLICANTS = 14
ARRIVALS_S = 3600.0
"""Arrivals spread over an hour of the officers' clock, which moves a step at each
power cut: the day cannot end before the last one."""
BUDGET_S = 240.0
"""The most the cuts, the day and its delivery to the centre may take (about a minute
and a half): inside pytest's own timeout, so that a day that sticks says where."""


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


async def test_a_day_of_power_cuts_loses_no_applicant_and_no_card(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    today = date.today()  # noqa: DTZ011 - the plan's rules need a calendar day, give or take one
    plan = plan_day(
        applicants=APPLICANTS,
        seed=32,
        today=today,
        arrivals_over_s=ARRIVALS_S,
        model=DurationModel.without_people(),
        blank_ratio=0.8,
    )
    expected = {a.number: a.outcome(today) for a in plan.applicants}
    assert set(expected.values()) == {"served", "returned_at_check", "returned_at_validate"}
    moments = random.Random(2026)  # when to cut the power, reproducibly
    arrivals = ManualTimekeeper()
    deadline = asyncio.get_running_loop().time() + BUDGET_S
    async with office_run(tmp_path, plan, speed=None, pcscd=pcscd, central=True) as run:
        day = asyncio.create_task(run.play(plan, clock=arrivals), name="the-day")
        for _ in range(KILLS):
            # A random moment of the daemon's life: not waiting for anything to happen.
            await asyncio.sleep(moments.uniform(0.05, 0.9))
            assert not day.done(), day
            await run.daemon.kill()
            await run.daemon.start()
            arrivals.advance(ARRIVALS_S / KILLS)
        arrivals.advance(ARRIVALS_S)
        stage = "serving the day"
        try:
            async with asyncio.timeout_at(deadline):
                log = await day
                stage = "delivering the register to the centre"
                central = await run.central_report(within_s=BUDGET_S)
        except TimeoutError:
            pytest.fail(f"{stage} did not end in time:\n{await _where_it_stands(run)}")
    assert run.daemon.starts == KILLS + 1
    assert not log.given_up, log.retries

    # Every applicant is where the SOP puts them.
    book = _Book.read(run.config.register_path)
    assert len(log.applications) == APPLICANTS
    for app, number in log.applications.items():
        outcome = book.state.get(app)
        if expected[number] == "served":
            assert outcome in ("served", "waiting_blank"), (app, outcome)
        else:
            assert outcome == expected[number], (app, outcome)

    # The blank cards add up, and each card that left the hopper is issued or spoiled.
    report = run.report()
    assert report.verified is None, report.verified
    assert report.cards_in_process == 0
    assert report.cards_fed == report.cards_issued + report.cards_spoiled
    assert report.blanks_received == report.cards_fed + report.blanks_left
    served = [app for app, outcome in book.state.items() if outcome == "served"]
    assert len(book.issued) == len(set(book.issued)) == len(served)
    assert all(book.cards_of[app][-1] in book.issued for app in served)
    if report.waiting_blank:
        assert report.blanks_left == 0, "a Surat Keterangan only when no blank is left"

    # The uplink, killed with the daemon each time, still delivered the whole register:
    # every seq once, linked and signed, nothing flagged.
    assert central is not None
    assert (central.stored, central.verified, central.flags) == (report.events, True, 0)

    verify = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "appliance",
        "register",
        "verify",
        "--config",
        "station.toml",
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await verify.communicate()
    assert verify.returncode == 0, stderr.decode()


async def test_a_daemon_that_dies_by_itself_ends_the_day_with_its_log(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = plan_day(
        applicants=3,
        seed=3,
        today=date.today(),  # noqa: DTZ011 - any calendar day
        arrivals_over_s=3600,
        model=DurationModel.without_people(),
    )
    async with office_run(tmp_path, plan, speed=None, pcscd=pcscd) as run:
        day = asyncio.create_task(run.play(plan, clock=ManualTimekeeper()))
        assert run.daemon.pid is not None
        os.kill(run.daemon.pid, signal.SIGKILL)  # not through `run.daemon`: unexpected
        with pytest.raises(DaemonFailed, match="exited on its own"):
            async with asyncio.timeout(60):
                await day


async def _where_it_stands(run: OfficeRun) -> str:
    """The daemon's own status and the register's last events: what a stuck day was
    waiting for."""
    # Whatever goes wrong here is reported in its place: it must not hide the failure.
    try:
        async with httpx.AsyncClient(base_url=run.api_url, trust_env=False, timeout=5) as http:
            response = await http.get("/api/v1/status")
            response.raise_for_status()
        lines = [render_status(response.json(), "en")]
    except Exception as error:  # noqa: BLE001 - reported, not raised
        lines = [f"no status from the daemon: {error!r}"]
    lines.append("the register's last events:")
    try:
        for event in list(read_events(run.config.register_path))[-25:]:
            data = event.data
            detail = {key: data[key] for key in ("step", "code", "outcome") if key in data}
            lines.append(f"  {event.seq} {event.ts} {event.type} {event.app or ''} {detail}")
    except Exception as error:  # noqa: BLE001 - reported, not raised
        lines.append(f"  unreadable: {error!r}")
    return "\n".join(lines)


@dataclass
class _Book:
    """Each application's outcome and cards, as the register tells them."""

    state: dict[str, str] = field(default_factory=dict)
    cards_of: dict[str, list[str]] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, register: Path) -> _Book:
        book = cls()
        for event in read_events(register):
            app = event.app or ""
            match event.type:
                case EventType.APPLICATION_RETURNED:
                    book.state[app] = f"returned_at_{event.data['step']}"
                case EventType.SURAT_KETERANGAN_ISSUED:
                    book.state[app] = "waiting_blank"
                case EventType.APPLICATION_COMPLETED:
                    book.state[app] = "served"
                case EventType.CARD_PERSONALISED:
                    book.cards_of.setdefault(app, []).append(event.data["card_serial"])
                case EventType.BLANK_ISSUED:
                    book.issued.append(event.data["card_serial"])
        return book
