"""A station's report recomputed at the centre equals the station's own `appliance report`:
months of an office synthesised through the real register (sim/history.py), shipped by
the station's real uplink over a private mosquitto to a real Collector, then the same
period's JSON from the station's command and from the centre, compared whole."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from appliance.central._station_reports import build_station_report
from appliance.cli import run
from appliance.oversight import Period
from appliance.reports import TargetsSection, report_document
from sim.history import ZONE
from tests.station_page_rig import OFFICE, STATION, ShippedStation, ship_history
from tests.sync_rig import opened_store

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> ShippedStation:
    return ship_history(
        tmp_path_factory.mktemp("shipped"),
        first=date(2026, 8, 1),
        last=date(2026, 11, 30),
        per_day=4,
    )


def station_report_json(config: Path, period: str) -> dict[str, Any]:
    """What the station's own command prints: `appliance report --format json`."""
    out = io.StringIO()
    code = run(
        ["report", "--config", str(config), "--period", period, "--format", "json"], stdout=out
    )
    assert code == 0
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


@pytest.mark.parametrize("period", ["2026-11", "2026-Q4", "2026"])
def test_the_centre_recomputes_the_station_s_own_report(
    shipped: ShippedStation, period: str
) -> None:
    at_station = station_report_json(shipped.config, period)
    with opened_store(shipped.store_url) as store:
        built = build_station_report(
            store,
            station=STATION,
            office=OFFICE,
            place=None,
            period=Period.parse(period),
            zone=ZONE,
            targets=TargetsSection(),
        )
    assert built.upto == shipped.head
    assert report_document(built.report) == at_station
    assert at_station["activity"]["handed_over"] > 0
