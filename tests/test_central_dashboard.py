"""The central office end to end, in Chromium: a simulated fleet (sim/fleet.py) publishes
over a private mosquitto to `appliance central` as it is composed (`CentralOffice`: the
real collector, status keeper, alert keeper, dashboard and command sender, from a config
file). In Lumajang one station is offline, one behind on its register, one has its card
printer in ERROR and one is low on blanks: each raises its alert. Lumajang's officer
signs in, sees them first on the overview, acknowledges one (a note too long refused at
its field first), and watches a fifth station's printer fail live. Jember's officer sees
none of Lumajang's stations, by page or by guessed URL. Screenshots: docs/screens/central-*.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from appliance._secrets import write_secret_file
from appliance.central import CentralOffice, DashboardRole, load_central_config
from appliance.clock import ManualClock
from appliance.register import StationKey
from sim.broker import PrivateMosquitto, fleet_acl
from sim.fleet import Scenario, SimFleet, SimStation
from sim.postgres import free_port
from tests.browser_rig import (
    TV_VIEWPORT,
    chromium,
    new_page,
    screenshot,
    serious_violations,
)
from tests.support import REPO

pytestmark = pytest.mark.timeout(300)

JAKARTA = ZoneInfo("Asia/Jakarta")
PASSWORD = "kata-sandi-rahasia"  # noqa: S105 - a test's
AHEAD_S = 20 * 60
"""The central office's clock runs 20 minutes ahead of the collector's stamps: the
station offline since the fleet published has been so for 20 minutes, the printer in
ERROR as long, past the rules' thresholds (15 and 10 minutes), without waiting."""

LUMAJANG = {
    "kec-tempursari": ("350801", Scenario()),
    "kec-pronojiwo": ("350802", Scenario(offline=True)),
    "kec-candipuro": ("350803", Scenario(behind=40)),
    "kec-pasirian": ("350804", Scenario(device_error="card_printer")),
    "kec-tekung": ("350813", Scenario(blanks=4)),
}
JEMBER = {"kec-kencong": ("350901", Scenario()), "kec-gumukmas": ("350902", Scenario())}


@dataclass
class Rig:
    office: CentralOffice
    fleet: SimFleet
    clock: ManualClock
    url: str


def _config(directory: Path, broker: PrivateMosquitto, password_file: Path) -> Path:
    today = datetime.now(JAKARTA).date()
    open_days = ", ".join(str(today + timedelta(days=n)) for n in range(-1, 2))
    config = directory / "central.toml"
    config.write_text(
        f"""
[central]
id = "pusat-uji"
state_dir = "{directory}"
[broker]
host = "{broker.host}"
port = {broker.port}
username = "central"
password_file = "{password_file}"
[dashboard]
port = 0
[fleet]
# Service hours all day, every day, for the offline rule, whenever the test runs.
opening = "00:00:00"
closing = "23:59:00"
working_days = [1, 2, 3, 4, 5, 6, 7]
open_days = [{open_days}]
[alerts]
interval_s = 1
""",
        encoding="utf-8",
    )
    return config


@contextlib.asynccontextmanager
async def _central(tmp_path: Path) -> AsyncIterator[Rig]:
    stations = [
        SimStation(id=station, district=district, scenario=scenario)
        for station, (district, scenario) in {**LUMAJANG, **JEMBER}.items()
    ]
    today = datetime.now(JAKARTA).date()
    for station in stations:
        station.add_days(
            first=today - timedelta(days=10), last=today - timedelta(days=1), per_day=3
        )
    users = {s.id: f"pw-{s.id}" for s in stations} | {"central": "pw-central"}
    with PrivateMosquitto(directory=tmp_path / "broker", users=users, acl=fleet_acl()) as broker:
        password_file = tmp_path / "keys" / "central.mqtt-password"
        write_secret_file(password_file, users["central"].encode())
        StationKey.generate().save(tmp_path / "keys" / "central.key")
        fleet = SimFleet(
            stations=stations, host=broker.host, port=broker.port, password=users.__getitem__
        )
        fleet.register_keys(tmp_path / "stations")
        fleet.write_fleet_file(tmp_path / "fleet.toml")
        clock = ManualClock()
        clock.set_wall(time.time_ns() + AHEAD_S * 1_000_000_000)
        office = CentralOffice(
            config=load_central_config(_config(tmp_path, broker, password_file)), clock=clock
        )
        for name, scope, role in (
            ("sari", "35.08", DashboardRole.PETUGAS),
            ("joko", "35.09", DashboardRole.PETUGAS),
            ("pusat", "", DashboardRole.PENGAMAT),
        ):
            office.users.add(
                name=name,
                display_name=f"{name.capitalize()} Rahayu",
                role=role,
                scope=scope,
                password=PASSWORD,
            )
        running = asyncio.create_task(office.run(), name="central")
        try:
            async with asyncio.timeout(60):
                await office.dashboard.started.wait()
                await fleet.publish()
                for station in stations:
                    await office.collector.wait_acked(station.id, len(station.published))
            yield Rig(office, fleet, clock, f"http://127.0.0.1:{office.dashboard.port}")
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            office.close()


async def _wait_alerts(rig: Rig, expected: set[tuple[str, str]]) -> None:
    """Until the alert keeper has opened `expected` (station, rule), nothing else in
    Lumajang; the status keeper's full pass is due once the clock has moved."""
    rig.clock.advance(61)
    store = rig.office.alert_keeper._store  # the keeper's own store

    def opened() -> bool:
        return {(a.station, a.rule) for a in store.open_alerts("3508")} == expected

    async with asyncio.timeout(60):
        await rig.office.alert_keeper.wait_until(opened)


async def _sign_in(page: Page, name: str) -> None:
    await page.goto("/masuk")
    await page.get_by_label("Nama pengguna").fill(name)
    await page.get_by_label("Kata sandi").fill(PASSWORD)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page).to_have_url("/ikhtisar")


async def test_a_regency_officer_sees_the_fleet_acknowledges_and_another_sees_none(
    tmp_path: Path,
) -> None:
    async with _central(tmp_path) as rig, chromium() as browser:
        await _wait_alerts(
            rig,
            {
                ("kec-pronojiwo", "offline"),
                ("kec-candipuro", "backlog"),
                ("kec-pasirian", "device_error"),
                ("kec-tekung", "blanks"),
            },
        )
        await _lumajang(rig, browser)
        await _jember(rig, browser)
        await _national(rig, browser)


async def _lumajang(rig: Rig, browser: Browser) -> None:
    context, page = await new_page(browser, rig.url)
    await _sign_in(page, "sari")
    table = page.locator("table.fleet tbody")
    rows = table.locator("tr")
    await expect(rows).to_have_count(5)
    # Problems first: the four with an alert, then the one station serving well.
    order = await rows.evaluate_all("rows => rows.map(r => r.dataset.station)")
    assert set(order[:4]) == {"kec-pronojiwo", "kec-candipuro", "kec-pasirian", "kec-tekung"}
    assert order[4] == "kec-tempursari"
    await expect(page.locator("[data-condition=offline] strong")).to_have_text("1")
    await expect(page.locator("[data-condition=devices] strong")).to_have_text("1")
    await expect(page.locator("[data-condition=blanks] strong")).to_have_text("1")
    await expect(page.locator("[data-condition=behind] strong")).to_have_text("1")
    await expect(table.locator("tr[data-station=kec-pronojiwo] td.c-online")).to_contain_text(
        "Luring sejak"
    )
    await expect(table.locator("tr[data-station=kec-pasirian] td.c-devices")).to_contain_text(
        "card_printer"
    )
    await expect(table.locator("tr[data-station=kec-candipuro] td.c-backlog")).to_contain_text("40")
    await expect(table.locator("tr[data-station=kec-tekung] td.c-blanks")).to_have_class(
        "c-blanks bad"
    )
    assert "Kencong" not in await page.content()
    assert await serious_violations(page) == []
    await screenshot(page, "central-overview")
    await _acknowledge(rig, page)
    await _live_and_english(rig, page)
    await context.close()

    # The operations room's TV.
    context, page = await new_page(browser, rig.url, viewport=TV_VIEWPORT)
    await _sign_in(page, "sari")
    await expect(page.locator("table.fleet tbody tr")).to_have_count(5)
    await screenshot(page, "central-overview-tv")
    await context.close()


async def _acknowledge(rig: Rig, page: Page) -> None:
    await page.get_by_role("link", name="Peringatan", exact=True).click()
    await expect(page).to_have_url("/peringatan")
    items = page.locator(".alert-list > li")
    await expect(items).to_have_count(4)
    printer = page.locator("li[data-station=kec-pasirian]")
    await printer.get_by_label("Catatan (boleh kosong)").fill("x" * 501)
    async with page.expect_response(lambda r: r.url.endswith("/tangani")) as refused:
        await printer.get_by_role("button", name="Tangani").click()
    assert (await refused.value).status == 422
    printer = page.locator("li[data-station=kec-pasirian]")
    await expect(printer.locator(".error")).to_have_text("Catatan paling banyak 500 karakter.")
    alerts = rig.office.alert_keeper._store  # the keeper's own store
    assert all(a.acknowledged_at is None for a in alerts.open_alerts("3508"))
    await screenshot(page, "central-alerts-refused")
    await printer.get_by_label("Catatan (boleh kosong)").fill(
        "Teknisi dikirim, pita printer diganti"
    )
    await printer.get_by_role("button", name="Tangani").click()
    await expect(page.locator("#alerts .success")).to_contain_text("ditangani oleh Anda")
    await expect(page.locator("li[data-station=kec-pasirian] .taken-by")).to_contain_text("sari")
    taken = [a for a in alerts.open_alerts("3508") if a.acknowledged_at]
    assert [(a.station, a.acknowledged_by) for a in taken] == [("kec-pasirian", "sari")]
    assert await serious_violations(page) == []
    await screenshot(page, "central-alerts")


async def _live_and_english(rig: Rig, page: Page) -> None:
    """The well station's card printer fails: the overview shows it by itself."""
    table = page.locator("table.fleet tbody")
    # Live: the well station's card printer fails; the overview shows it by itself.
    await page.get_by_role("link", name="Ikhtisar", exact=True).click()
    well = next(s for s in rig.fleet.stations if s.id == "kec-tempursari")
    await rig.fleet.device(
        well,
        "card_printer",
        {
            "state": "ERROR",
            "code": "ribbon_out",
            "reason": {"id": "Pita habis", "en": "Ribbon out"},
        },
    )
    await expect(table.locator("tr[data-station=kec-tempursari] td.c-devices")).to_contain_text(
        "card_printer", timeout=30_000
    )
    await expect(page.locator("[data-condition=devices] strong")).to_have_text("2")

    # English is one click away.
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="Stations overview")).to_be_visible()
    await screenshot(page, "central-overview-en")
    await page.get_by_role("link", name="Bahasa Indonesia").click()
    await expect(page.get_by_role("heading", name="Ikhtisar stasiun")).to_be_visible()


async def _jember(rig: Rig, browser: Browser) -> None:
    context, page = await new_page(browser, rig.url)
    await _sign_in(page, "joko")
    rows = page.locator("table.fleet tbody tr")
    await expect(rows).to_have_count(2)
    html = await page.content()
    for station, (district, _) in LUMAJANG.items():
        assert station not in html
        assert district not in html
    await expect(page.locator("[data-condition=critical] strong")).to_have_text("0")
    await screenshot(page, "central-overview-other-regency")
    await page.goto("/peringatan")
    await expect(page.locator("#alerts")).to_contain_text("Tidak ada peringatan terbuka")
    for guessed in (
        "/stasiun/kec-pasirian",
        "/ikhtisar?kabupaten=3508",
        "/peringatan?stasiun=kec-pasirian",
    ):
        answer = await page.goto(guessed)
        assert answer is not None
        assert answer.status == 404, guessed
        assert "pasirian" not in (await page.locator("main").inner_text()).lower()
    await context.close()


async def test_appliance_central_runs_every_part_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`appliance central --config F`: the collector, keepers and dashboard in one process,
    the dashboard answering (its sign-in page, /metrics), and a clean stop on SIGTERM."""
    users = {"central": "pw-central"}
    with PrivateMosquitto(directory=tmp_path / "broker", users=users, acl=fleet_acl()) as broker:
        password_file = tmp_path / "keys" / "central.mqtt-password"
        write_secret_file(password_file, users["central"].encode())
        StationKey.generate().save(tmp_path / "keys" / "central.key")
        config = _config(tmp_path, broker, password_file)
        port = free_port()
        config.write_text(config.read_text().replace("port = 0", f"port = {port}"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "appliance",
            "central",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=REPO,
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(60):
                while b"api_listening" not in (line := await process.stdout.readline()):
                    assert line, "appliance central ended before its dashboard listened"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert "Masuk ke dasbor" in (await client.get("/masuk")).text
                metrics = await client.get("/metrics")
                assert metrics.status_code == 200
                assert "ktpel_collector" in metrics.text
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                rest = await process.stdout.read()
                assert await process.wait() == 0, rest.decode()
            assert b"central_stopped" in rest
            assert b"Traceback" not in rest
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _national(rig: Rig, browser: Browser) -> None:
    """The national operations centre: every station, filtered to a regency by the form."""
    context, page = await new_page(browser, rig.url)
    await _sign_in(page, "pusat")
    rows = page.locator("table.fleet tbody tr")
    await expect(rows).to_have_count(7)
    await expect(page.get_by_role("link", name="Pronojiwo")).to_be_visible()
    assert await serious_violations(page) == []
    await screenshot(page, "central-overview-national")
    await page.get_by_label("Kabupaten/kota").select_option("3509")
    await page.get_by_role("button", name="Tampilkan").click()
    await expect(page).to_have_url("/ikhtisar?provinsi=&kabupaten=3509&q=")
    await expect(rows).to_have_count(2)
    await expect(page.locator("[data-condition=offline] strong")).to_have_text("0")
    # A viewer reads the alerts (Lumajang's four and Tempursari's printer), and has no
    # form to take one.
    await page.goto("/peringatan")
    await expect(page.locator(".alert-list > li")).to_have_count(5)
    await expect(page.get_by_role("button", name="Tangani")).to_have_count(0)
    await context.close()
