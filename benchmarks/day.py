"""A simulated office day through the whole machinery (issue 5), as one JSON object:

- `realistic`: the same applicants, all waiting at opening, served twice on simulated
  devices with the officers' SOP-minute durations (`sim.day.DurationModel`) in scaled
  time: pipelined, as the station runs, and strictly one applicant at a time. Applicants
  served, mean and p95 time from ticket to card, the day's length both ways and their
  ratio (target >= 1.6), and the bound set by the busiest person or device of the
  duration model with the pipelined day's share of it (target >= 95 %).
- `instant`: instant devices and officers who act at once: applicants per second
  through the daemon, its API, the register, the drivers and the simulated devices
  (target >= 20/s).

- `beside_hog` (with `--hog N`): the realistic day again, beside N processes that each
  keep a core busy, as on a machine busy with other work. Device steps must not fail on
  their budgets because the host is slow (issue 16): `budget_failures` counts the
  `budget_exceeded` failures of both runs, and `throughput_ratio` is given both ways.

Each realistic run gives its device steps' p95 duration and its step failures by
code. Minutes are the day's (simulated) minutes; the device faults of the demo's day are
left out so that both runs face the same work.

    python benchmarks/day.py [--applicants 16] [--speed 60] [--instant-applicants 30]
                             [--hog 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script (`python benchmarks/day.py`): its siblings are found from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.domain import SOP_STEPS, StepKind
from sim.day import DayPlan, DurationModel, plan_day
from sim.day_report import DayReport
from sim.day_run import next_working_day, office_run
from sim.pcscd import SOCKET_VARIABLE, PrivatePcscd


async def _day(
    plan: DayPlan, pcscd: PrivatePcscd, *, speed: float | None, sequential: bool
) -> tuple[DayReport, float]:
    with tempfile.TemporaryDirectory(prefix="ktpel-bench-") as tmp:
        started = time.perf_counter()
        async with office_run(Path(tmp), plan, speed=speed, pcscd=pcscd) as run:
            await run.play(plan, sequential=sequential)
        wall = time.perf_counter() - started
        return run.report(), wall


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


_DEVICE_STEPS = [spec.step for spec in SOP_STEPS if spec.kind is StepKind.DEVICE]


def _failures(report: DayReport) -> dict[str, dict[str, int]]:
    return {str(s.step): dict(s.failure_codes) for s in report.steps if s.failure_codes}


def _budget_failures(report: DayReport) -> int:
    return sum(dict(s.failure_codes).get("budget_exceeded", 0) for s in report.steps)


@contextlib.contextmanager
def _cpu_hog(processes: int) -> Iterator[None]:
    """`processes` busy loops, each keeping a core busy, stopped on the way out."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


async def _realistic(
    pcscd: PrivatePcscd, applicants: int, speed: float, seed: int
) -> dict[str, Any]:
    plan = plan_day(
        applicants=applicants,
        seed=seed,
        today=next_working_day(date.today()),  # noqa: DTZ011 - a calendar day for the rules
        arrivals_over_s=0,
        faults=False,
    )
    pipelined, pipelined_wall = await _day(plan, pcscd, speed=speed, sequential=False)
    sequential, sequential_wall = await _day(plan, pcscd, speed=speed, sequential=True)
    busiest, bound_s = plan.bound()
    return {
        "applicants": applicants,
        "speed": speed,
        "served": pipelined.served,
        "returned": pipelined.returned_at_check + pipelined.returned_at_validate,
        "suket": pipelined.suket,
        "breaches": pipelined.breaches,
        "step_failures": sum(step.failures for step in pipelined.steps),
        "failures_by_code": {
            "pipelined": _failures(pipelined),
            "sequential": _failures(sequential),
        },
        "budget_failures": _budget_failures(pipelined) + _budget_failures(sequential),
        "device_step_p95_min": {
            str(s.step): round(s.p95_minutes, 2) for s in pipelined.steps if s.step in _DEVICE_STEPS
        },
        "ticket_to_card_min": {
            "mean": _minutes(pipelined.mean_ticket_to_card_s()),
            "p95": _minutes(pipelined.p95_ticket_to_card_s()),
        },
        "day_min": {
            "pipelined": _minutes(pipelined.day_s),
            "sequential": _minutes(sequential.day_s),
            "sequential_model": _minutes(plan.sequential_s()),
        },
        "throughput_ratio": round(sequential.day_s / pipelined.day_s, 3),
        "target_ratio": 1.6,
        "bound": {
            "busiest": busiest,
            "day_min": _minutes(bound_s),
            "share_of_bound": round(bound_s / pipelined.day_s, 3),
            "target_share": 0.95,
        },
        "sequential_served": sequential.served,
        "wall_s": {"pipelined": round(pipelined_wall, 1), "sequential": round(sequential_wall, 1)},
        "verified": pipelined.verified is None and sequential.verified is None,
    }


async def _instant(pcscd: PrivatePcscd, applicants: int, seed: int) -> dict[str, Any]:
    plan = plan_day(
        applicants=applicants,
        seed=seed,
        today=date.today(),  # noqa: DTZ011 - a calendar day for the rules
        arrivals_over_s=0,
        model=DurationModel.without_people(),
        blank_ratio=1.0,
        faults=False,
    )
    report, wall = await _day(plan, pcscd, speed=None, sequential=False)
    return {
        "applicants": applicants,
        "served": report.served,
        "day_s": round(report.day_s, 2),
        "applicants_per_s": round(applicants / report.day_s, 2),
        "target_per_s": 20,
        "events": report.events,
        "events_per_s": round(report.events / report.day_s, 1),
        "wall_s_with_start_and_stop": round(wall, 1),
        "verified": report.verified is None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applicants", type=int, default=16)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--instant-applicants", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--hog",
        type=int,
        default=0,
        metavar="N",
        help="the realistic day again beside N busy loops",
    )
    args = parser.parse_args()
    # One pcscd for the simulated readers of every day: a process talks to one only.
    os.environ.pop(SOCKET_VARIABLE, None)
    with tempfile.TemporaryDirectory(prefix="ktpel-pcscd-") as tmp:
        async with PrivatePcscd(directory=Path(tmp)) as pcscd:
            result = {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_at_start": os.getloadavg()[0],
                },
                "instant": await _instant(pcscd, args.instant_applicants, args.seed),
                "realistic": await _realistic(pcscd, args.applicants, args.speed, args.seed),
            }
            if args.hog:
                with _cpu_hog(args.hog):
                    hogged = await _realistic(pcscd, args.applicants, args.speed, args.seed)
                result["beside_hog"] = {"busy_loops": args.hog, **hogged}
                result["throughput_ratio"] = {
                    "quiet": result["realistic"]["throughput_ratio"],
                    "beside_hog": hogged["throughput_ratio"],
                }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
