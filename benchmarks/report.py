"""The performance report over a busy office's year, as one JSON object.

A year of 2026 at 100 applicants a working day (Monday to Friday less Indonesia's public
holidays: about 250 days), with keypad presses, questionnaires, returns, spoiled cards,
late handovers and complaints, synthesised by `sim.history` and written through the real
register (validated, projected, signed). Then, each in a fresh process that reads the
register as `appliance report` does (`read_events`, read-only):

- `build_s`: `report()` for a quarter (2026-Q4, with its four quarters' trend and three
  months) and for the year (2026, with three years' trend and twelve months), min and
  median of `--repeat` runs (target: the year <= 5 s on this machine);
- `render_s`: the year's report as JSON, HTML (matplotlib's SVG charts) and PDF (fpdf2,
  PNG charts), built once;
- `peak_rss_mb`: the process's peak resident memory (VmHWM) after the builds, and
  `baseline_rss_mb` after the imports alone, before reading a single event.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from appliance.oversight import Period
from appliance.register import StationKey, read_events
from appliance.reports import (
    REPORT_EVENTS,
    Letterhead,
    TargetsSection,
    render_html,
    render_pdf,
    report,
    report_document,
)
from sim.history import ZONE, history, office_calendar, write_history


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM): not ru_maxrss, which Linux carries
    over an exec from the parent that forked it, the one holding the synthesised year."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure(register: Path, repeat: int) -> dict[str, Any]:
    """In the child: build each report `repeat` times, render the year once."""
    baseline = _peak_mb()
    targets = TargetsSection()
    builds: dict[str, Any] = {}
    built = None
    for name in ("2026-Q4", "2026"):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            built = report(
                read_events(register, types=REPORT_EVENTS), Period.parse(name), ZONE, targets
            )
            times.append(time.perf_counter() - started)
        builds[name] = {"min": round(min(times), 3), "median": round(statistics.median(times), 3)}
    assert built is not None
    render: dict[str, float] = {}
    started = time.perf_counter()
    json.dumps(report_document(built))
    render["json"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    render_html(built, office="Kantor Kecamatan", station="bench-01")
    render["html"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    pdf = render_pdf(built, letterhead=Letterhead(office="Kantor Kecamatan", station="bench-01"))
    render["pdf"] = round(time.perf_counter() - started, 3)
    return {
        "build_s": builds,
        "render_s": render,
        "pdf_bytes": len(pdf),
        "handed_over_in_year": built.activity.handed_over,
        "ikm_year": report_document(built)["figures"]["survey"]["ikm"]["shown"],
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure, args.repeat)))
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "register.sqlite3"
        started = time.perf_counter()
        events = history(first=date(2026, 1, 1), last=date(2026, 12, 31), per_day=args.per_day)
        synthesised = time.perf_counter() - started
        kinds = {kind: sum(e.type == kind for e in events) for kind in _COUNTED}
        started = time.perf_counter()
        write_history(path, StationKey.generate(), events, station_id="bench-01")
        written = time.perf_counter() - started
        count = len(events)
        del events
        calendar = office_calendar()
        days = sum(
            calendar.is_working_day(date.fromordinal(n))
            for n in range(date(2026, 1, 1).toordinal(), date(2027, 1, 1).toordinal())
        )
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        measured = json.loads(child.stdout)
        register_mb = round(path.stat().st_size / 2**20, 1)
    print(
        json.dumps(
            {
                "benchmark": "report",
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "office": {
                    "working_days": days,
                    "applicants_per_day": args.per_day,
                    "events": count,
                    "by_type": kinds,
                    "register_mb": register_mb,
                    "synthesise_s": round(synthesised, 1),
                    "write_register_s": round(written, 1),
                },
                **measured,
                "target": {"year_build_s": 5.0},
                "met": measured["build_s"]["2026"]["median"] <= 5.0,
            },
            indent=2,
        )
    )


_COUNTED = (
    "application.submitted",
    "application.completed",
    "application.returned",
    "blank.spoiled",
    "survey.keypad_pressed",
    "survey.questionnaire_answered",
    "complaint.received",
)

if __name__ == "__main__":
    main()
