"""A station's page on the central dashboard, through the app in process (SQLite and a
throwaway PostgreSQL): its header from the fleet and the status row, the week's timeline
of state, devices and flags newest first, the device history, the doctor's report worded
check by check; scope (another regency's station is 404, as an unknown one); the
technician's "Minta diagnosis" as a signed cmd/doctor over a private mosquitto, recorded
with who sent it, the report appearing when the station answers; viewers may not ask,
and a form without its CSRF token changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from appliance._secrets import write_secret_file
from appliance._text import Text
from appliance.central import Database
from appliance.central._alerts import Severity
from appliance.central._commands import CommandSender
from appliance.central._fleet import Fleet, FleetStation
from appliance.central._scope import DashboardRole
from appliance.central._station_page import doctor_view
from appliance.central._status_keeper import StatusKeeper
from appliance.clock import ManualClock
from appliance.register import StationKey
from appliance.sync import BrokerSection, CollectorStore, Flag, StationTopics, open_store
from sim.broker import PrivateMosquitto, fleet_acl
from sim.postgres import PrivatePostgres
from tests.station_page_rig import Dashboard, dashboard

pytestmark = pytest.mark.timeout(120)

ZONE = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=ZONE)
HERE = "kec-sukodono"  # Lumajang's
OTHER = "kec-kaliwates"  # Jember's
STRAY = "kec-tanpa-berkas"  # a key, but not in the fleet file
CENTRAL = "central"


def _at(delta: timedelta) -> str:
    return (NOW - delta).astimezone(UTC).isoformat()


def _doctor(request: str | None, *, printer_level: str = "problem") -> dict[str, Any]:
    return {
        "station": HERE,
        "level": printer_level,
        "exit_code": 1,
        "request": request,
        "at": _at(timedelta(0)),
        "findings": [
            {
                "check": "config",
                "level": "ok",
                "text": {"id": "Konfigurasi terbaca", "en": "Config reads"},
                "advice": None,
                "details": {},
            },
            {
                "check": "device:card_printer",
                "level": printer_level,
                "text": {"id": "Printer kartu macet", "en": "Card printer jammed"},
                "advice": {"id": "Buka tutup, bebaskan kartu", "en": "Open the cover"},
                "details": {},
            },
            {
                "check": "disk",
                "level": "warning",
                "text": {"id": "Ruang disk tinggal 9%", "en": "Disk 9% free"},
                "advice": None,
                "details": {},
            },
        ],
    }


def _record_history(store: CollectorStore) -> None:
    """A week of one station's life as the collector recorded it, and another's."""
    store.record_state(
        HERE, {"online": True, "bd_seq": 1, "version": "1.3.0"}, at=_at(timedelta(days=9))
    )
    store.record_state(HERE, {"online": False, "bd_seq": 1}, at=_at(timedelta(days=3)))
    store.record_state(
        HERE, {"online": True, "bd_seq": 2, "version": "1.4.0"}, at=_at(timedelta(days=3, hours=-2))
    )
    for name in ("card_printer", "ticket_printer"):
        store.record_device(
            HERE, name, {"state": "READY", "code": None, "reason": None}, at=_at(timedelta(days=2))
        )
    store.record_device(
        HERE,
        "card_printer",
        {
            "state": "ERROR",
            "code": "card_jam",
            "reason": {"id": "Kartu macet di printer kartu", "en": "A card is jammed"},
        },
        at=_at(timedelta(hours=5)),
    )
    store.flag(
        Flag(HERE, "bad_signature", 41, "signature does not verify", _at(timedelta(hours=1)))
    )
    store.flag(Flag(HERE, "chain_break", 7, "an old one", _at(timedelta(days=20))))
    store.record_doctor(
        HERE, _doctor("old-request", printer_level="warning"), at=_at(timedelta(days=1))
    )
    store.record_state(
        OTHER, {"online": True, "bd_seq": 1, "version": "1.4.0"}, at=_at(timedelta(hours=2))
    )
    store.record_state(STRAY, {"online": True, "bd_seq": 1}, at=_at(timedelta(hours=1)))


@dataclass
class Site:
    dashboard: Dashboard
    store: CollectorStore
    clock: ManualClock


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path}/collector.sqlite3", f"sqlite:{tmp_path}/dashboard.sqlite3"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    url = server.fresh_database(f"page_{uuid.uuid4().hex[:12]}")
    return url, url


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    users = {CENTRAL: "central-secret", HERE: "station-secret"}
    with PrivateMosquitto(directory=tmp_path / "broker", users=users, acl=fleet_acl()) as running:
        yield running


@pytest.fixture
async def site(
    urls: tuple[str, str], tmp_path: Path, broker: PrivateMosquitto
) -> AsyncIterator[Site]:
    store_url, database_url = urls
    clock = ManualClock(wall_ns=int(NOW.timestamp() * 1e9))
    store = open_store(store_url)
    database = Database.open(database_url)
    fleet = Fleet(
        stations=(
            FleetStation(HERE, "350815", "Kecamatan Sukodono", ZONE),
            FleetStation(OTHER, "350919", "Kecamatan Kaliwates", ZONE),
        )
    )
    _record_history(store)
    StatusKeeper(store=store, database=database, fleet=fleet, clock=clock).refresh(NOW)
    write_secret_file(tmp_path / "central.password", b"central-secret")
    sender = CommandSender(
        broker=BrokerSection(
            host=broker.host,
            port=broker.port,
            username=CENTRAL,
            password_file=tmp_path / "central.password",
        ),
        resolve=lambda path: path,
        signing_key=StationKey.generate(),
        database=database,
        client_id="test-commands",
        clock=clock,
    )
    site = Site(
        dashboard(store=store, database=database, fleet=fleet, clock=clock, commands=sender),
        store,
        clock,
    )
    site.dashboard.context.alerts.open(
        station=HERE,
        district="350815",
        rule="device_error",
        severity=Severity.KRITIS,
        text=Text("Printer kartu bermasalah sejak 5 jam", "Card printer faulty for 5 hours"),
        at=NOW - timedelta(hours=4),
    )
    site.dashboard.add_user("tekno", DashboardRole.TEKNISI, "3508")
    site.dashboard.add_user("lihat", DashboardRole.PENGAMAT, "3508")
    site.dashboard.add_user("jember", DashboardRole.TEKNISI, "3509")
    site.dashboard.add_user("pusat", DashboardRole.PENGAMAT, "")
    try:
        yield site
    finally:
        await sender.close()
        store.close()
        database.close()


async def test_the_page_shows_where_the_station_is_and_its_week(site: Site) -> None:
    client, _ = site.dashboard.client("lihat")
    async with client:
        page = await client.get(f"/stasiun/{HERE}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Kecamatan Sukodono" in html
    assert "35.08.15" in html
    assert "Kabupaten Lumajang" in html
    assert "Jawa Timur" in html
    assert "Daring" in html
    assert "1.4.0" in html
    # Online since the last birth, shown in the station's time (WIB).
    assert "sejak 04-12-2026 12:00 WIB" in html
    timeline = html[html.index('class="timeline"') : html.index("</ol>")]
    # Newest first: the flag an hour ago, the printer's fault, the READYs, the birth,
    # the death; the chain break of 20 days ago is outside the week.
    order = [
        "Tanda tangan tidak sah",
        "card_printer: Bermasalah",
        "card_printer: Siap",
        "Daring",
        "Luring",
    ]
    positions = [timeline.index(words) for words in order]
    assert positions == sorted(positions), timeline
    assert "Rantai register terputus" not in timeline
    assert "Kartu macet di printer kartu" in html  # the device's reason, in its history
    # The doctor's report, check by check, problems first; no button for a viewer.
    checks = html[html.index('class="doctor-checks"') :]
    assert checks.index("Printer kartu macet") < checks.index("Ruang disk tinggal 9%")
    assert checks.index("Ruang disk tinggal 9%") < checks.index("Konfigurasi terbaca")
    assert "Minta diagnosis" not in html
    alerts = html[html.index('id="station-alerts"') :]
    assert "Kritis" in alerts
    assert "Printer kartu bermasalah sejak 5 jam" in alerts


async def test_another_regency_s_station_does_not_exist_for_its_officer(site: Site) -> None:
    client, csrf = site.dashboard.client("jember")
    async with client:
        own = await client.get(f"/stasiun/{OTHER}")
        refused = [
            await client.get(f"/stasiun/{HERE}"),
            await client.get(
                f"/stasiun/{HERE}/laporan", params={"periode": "2026-11", "format": "json"}
            ),
            await client.post(f"/stasiun/{HERE}/diagnosis", headers={"X-CSRF-Token": csrf}),
            await client.get("/stasiun/kec-tidak-ada"),
        ]
    assert own.status_code == 200
    for response in refused:
        assert response.status_code == 404
        assert response.headers["X-Error-Code"] == "station_not_found"
        assert "Sukodono" not in response.text
    assert site.dashboard.context.commands is not None
    assert site.dashboard.context.commands.log.recent(HERE) == []


async def test_a_viewer_may_not_ask_and_a_form_without_its_token_changes_nothing(
    site: Site,
) -> None:
    viewer, csrf = site.dashboard.client("lihat")
    tech, _ = site.dashboard.client("tekno")
    async with viewer, tech:
        wrong_role = await viewer.post(f"/stasiun/{HERE}/diagnosis", headers={"X-CSRF-Token": csrf})
        no_token = await tech.post(f"/stasiun/{HERE}/diagnosis")
    assert (wrong_role.status_code, wrong_role.headers["X-Error-Code"]) == (403, "wrong_role")
    assert (no_token.status_code, no_token.headers["X-Error-Code"]) == (403, "csrf_failed")
    assert site.dashboard.context.commands is not None
    assert site.dashboard.context.commands.log.recent(HERE) == []


async def test_a_technician_asks_for_a_diagnosis_and_sees_the_answer(
    site: Site, broker: PrivateMosquitto
) -> None:
    client, csrf = site.dashboard.client("tekno")
    command_topic = StationTopics(HERE).command("doctor")
    async with (
        aiomqtt.Client(
            broker.host,
            broker.port,
            username=HERE,
            password="station-secret",  # noqa: S106 - the private broker's
            identifier=f"{HERE}-t",
        ) as station,
        client,
    ):
        await station.subscribe(command_topic, qos=1)
        page = await client.get(f"/stasiun/{HERE}")
        assert "Minta diagnosis" in page.text
        asked = await client.post(
            f"/stasiun/{HERE}/diagnosis", data={"csrf": csrf}, headers={"HX-Request": "true"}
        )
        assert asked.status_code == 200, asked.text
        assert "Menunggu laporan dari stasiun" in asked.text
        assert 'hx-trigger="every 3s"' in asked.text  # the part asks again until it is here
        async with asyncio.timeout(10):
            message = await anext(aiter(station.messages))
        assert message.topic.value == command_topic
        assert site.dashboard.context.commands is not None
        (record,) = site.dashboard.context.commands.log.recent(HERE)
        assert (record.kind, record.by_user, record.sent_at is not None) == (
            "doctor",
            "tekno",
            True,
        )
        sent = json.loads(bytes(message.payload))
        assert record.request is not None
        assert record.request in json.dumps(sent)
        # The station answers; the collector keeps its report; the part shows it.
        site.store.record_doctor(HERE, _doctor(record.request), at=_at(timedelta(seconds=-5)))
        part = await client.get(f"/stasiun/{HERE}/diagnosis", headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert "Menunggu laporan" not in part.text
    assert "every 3s" not in part.text
    assert "Printer kartu macet" in part.text
    assert "Masalah" in part.text
    assert "tekno" in part.text  # the command log names who asked


async def test_the_live_parts_and_an_unregistered_station(site: Site) -> None:
    """The parts the live feed refreshes are the page's own blocks; a station with a key
    but no region is seen at national scope only, said to be unregistered."""
    viewer, _ = site.dashboard.client("lihat")
    national, _ = site.dashboard.client("pusat")
    async with viewer, national:
        parts = {
            part: await viewer.get(f"/stasiun/{HERE}/bagian/{part}", headers={"HX-Request": "1"})
            for part in ("kepala", "linimasa", "perangkat", "peringatan")
        }
        unknown_part = await viewer.get(f"/stasiun/{HERE}/bagian/semua")
        stray_regency = await viewer.get(f"/stasiun/{STRAY}")
        stray_national = await national.get(f"/stasiun/{STRAY}")
        viewer.cookies.set("ktpel_bahasa", "en")
        english = await viewer.get(f"/stasiun/{HERE}")
    assert parts["kepala"].text.startswith('<section id="station-head"')
    assert "1.4.0" in parts["kepala"].text
    assert parts["linimasa"].text.startswith('<section id="station-timeline"')
    assert "Tanda tangan tidak sah" in parts["linimasa"].text
    assert parts["perangkat"].text.startswith('<section id="station-devices"')
    assert "<html" not in parts["perangkat"].text
    assert parts["peringatan"].text.startswith('<section id="station-alerts"')
    assert "Printer kartu bermasalah" in parts["peringatan"].text
    assert unknown_part.status_code == 422
    assert stray_regency.status_code == 404
    assert stray_national.status_code == 200
    assert "wilayah belum terdaftar" in stray_national.text
    assert "Timeline" in english.text
    assert "Signature does not verify" in english.text
    assert "Online" in english.text


async def test_an_unanswered_diagnosis_stops_being_awaited(site: Site) -> None:
    """No answer within ten minutes (the station offline, say): the part stops asking
    every few seconds, says so, and the technician may ask again."""
    client, csrf = site.dashboard.client("tekno")
    async with client:
        asked = await client.post(f"/stasiun/{HERE}/diagnosis", headers={"X-CSRF-Token": csrf})
        assert "every 3s" in asked.text
        site.clock.advance(11 * 60)
        later = await client.get(f"/stasiun/{HERE}/diagnosis", headers={"HX-Request": "1"})
    assert "every 3s" not in later.text
    assert "Stasiun belum menjawab permintaan" in later.text
    assert "disabled" not in later.text
    assert site.dashboard.context.commands is not None
    assert len(site.dashboard.context.commands.log.recent(HERE)) == 1


def test_a_doctor_report_is_read_for_what_it_should_be() -> None:
    """The report is the station's word: a finding that is not one is left out, never
    rendered as it came; problems first, the doctor's order kept within a level."""
    payload: dict[str, Any] = {
        "request": 7,  # not a request id: none
        "findings": [
            "not a finding",
            {"check": "a", "level": "ok", "text": {"id": "satu", "en": "one"}},
            {"check": "b", "level": "fatal", "text": {"id": "?", "en": "?"}},
            {"check": "c", "level": "problem", "text": {"id": "dua"}},
            {"check": "d", "level": "problem", "text": {"id": "tiga", "en": "three"}},
            {"check": ["e"], "level": "warning", "text": "empat", "advice": {"id": 5}},
            {"check": "f", "level": "ok", "text": {"id": "enam", "en": "six"}},
        ],
    }
    view = doctor_view(payload, "2026-12-07T03:00:00.000000Z")
    assert [(c.check, c.level, c.text.id) for c in view.checks] == [
        ("d", "bad", "tiga"),
        ("?", "warn", "empat"),
        ("a", "ok", "satu"),
        ("f", "ok", "enam"),
    ]
    assert view.checks[1].advice is None
    assert view.request is None
    assert view.level == "bad"
    assert dict(view.counts) == {"bad": 1, "warn": 1, "ok": 2}
    assert doctor_view({"findings": "none"}, "2026-12-07T03:00:00Z").checks == ()
