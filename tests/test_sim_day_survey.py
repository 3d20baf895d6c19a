"""The keypad end to end: a simulated office day whose applicants press the satisfaction
keypad after their handover and answer the kiosk's questionnaire (or not), as their plan
says; then `appliance report` for the day, and the same report recomputed from the
exported register, and the IKM counted by hand from the exported answers."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import pytest_asyncio

from appliance.cli import run
from appliance.oversight import Period
from appliance.register import Event, read_events, read_jsonl
from appliance.reports import TargetsSection, report, report_document
from sim.day import DurationModel, plan_day
from sim.day_run import ZONE, office_run
from sim.pcscd import PrivatePcscd


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


def _cli(*argv: str) -> int:
    return run(list(argv), stdout=io.StringIO())


def _period_of(events: Iterable[Event]) -> Period:
    """The day the events fall on; the month (or year) should the run cross midnight."""
    days = {datetime.fromisoformat(event.ts).astimezone(ZONE).date() for event in events}
    if len(days) == 1:
        return Period.parse(days.pop().isoformat())
    if len({day.strftime("%Y-%m") for day in days}) == 1:
        return Period.parse(min(days).strftime("%Y-%m"))
    assert len({day.year for day in days}) == 1, "the day ran across New Year's midnight"
    return Period.parse(str(min(days).year))


async def test_a_days_keypad_and_questionnaires_end_in_a_report_recomputed_from_the_export(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    today = datetime.now(ZONE).date()
    plan = plan_day(
        applicants=14,
        seed=6,
        today=today,
        arrivals_over_s=0,
        model=DurationModel.without_people(),
        blank_ratio=1.0,
        faults=False,
    )
    served = [a for a in plan.applicants if a.outcome(today) == "served"]
    assert sum(a.survey.button is not None for a in served) >= 5
    assert sum(a.survey.answers is not None for a in served) >= 3
    assert any(a.survey.button is None and a.survey.answers is None for a in served), (
        "the seed must give an applicant who skips both"
    )
    async with office_run(tmp_path / "office", plan, speed=None, pcscd=pcscd) as run_:
        log = await run_.play(plan)
    config_path = tmp_path / "office" / "station.toml"
    handed_over = sum(
        e.type == "application.completed" for e in read_events(run_.config.register_path)
    )
    assert handed_over == len(served)
    period = _period_of(read_events(run_.config.register_path))

    output = tmp_path / "report.json"
    assert (
        _cli(
            *("report", "--config", str(config_path), "--period", str(period)),
            *("--format", "json", "--output", str(output)),
        )
        == 0
    )
    written = json.loads(output.read_text(encoding="utf-8"))
    export = tmp_path / "register.jsonl"
    assert (
        _cli(
            *("register", "export", "--config", str(config_path)),
            *("--format", "jsonl", "--output", str(export)),
        )
        == 0
    )
    with export.open(encoding="utf-8") as lines:
        exported = list(read_jsonl(lines))
    again = report(exported, period, ZONE, TargetsSection())
    assert written == json.loads(json.dumps(report_document(again)))

    # The IKM by hand from the exported answers: NRR per element = its sum / respondents,
    # IKM = Σ NRR x 1/9 x 25.
    answers = [e.data["answers"] for e in exported if e.type == "survey.questionnaire_answered"]
    assert [dict(a) for a in log.questionnaires] == answers, "each accepted, in order"
    respondents = len(answers)
    nrr = {code: Fraction(sum(a[code] for a in answers), respondents) for code in answers[0]}
    assert len(nrr) == 9
    ikm = sum(nrr.values(), Fraction(0)) / 9 * 25
    survey = written["figures"]["survey"]
    assert survey["respondents"] == respondents
    assert survey["ikm"] is not None
    assert survey["ikm"]["exact"] == str(ikm)
    measure = next(m for m in written["measures"] if m["key"] == "ikm")
    assert measure["achieved"]["exact"] == str(ikm)

    # The keypad: as many presses, of each rating, as the applicants made and the station took.
    presses = Counter(e.data["rating"] for e in exported if e.type == "survey.keypad_pressed")
    assert presses == Counter({str(rating): n for rating, n in log.keypad_presses.items()})
    keypad = survey["keypad"]
    assert keypad["presses"] == log.keypad_presses.total() >= 5
    assert {k: n for k, n in keypad["counts"].items() if n} == {
        str(rating): n for rating, n in log.keypad_presses.items()
    }
    # Every applicant meaning to press was lit for and taken; some walked past the keypad.
    assert log.keypad_presses.total() == sum(a.survey.button is not None for a in served)
    assert log.keypad_presses.total() < handed_over
