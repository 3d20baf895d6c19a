"""The simulated office day (`sim/day.py`, `sim/day_officers.py`): its officers against a
running station."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest_asyncio

from appliance.domain import required_documents
from appliance.register import read_events
from sim.day import Applicant, DayPlan, DurationModel, plan_day
from sim.day_run import ZONE, office_run
from sim.pcscd import PrivatePcscd


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


def _a_tuesday() -> date:
    """A day whose next day is a working day too, so both days' queues open."""
    today = date.today()  # noqa: DTZ011 - the rules need a calendar day, any one
    return today + timedelta(days=(1 - today.weekday()) % 7)


def _same_service(seed: int) -> DayPlan:
    """Two applicants for the same service, new to the biometric desk."""
    plan = plan_day(
        applicants=2,
        seed=seed,
        today=_a_tuesday(),
        arrivals_over_s=0,
        model=DurationModel(spread=0.0, card_print_s=60.0),
        blank_ratio=1.0,
        faults=False,
    )
    first, second = plan.applicants
    service = first.service
    documents = required_documents(service)

    def alike(applicant: Applicant) -> Applicant:
        form = {**applicant.form, "service": service, "documents": list(documents)}
        return dataclasses.replace(
            applicant,
            service=service,
            form=form,
            documents=tuple(documents),
            recorded_before=False,
        )

    plan = dataclasses.replace(plan, applicants=(alike(first), alike(second)))
    assert [a.outcome(plan.today) for a in plan.applicants] == ["served", "served"], (
        "the seed must give two applicants the SOP serves"
    )
    return plan


def _around_midnight(plan: DayPlan, now: datetime) -> DayPlan:
    """The first applicant 10 minutes before midnight, still being served (their SOP
    minutes add up to more) when the second takes the new day's first ticket at 00:03."""
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0, 0), tzinfo=now.tzinfo)
    to_midnight_s = (midnight - now).total_seconds()
    first, second = plan.applicants
    return dataclasses.replace(
        plan,
        applicants=(
            dataclasses.replace(first, arrival_s=to_midnight_s - 10 * 60),
            dataclasses.replace(second, arrival_s=to_midnight_s + 3 * 60),
        ),
    )


async def test_tickets_numbered_alike_on_two_days_are_two_applicants(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = _same_service(seed=3)
    # The station's clock starts early enough that its start-up ends before midnight.
    async with office_run(
        tmp_path / "office", plan, speed=300, opens=time(20, 0), pcscd=pcscd
    ) as run:
        now = datetime.fromtimestamp(run.clock.wall_ns() / 1e9, ZONE)
        assert now.hour < 23, "the station took hours of its day to start"
        plan = _around_midnight(plan, now)
        log = await run.play(plan)
    events = list(read_events(run.config.register_path))
    issued = [(e.data["day"], e.data["ticket"]) for e in events if e.type == "queue.ticket_issued"]
    assert len(issued) == 2
    assert issued[0][0] != issued[1][0], "the second ticket is the next day's"
    assert issued[0][1] == issued[1][1], "and numbered like the first"

    nik_of = {a.number: a.nik for a in plan.applicants}
    submitted = {e.app: e.data["nik"] for e in events if e.type == "application.submitted"}
    assert {app: nik_of[number] for app, number in log.applications.items()} == submitted
    assert not log.given_up, log.retries
    assert run.report().served == 2
