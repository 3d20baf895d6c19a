"""`appliance demo`, the README's main command, end to end."""

from __future__ import annotations

import io
from pathlib import Path

from appliance.cli import run
from appliance.config import load_config
from appliance.register import StationKey, read_events, verify_register


def test_the_demo_day_runs_and_its_summary_matches_the_register(tmp_path: Path) -> None:
    out = io.StringIO()
    assert (
        run(["--lang", "en", "demo", "--dir", str(tmp_path), "--applicants", "25"], stdout=out) == 0
    )
    text = out.getvalue()
    assert "register verification: intact" in text
    config = load_config(tmp_path / "station.toml")
    key = StationKey.load(config.station_key_path)
    assert verify_register(config.register_path, key.public_key).ok
    events = list(read_events(config.register_path))
    submitted = sum(e.type == "application.submitted" for e in events)
    completed = sum(e.type == "application.completed" for e in events)
    returned = sum(e.type == "application.returned" for e in events)
    assert submitted == 25
    assert f"KTP-el handed over: {completed}" in text
    assert completed + returned <= submitted
    issued = sum(e.type == "blank.issued" for e in events)
    spoiled = sum(e.type == "blank.spoiled" for e in events)
    received = sum(e.data["count"] for e in events if e.type == "blank.received")
    assert f"received {received}, issued {issued}, spoiled {spoiled}" in text
    assert issued == completed
    assert (tmp_path / "register.csv").read_text().startswith("No,")
