"""`appliance demo`, the README's main command, end to end: simulator, daemon, officers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from appliance.config import load_config
from appliance.demo import _summary
from appliance.domain import SOP_STEPS, Step
from appliance.register import StationKey, read_events, verify_register
from sim.day import DurationModel, plan_day
from sim.day_report import DayReport, StepFigures
from sim.pcscd import SOCKET_VARIABLE


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory: the demo's pcscd socket lies deep in it, and a UNIX socket's
    path may not exceed 107 bytes (pytest's own, under an xdist worker, is too long)."""
    with tempfile.TemporaryDirectory(prefix="ktpel-demo-") as directory:
        yield Path(directory)


def test_the_demo_day_runs_and_its_summary_matches_the_register(short_dir: Path) -> None:
    # Its own process, as a person runs it: the demo starts a pcscd of its own for the
    # simulated readers, and a process talks to one pcscd only.
    env = {name: value for name, value in os.environ.items() if name != SOCKET_VARIABLE}
    demo = subprocess.run(
        [
            *(sys.executable, "-m", "appliance", "--lang", "en", "demo", "--instant"),
            *("--applicants", "8", "--seed", "5", "--dir", str(short_dir)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    text = demo.stdout
    assert "register verification: intact" in text

    config = load_config(short_dir / "office" / "station.toml")
    key = StationKey.load(config.station_key_path)
    assert verify_register(config.register_path, key.public_key).ok
    events = list(read_events(config.register_path))

    def count(kind: str) -> int:
        return sum(event.type == kind for event in events)

    assert count("application.submitted") == 8
    assert f"applicants: {count('application.submitted')}" in text
    assert f"KTP-el handed over: {count('application.completed')}" in text
    assert count("application.completed") + count("application.returned") + count(
        "suket.issued"
    ) == count("application.submitted"), "every applicant left, one way or other"
    received = sum(e.data["count"] for e in events if e.type == "blank.received")
    issued, spoiled = count("blank.issued"), count("blank.spoiled")
    assert issued == count("application.completed")
    assert f"received {received}, issued {issued}, spoiled {spoiled}" in text
    assert "the machinery alone: 8 applicants" in text
    for spec in SOP_STEPS:  # each step by its short name, whole
        assert f"\n  {spec.short.en} " in text, spec.short.en
    assert (short_dir / "register.csv").read_text().startswith("No,")
    # The station's uplink shipped the whole register to the demo's central office.
    assert (
        f"central office: {len(events)} events received over MQTT, "
        "chain and signatures intact, 0 flags"
    ) in text


def _report_with(failures: dict[Step, tuple[tuple[str, int], ...]]) -> DayReport:
    return DayReport(
        applications=3,
        steps=[
            StepFigures(
                step=spec.step,
                sop_minutes=spec.minutes,
                finished=3,
                mean_minutes=1.0,
                p95_minutes=1.5,
                breaches=0,
                failures=sum(n for _, n in failures.get(spec.step, ())),
                failure_codes=failures.get(spec.step, ()),
            )
            for spec in SOP_STEPS
        ],
    )


def test_the_summary_says_what_failed_at_each_step() -> None:
    plan = plan_day(applicants=3, seed=1, today=date(2025, 11, 24), model=DurationModel())
    report = _report_with(
        {
            Step.BIOMETRIC: (("budget_exceeded", 2), ("not_responding", 1)),
            Step.ENCODE_PRINT: (("card_jam", 1),),
        }
    )
    lines = _summary(plan, report, instant=True)
    indonesian = [line.in_language("id") for line in lines]
    english = [line.in_language("en") for line in lines]
    assert (
        "  perekaman biometrik gagal 3x: waktu habis (2), perangkat tidak menjawab (1)"
        in indonesian
    )
    assert "  encode & cetak gagal 1x: kartu macet di printer kartu (1)" in indonesian
    assert "  biometric recording failed 3x: out of time (2), device does not answer (1)" in english
    assert "  encode & print failed 1x: a card is jammed in the card printer (1)" in english
    # The row keeps the count; a step without failures gets no line of its own.
    assert any(
        line.startswith("  Perekaman biometrik ") and line.endswith("· 3") for line in indonesian
    )
    assert not any("aktivasi gagal" in line for line in indonesian)


def test_an_unknown_failure_code_is_shown_as_it_is() -> None:
    plan = plan_day(applicants=3, seed=1, today=date(2025, 11, 24), model=DurationModel())
    lines = _summary(plan, _report_with({Step.ACTIVATE: (("records_timeout", 1),)}), instant=True)
    assert "  aktivasi gagal 1x: records_timeout (1)" in [line.id for line in lines]


def test_the_demo_can_leave_the_station_running_for_a_browser(short_dir: Path) -> None:
    """`--serve`: after the summary the station stays up, its screens' URLs and the demo
    PINs printed, and the central office's dashboard with a demo login, which signs in
    and shows the station; Ctrl-C (SIGINT) stops the station, the central office and the
    simulator, exit 0."""
    env = {name: value for name, value in os.environ.items() if name != SOCKET_VARIABLE}
    demo = subprocess.Popen(
        [
            *(sys.executable, "-m", "appliance", "--lang", "en", "demo", "--instant"),
            *("--applicants", "2", "--dir", str(short_dir), "--serve"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert demo.stdout is not None
    screens = {
        "console": "officers' console:",
        "board": "waiting-room board:",
        "kiosk": "ticket kiosk",
        "dashboard": "central office dashboard:",
    }
    urls: dict[str, str] = {}
    said: list[str] = []
    login: re.Match[str] | None = None
    try:
        for line in demo.stdout:  # ends when the demo does: no wait of our own
            said.append(line)
            for screen, words in screens.items():
                if words in line and "http://" in line:
                    urls[screen] = line.split(": ", 1)[1].strip()
            login = re.search(r"user (\S+), password (\S+)", line)
            if login:
                break
        assert set(urls) == set(screens), "".join(said)
        assert login is not None
        with httpx.Client(trust_env=False, timeout=10) as http:
            assert http.get(urls["console"]).status_code == 200
        dashboard = urls["dashboard"].removesuffix("/masuk")
        with httpx.Client(base_url=dashboard, trust_env=False, timeout=10) as http:
            form = http.get("/masuk")
            assert form.status_code == 200
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            signed_in = http.post(
                "/masuk",
                data={"name": login[1], "password": login[2], "csrf": csrf[1]},
            )
            assert signed_in.status_code == 303, signed_in.text
            station = http.get("/stasiun/lumajang-sim")
            assert station.status_code == 200
            assert "Kecamatan Lumajang" in station.text
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0
    assert "Station stopped." in rest
