"""A station's report recomputed at the centre equals the station's own `appliance report`:
months of an office synthesised through the real register (sim/history.py), shipped by
the station's real uplink over a private mosquitto to a real Collector, then the same
period's JSON from the station's command and from the station page of the dashboard (a
signed-in viewer), compared whole: no field differs (the document has no time of its
making; what the centre read, the station's events up to its head, is said in headers).
The page's HTML is the reports' own page, its PDF the reports' PDF; a bad period is
refused at the field with the period parser's words and a stable code."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from appliance.central import Database, load_central_config
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._scope import DashboardRole
from appliance.central._station_reports import build_station_report
from appliance.cli import run
from appliance.clock import ManualClock
from appliance.oversight import OversightError, Period
from appliance.reports import TargetsSection, report_document
from sim.history import ZONE
from sim.postgres import PrivatePostgres
from tests.station_page_rig import (
    DISTRICT,
    OFFICE,
    STATION,
    Dashboard,
    ShippedStation,
    dashboard,
    ship_history,
)
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


@pytest.fixture
def centre(shipped: ShippedStation, tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard over the collector's store the station's events went to, the
    station registered in its regency, a viewer of that regency signed in."""
    fleet = Fleet(stations=(FleetStation(STATION, DISTRICT, "Kecamatan Sukodono", ZONE),))
    with opened_store(shipped.store_url) as store:
        database = Database.open(f"sqlite:{tmp_path}/dashboard.sqlite3")
        site = dashboard(store=store, database=database, fleet=fleet, clock=ManualClock())
        site.add_user("dinas", DashboardRole.PENGAMAT, DISTRICT[:4])
        site.add_user("jember", DashboardRole.PENGAMAT, "3509")
        yield site
        database.close()


@pytest.mark.parametrize("period", ["2026-11", "2026-Q4"])
async def test_the_station_page_s_report_is_the_station_s_own(
    shipped: ShippedStation, centre: Dashboard, period: str
) -> None:
    at_station = station_report_json(shipped.config, period)
    client, _ = centre.client("dinas")
    async with client:
        answer = await client.get(
            f"/stasiun/{STATION}/laporan", params={"periode": period, "format": "json"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["X-Ktpel-Events-Upto"] == str(shipped.head)
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.json() == at_station


async def test_the_report_s_page_and_pdf_are_the_reports_own(
    shipped: ShippedStation, centre: Dashboard
) -> None:
    client, _ = centre.client("dinas")
    async with client:
        page = await client.get(f"/stasiun/{STATION}", params={"periode": "2026-11"})
        html = await client.get(
            f"/stasiun/{STATION}/laporan", params={"periode": "2026-11", "format": "html"}
        )
        pdf = await client.get(
            f"/stasiun/{STATION}/laporan", params={"periode": "2026-11", "format": "pdf"}
        )
        client.cookies.set("ktpel_bahasa", "en")
        english = await client.get(
            f"/stasiun/{STATION}/laporan", params={"periode": "2026-11", "format": "html"}
        )
    assert page.status_code == 200
    # The page frames the report and offers its downloads.
    assert 'class="report-frame"' in page.text
    assert "periode=2026-11&amp;format=pdf" in page.text
    assert html.status_code == 200
    assert html.text.startswith("<!doctype html>") or html.text.lower().startswith("<!doctype")
    assert "<svg" in html.text  # the reports' charts, inline
    assert OFFICE not in html.text  # the centre's letterhead: the fleet's name of it
    assert "Kecamatan Sukodono" in html.text
    assert 'lang="en"' in english.text
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize("where", ["page", "json"])
async def test_a_bad_period_is_refused_with_the_parser_s_words(
    centre: Dashboard, where: str
) -> None:
    period = "2026-13" if where == "page" else "2026-Q5"
    client, _ = centre.client("dinas")
    async with client:
        if where == "page":
            answer = await client.get(f"/stasiun/{STATION}", params={"periode": period})
        else:
            answer = await client.get(
                f"/stasiun/{STATION}/laporan", params={"periode": period, "format": "json"}
            )
    assert answer.status_code == 422
    with pytest.raises(OversightError) as parser:
        Period.parse(period)
    assert str(escape(parser.value.text.id)) in answer.text
    if where == "json":
        assert answer.headers["X-Error-Code"] == parser.value.code == "period_unparsable"
    else:
        assert 'data-code="period_unparsable"' in answer.text
        assert 'aria-invalid="true"' in answer.text
        assert "report-frame" not in answer.text  # no report for a period that is not one


async def test_another_regency_s_viewer_gets_no_report(centre: Dashboard) -> None:
    client, _ = centre.client("jember")
    async with client:
        answer = await client.get(
            f"/stasiun/{STATION}/laporan", params={"periode": "2026-11", "format": "json"}
        )
    assert answer.status_code == 404
    assert "activity" not in answer.text


async def test_the_centre_s_targets_are_its_config_s(
    shipped: ShippedStation, tmp_path: Path
) -> None:
    """`[targets]` in the central config is what the centre measures against; with the
    station's own `[targets]` the same, the two reports are equal again."""
    targets = "[targets]\nsteps_within_sop_percent = 50\nikm = 80\n"
    central = tmp_path / "central.toml"
    central.write_text(
        f'[central]\nid = "pusat"\nstate_dir = "{tmp_path}"\n[broker]\nhost = "127.0.0.1"\n'
        + targets,
        encoding="utf-8",
    )
    config = load_central_config(central)
    assert config.targets.steps_within_sop_percent == 50
    station_config = tmp_path / "station.toml"
    station_config.write_text(shipped.config.read_text() + targets, encoding="utf-8")
    fleet = Fleet(stations=(FleetStation(STATION, DISTRICT, "Kecamatan Sukodono", ZONE),))
    with opened_store(shipped.store_url) as store:
        database = Database.open(f"sqlite:{tmp_path}/dashboard.sqlite3")
        site = dashboard(
            store=store, database=database, fleet=fleet, clock=ManualClock(), targets=config.targets
        )
        site.add_user("dinas", DashboardRole.PENGAMAT, DISTRICT[:4])
        client, _ = site.client("dinas")
        async with client:
            answer = await client.get(
                f"/stasiun/{STATION}/laporan", params={"periode": "2026-Q4", "format": "json"}
            )
        database.close()
    document = answer.json()
    assert document["targets"]["steps_within_sop_percent"] == 50
    assert document["targets"]["ikm"] == 80
    assert document == station_report_json(station_config, "2026-Q4")
    assert document != station_report_json(shipped.config, "2026-Q4")


def test_the_centre_s_report_from_postgresql_is_the_station_s_own(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    """The same through a collector storing into PostgreSQL (events partitioned by month,
    read back in seq order across the partitions)."""
    url = postgres.fresh_database(f"reports_{uuid.uuid4().hex[:12]}")
    shipped = ship_history(
        tmp_path, first=date(2026, 9, 1), last=date(2026, 11, 30), per_day=3, store_url=url
    )
    with opened_store(url) as store:
        built = build_station_report(
            store,
            station=STATION,
            office=OFFICE,
            place=None,
            period=Period.parse("2026-Q4"),
            zone=ZONE,
            targets=TargetsSection(),
        )
    assert built.upto == shipped.head
    assert report_document(built.report) == station_report_json(shipped.config, "2026-Q4")
