"""`appliance demo`, the README's main command, end to end: simulator, daemon, officers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from appliance.config import load_config
from appliance.register import StationKey, read_events, verify_register
from sim.pcscd import SOCKET_VARIABLE


def test_the_demo_day_runs_and_its_summary_matches_the_register(tmp_path: Path) -> None:
    # Its own process, as a person runs it: the demo starts a pcscd of its own for the
    # simulated readers, and a process talks to one pcscd only.
    env = {name: value for name, value in os.environ.items() if name != SOCKET_VARIABLE}
    demo = subprocess.run(
        [
            *(sys.executable, "-m", "appliance", "--lang", "en", "demo", "--instant"),
            *("--applicants", "8", "--seed", "5", "--dir", str(tmp_path)),
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

    config = load_config(tmp_path / "office" / "station.toml")
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
    assert (tmp_path / "register.csv").read_text().startswith("No,")
    # The station's uplink shipped the whole register to the demo's central office.
    assert (
        f"central office: {len(events)} events received over MQTT, "
        "chain and signatures intact, 0 flags"
    ) in text
