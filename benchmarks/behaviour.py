"""Behaviour kept through a renovation: `appliance demo --instant` for fixed seeds, reduced
to what must not change when only the code's structure does.

For each seed it runs the demo (simulated devices, the daemon in its own process,
officers acting at once), then reads the register the day left and prints, as JSON:

- `per_ticket`: for every ticket of the day, the sequence of register event types that
  concern it (its queue events, then its application's events), in register order. The
  officers serve several applicants at once, so the global interleaving of events varies
  from run to run; what happens to each applicant, and in which order, does not.
- `type_counts`: how many events of each type the day wrote.
- `summary`: the demo's summary lines with the timings (minutes, seconds, rates) taken
  out, since they depend on the machine.

`--check FILE` compares with a JSON written earlier (`--write FILE`) and exits 1 naming
the first difference. The golden kept in `benchmarks/golden/` is rewritten only with a
change meant to alter the day (its commit says why: last, the applicants' keypad presses
and questionnaires), so a structural change that alters behaviour by accident shows here.

    python benchmarks/behaviour.py [--seeds 7 11] [--applicants 20] [--write F | --check F]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.register import read_events

_APPLIANCE = Path(sys.executable).with_name("appliance")
# Timings in the summary: "0.07", "53.3 s", "0.38 pemohon/s", "rata-rata 0.5 menit".
_TIMING_LINE = re.compile(r"^(tiket sampai KTP-el|mesin saja|lama hari):")
# A step's row: its short name, SOP minutes, mean and p95 (dropped), finished, breaches,
# failures.
# A log line the daemon or the collector prints while the summary is written (the
# collector hearing the station go offline): the processes' timing, not the day's behaviour.
_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[")
_STEP_LINE = re.compile(r"^\s+(\S.*?)\s+(\d+) ·\s+[\d.]+ ·\s+[\d.]+ ·\s+(\d+) · (\d+) · (\d+)$")


def run_day(seed: int, applicants: int, directory: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            str(_APPLIANCE),
            "demo",
            "--instant",
            "--seed",
            str(seed),
            "--applicants",
            str(applicants),
            "--dir",
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"KTPEL_LANG": "id", "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise SystemExit(f"demo seed {seed} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return {
        "per_ticket": _per_ticket(directory / "office" / "state" / "register.sqlite3"),
        "type_counts": dict(sorted(_type_counts(directory).items())),
        "summary": _summary(done.stdout),
    }


def _type_counts(directory: Path) -> Counter[str]:
    return Counter(e.type for e in read_events(directory / "office" / "state" / "register.sqlite3"))


def _per_ticket(path: Path) -> dict[str, list[str]]:
    ticket_of_app: dict[str, str] = {}
    sequences: dict[str, list[str]] = {}
    for event in read_events(path):
        data = event.data
        if event.type == "application.submitted" and event.app is not None:
            ticket_of_app[event.app] = f"{data['ticket_day']}/{data['ticket']}"
        if event.app is not None:
            key = ticket_of_app.get(event.app)
        elif "ticket" in data and "day" in data:
            key = f"{data['day']}/{data['ticket']}"
        else:
            key = None
        if key is not None:
            # Days differ between runs (the demo runs today): keep the ticket alone.
            sequences.setdefault(key.split("/", 1)[1], []).append(event.type)
    return dict(sorted(sequences.items()))


def _summary(stdout: str) -> list[str]:
    lines = stdout.split("== Ringkasan hari layanan ==", 1)[-1].splitlines()
    kept = []
    for line in lines:
        if (
            not line.strip()
            or _TIMING_LINE.match(line)
            or _LOG_LINE.match(line)
            or line.startswith("buku register")
        ):
            continue
        step = _STEP_LINE.match(line)
        if step:
            line = " · ".join(part.strip() for part in step.groups())  # noqa: PLW2901
        kept.append(line)
    return kept


def _first_difference(old: Any, new: Any, where: str = "") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                return f"{where}/{key}: only in {'new' if key not in old else 'golden'}"
            found = _first_difference(old[key], new[key], f"{where}/{key}")
            if found:
                return found
        return None
    if old != new:
        return f"{where}: golden {old!r}, now {new!r}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--applicants", type=int, default=20)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args()
    result: dict[str, Any] = {"applicants": args.applicants, "seeds": {}}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="ktpel-behaviour-") as tmp:
            result["seeds"][str(seed)] = run_day(seed, args.applicants, Path(tmp))
    if args.write:
        args.write.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    if args.check:
        golden = json.loads(args.check.read_text())
        difference = _first_difference(golden, result)
        print(json.dumps({"same_as_golden": difference is None, "difference": difference}))
        return 0 if difference is None else 1
    if not args.write:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
