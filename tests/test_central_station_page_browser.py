"""A station's page in Chromium (Playwright, Debian's browser): a station with months of
register (its signed events ingested as the collector stores them), a week of state, device and
flag records, a doctor report; a technician opens the page at 1366x768, reads it (the
screenshot docs/screens/central-station.png), asks for a diagnosis and sees the answer
appear by itself when the station's report arrives, then reads November's report framed
below (docs/screens/central-station-report.png). axe-core finds nothing serious."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import expect

from appliance._text import Text
from appliance.central import Database
from appliance.central._alerts import Severity
from appliance.central._commands import CommandSender
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._scope import DashboardRole
from appliance.central._status_keeper import StatusKeeper
from appliance.central.web._auth import SESSION_COOKIE
from appliance.clock import ManualClock
from appliance.sync import BrokerSection, CollectorStore, Flag
from sim.fleet import Scenario, SimStation
from sim.history import ZONE
from tests.browser_rig import chromium, new_page, screenshot, serious_violations
from tests.station_page_rig import DISTRICT, STATION, Dashboard, dashboard, stored_history
from tests.sync_rig import CENTRAL_USER, opened_store

pytestmark = pytest.mark.timeout(300)

# Now, to the minute: the collector stamps what it stores with its own wall clock.
NOW = datetime.now(ZONE).replace(second=0, microsecond=0)


def _at(delta: timedelta) -> str:
    return (NOW - delta).astimezone(UTC).isoformat()


def _finding(
    check: str, level: str, id_text: str, en_text: str, advice: str | None = None
) -> dict[str, Any]:
    return {
        "check": check,
        "level": level,
        "text": {"id": id_text, "en": en_text},
        "advice": None if advice is None else {"id": advice, "en": advice},
        "details": {},
    }


def _doctor(request: str | None, *, jammed: bool) -> dict[str, Any]:
    printer = (
        _finding(
            "device:card_printer",
            "problem",
            "Printer kartu: kartu macet di jalur cetak",
            "Card printer: a card is jammed",
            "Buka tutup printer, keluarkan kartu, tutup kembali.",
        )
        if jammed
        else _finding("device:card_printer", "ok", "Printer kartu siap", "Card printer ready")
    )
    return {
        "station": STATION,
        "request": request,
        "findings": [
            _finding("config", "ok", "Konfigurasi terbaca dan sah", "Configuration valid"),
            _finding(
                "register", "ok", "Register utuh: rantai dan tanda tangan sah", "Register intact"
            ),
            _finding("keys", "ok", "Kunci stasiun terpasang, izin 0600", "Station key in place"),
            printer,
            _finding(
                "device:fingerprint", "ok", "Pemindai sidik jari siap", "Fingerprint scanner ready"
            ),
            _finding(
                "disk",
                "warning",
                "Ruang disk tersisa 11% (cadangan 256 MiB masih utuh)",
                "Disk 11% free",
                "Arsipkan log lama atau tambah kapasitas disk.",
            ),
            _finding("broker", "ok", "Terhubung ke broker kantor pusat", "Connected to the broker"),
            _finding("clock", "ok", "Jam tersinkron (NTP)", "Clock synchronised"),
        ],
    }


def _record_week(store: CollectorStore) -> None:
    state = {"online": True, "bd_seq": 4, "version": "1.4.2"}
    store.record_state(
        STATION, {**state, "bd_seq": 3, "version": "1.4.1"}, at=_at(timedelta(days=6, hours=2))
    )
    store.record_state(STATION, {"online": False, "bd_seq": 3}, at=_at(timedelta(days=2, hours=20)))
    store.record_state(STATION, state, at=_at(timedelta(days=2, hours=19, minutes=12)))
    ready = {"state": "READY", "code": None, "reason": None}
    for name in ("card_printer", "card_encoder", "fingerprint", "ticket_printer"):
        store.record_device(STATION, name, ready, at=_at(timedelta(days=2, hours=19)))
    store.record_device(
        STATION,
        "ticket_printer",
        {
            "state": "NOT_READY",
            "code": "paper_out",
            "reason": {"id": "Kertas tiket habis", "en": "Out of paper"},
        },
        at=_at(timedelta(days=1, hours=3)),
    )
    store.record_device(
        STATION, "ticket_printer", ready, at=_at(timedelta(days=1, hours=2, minutes=40))
    )
    store.record_device(
        STATION,
        "card_printer",
        {
            "state": "ERROR",
            "code": "card_jam",
            "reason": {"id": "Kartu macet di printer kartu", "en": "Card jammed"},
        },
        at=_at(timedelta(hours=1, minutes=35)),
    )
    store.flag(
        Flag(
            STATION,
            "bad_signature",
            5121,
            "event 5121: signature does not verify",
            _at(timedelta(hours=20)),
        )
    )
    store.record_doctor(
        STATION, _doctor("earlier", jammed=False), at=_at(timedelta(days=1, hours=5))
    )
    telemetry = SimStation(
        id=STATION,
        district=DISTRICT,
        scenario=Scenario(device_error="card_printer", blanks=412, version="1.4.2"),
    ).telemetry(NOW)
    store.record_telemetry(STATION, telemetry, at=_at(timedelta(minutes=1)))


@contextlib.asynccontextmanager
async def _served(site: Dashboard) -> AsyncIterator[str]:
    """The app on a loopback port; the socket listens before uvicorn starts, so the
    browser's first request waits in its backlog rather than being refused."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(site.app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[listening]), name="dashboard")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listening.close()


async def test_a_technician_reads_a_station_s_page_and_asks_for_a_diagnosis(tmp_path: Path) -> None:
    fleet = Fleet(stations=(FleetStation(STATION, DISTRICT, "Kecamatan Sukodono", ZONE),))
    clock = ManualClock(wall_ns=int(NOW.timestamp() * 1e9))
    with opened_store(f"sqlite:{tmp_path}/collector.sqlite3") as store:
        station = stored_history(
            tmp_path / "station", store, first=date(2026, 8, 1), last=date(2026, 11, 30), per_day=4
        )
        _record_week(store)
        broker = station.broker()
        broker.start()
        database = Database.open(f"sqlite:{tmp_path}/dashboard.sqlite3")
        StatusKeeper(store=store, database=database, fleet=fleet, clock=clock).refresh(NOW)
        sender = CommandSender(
            broker=BrokerSection(
                host=broker.host,
                port=broker.port,
                username=CENTRAL_USER,
                password_file=station.collector_dir / "keys" / "mqtt.password",
            ),
            resolve=lambda path: path,
            signing_key=station.central_key,
            database=database,
            client_id="browser-commands",
            clock=clock,
        )
        site = dashboard(store=store, database=database, fleet=fleet, clock=clock, commands=sender)
        site.context.alerts.open(
            station=STATION,
            district=DISTRICT,
            rule="device_error",
            severity=Severity.KRITIS,
            text=Text(
                "card_printer: ERROR sejak 1 jam 35 menit", "card_printer: ERROR for 1 h 35 min"
            ),
            at=NOW - timedelta(minutes=25),
        )
        site.add_user("wahyu", DashboardRole.TEKNISI, DISTRICT[:4])
        user = site.context.users.get("wahyu")
        assert user is not None
        token, _ = site.context.sessions.open(user)
        try:
            async with _served(site) as base, chromium() as browser:
                context, page = await new_page(browser, base)
                await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
                await page.goto(f"/stasiun/{STATION}")
                await expect(page.get_by_role("heading", name="Kecamatan Sukodono")).to_be_visible()
                await expect(page.locator(".timeline .tl-entry").first).to_contain_text(
                    "card_printer: Bermasalah"
                )
                await screenshot(page, "central-station")
                assert await serious_violations(page) == []

                await page.get_by_role("button", name="Minta diagnosis").click()
                await expect(page.locator(".waiting")).to_contain_text("Menunggu laporan")
                (record,) = sender.log.recent(STATION)
                assert record.by_user == "wahyu"
                # The station's answer reaches the collector; the part shows it by itself.
                store.record_doctor(
                    STATION, _doctor(record.request, jammed=True), at=_at(timedelta(seconds=-30))
                )
                await expect(page.locator(".waiting")).to_have_count(0, timeout=15_000)
                await expect(page.locator(".doctor-checks .doctor-check").first).to_contain_text(
                    "kartu macet"
                )
                await page.locator("#doctor").evaluate("part => part.scrollIntoView()")
                await screenshot(page, "central-station-diagnosis")

                await page.get_by_label("Periode").fill("2026-11")
                await page.get_by_role("button", name="Tampilkan").click()
                frame = page.frame_locator(".report-frame")
                await expect(frame.locator("h1").first).to_be_visible(timeout=30_000)
                await page.locator("#laporan").scroll_into_view_if_needed()
                await screenshot(page, "central-station-report")
                await context.close()
        finally:
            await sender.close()
            database.close()
            broker.stop()
