"""The dashboard's doors, over HTTP: signing in and out, CSRF on every POST, the idle
limit by the injectable clock, roles, and the scope on every route (a regency's officer
never sees another regency's station by page, fragment, feed or guessed URL); bad form
values refused with a stable code and an Indonesian message, nothing changed."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute

from appliance._text import Text
from appliance.api import ApiServer, LanMode, ensure_certificate
from appliance.central import DashboardSection, Database
from appliance.central._alert_store import AlertStore
from appliance.central._alerts import Severity
from appliance.central._metrics import CentralMetrics
from appliance.central.web import create_dashboard
from appliance.clock import ManualClock
from sim.postgres import PrivatePostgres
from tests.central_dashboard_rig import (
    JEMBER,
    LUMAJANG,
    PASSWORD,
    UNREGISTERED,
    add_users,
    dashboard_context,
    fine,
    fleet_statuses,
    seed_status,
)

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:{tmp_path}/dashboard.sqlite3"
    else:
        server: PrivatePostgres = request.getfixturevalue("postgres")
        url = server.fresh_database(f"web_{uuid.uuid4().hex[:12]}")
    opened = Database.open(url)
    yield opened
    opened.close()


@pytest_asyncio.fixture
async def app(database: Database, clock: ManualClock) -> AsyncIterator[FastAPI]:
    context = dashboard_context(
        database, clock, settings=DashboardSection(page_size=10, max_failures=3)
    )
    add_users(context.users)
    statuses = fleet_statuses(clock)
    # Twelve more stations in Jember, all fine: the national view needs pages.
    extra = {
        f"kec-jember-{n:02d}": (f"3509{n + 2:02d}", f"Kecamatan Jember {n:02d}")
        for n in range(1, 13)
    }
    statuses |= {station: fine(clock, station, *place) for station, place in extra.items()}
    seed_status(database, list(statuses.values()))
    alerts = AlertStore(database=database)
    now = datetime.fromtimestamp(clock.wall_ns() / 1e9, tz=UTC)
    for station, rule, severity in (
        ("kec-pronojiwo", "offline", Severity.KRITIS),
        ("kec-pasirian", "device_error", Severity.KRITIS),
        ("kec-tekung", "blanks", Severity.PERINGATAN),
        ("kec-kencong", "clock", Severity.PERINGATAN),
    ):
        alerts.open(
            station=station,
            district=statuses[station].district,
            rule=rule,
            severity=severity,
            text=Text(f"{station} {rule}", f"{station} {rule}"),
            at=now,
        )
    yield create_dashboard(
        context, metrics=CentralMetrics(alerts=AlertStore(database=database)).asgi_app
    )
    context.users.close()


def _routes(app: FastAPI, method: str) -> list[str]:
    """Every path of the app answering `method`, included routers' too."""
    paths = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            if method in (route.methods or set()):
                paths.append(route.path)
        elif hasattr(route, "effective_route_contexts"):  # an included router (FastAPI 0.165)
            paths.extend(
                context.path
                for context in route.effective_route_contexts()
                if method in (context.methods or set())
            )
    return paths


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", follow_redirects=False
    )


@contextlib.asynccontextmanager
async def _signed_in(app: FastAPI, name: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser signed in as `name`, and the CSRF token of its session's pages."""
    async with _client(app) as client:
        yield client, await _sign_in(client, name)


async def _sign_in(client: httpx.AsyncClient, name: str) -> str:
    page = await client.get("/masuk")
    csrf = _CSRF.search(page.text)
    assert csrf is not None
    answer = await client.post(
        "/masuk", data={"name": name, "password": PASSWORD, "csrf": csrf.group(1)}
    )
    assert answer.status_code == 303, answer.text
    overview = await client.get("/ikhtisar")
    assert overview.status_code == 200
    token = _CSRF.search(overview.text)
    assert token is not None
    return token.group(1)


async def test_sign_in_and_out(app: FastAPI) -> None:
    async with _client(app) as client:
        assert (await client.get("/")).headers["location"] == "/masuk"
        assert (await client.get("/ikhtisar?kabupaten=3508")).headers["location"] == (
            "/masuk?kembali=/ikhtisar%3Fkabupaten%3D3508"
        )
        page = await client.get("/masuk")
        assert "Masuk ke dasbor" in page.text
        csrf = _CSRF.search(page.text)
        assert csrf is not None
        for form, field, message in (
            ({"name": "", "password": PASSWORD}, "name", "Isi nama pengguna."),
            ({"name": "sari", "password": ""}, "password", "Isi kata sandi."),
            (
                {"name": "sari", "password": "salah-sekali"},
                "password",
                "Nama pengguna atau kata sandi salah.",
            ),
        ):
            refused = await client.post("/masuk", data={**form, "csrf": csrf.group(1)})
            assert refused.status_code == 422
            assert message in refused.text
            assert f'id="e-{field}" aria-live="polite">{message}' in refused.text
            assert "ktpel_pusat_sesi" not in refused.headers.get("set-cookie", "")
        assert refused.headers["X-Error-Code"] == "authentication_failed"
        for _ in range(2):
            await client.post(
                "/masuk", data={"name": "sari", "password": "salah-lagi", "csrf": csrf.group(1)}
            )
        # The third wrong password locked the name: even the right one is refused now.
        locked = await client.post(
            "/masuk", data={"name": "sari", "password": PASSWORD, "csrf": csrf.group(1)}
        )
        assert (locked.status_code, locked.headers["X-Error-Code"]) == (422, "account_locked")
        assert "Terlalu banyak percobaan gagal" in locked.text

    async with _signed_in(app, "joko") as (client, csrf_token):
        cookie = client.cookies.jar
        session = next(c for c in cookie if c.name == "ktpel_pusat_sesi")
        assert session.has_nonstandard_attr("HttpOnly")
        assert session.get_nonstandard_attr("SameSite", "").lower() == "strict"
        page = await client.get("/ikhtisar")
        assert "Joko Wulandari" in page.text
        assert "Kabupaten Jember (35.09)" in page.text
        refused = await client.post("/keluar")
        assert (refused.status_code, refused.headers["X-Error-Code"]) == (403, "csrf_failed")
        out = await client.post("/keluar", data={"csrf": csrf_token})
        assert out.headers["location"] == "/masuk"
        assert (await client.get("/ikhtisar")).status_code == 303


async def test_every_post_refuses_a_missing_or_foreign_csrf_token(app: FastAPI) -> None:
    posts = [path for path in _routes(app, "POST") if path != "/masuk"]
    assert {"/keluar", "/sesi/perpanjang", "/peringatan/{alert_id}/tangani"} <= set(posts)
    # Tono, a technician of the province, may make every POST: only the token is missing.
    async with _signed_in(app, "tono") as (tono, _), _signed_in(app, "sari") as (_, sari_csrf):
        for route in posts:
            path = _out_of_scope_path(route)
            for headers in ({}, {"X-CSRF-Token": sari_csrf}):
                refused = await tono.post(path, data={"note": "x"}, headers=headers)
                assert (refused.status_code, refused.headers.get("X-Error-Code")) == (
                    403,
                    "csrf_failed",
                ), route
                assert "Formulir ini kedaluwarsa" in refused.text
        # Nothing was acknowledged.
        alerts = await tono.get("/peringatan")
        assert "Ditangani" not in alerts.text
    # Signing in needs the sign-in page's own token.
    async with _client(app) as stranger:
        refused = await stranger.post("/masuk", data={"name": "sari", "password": PASSWORD})
        assert (refused.status_code, refused.headers["X-Error-Code"]) == (403, "csrf_failed")


async def test_a_session_ends_after_the_idle_limit_not_by_live_refreshes(
    app: FastAPI, clock: ManualClock
) -> None:
    async with _signed_in(app, "sari") as (client, _):
        clock.advance(25 * 60)
        assert (await client.get("/ikhtisar")).status_code == 200
        for _ in range(3):  # the page refreshing itself for 27 minutes: not activity
            clock.advance(9 * 60)
            refresh = await client.get("/ikhtisar/tabel", headers={"X-Ktpel-Background": "1"})
            assert refresh.status_code == 200
        clock.advance(4 * 60)
        gone = await client.get("/ikhtisar/tabel", headers={"HX-Request": "true"})
        assert gone.status_code == 204
        assert gone.headers["HX-Redirect"].endswith("&habis=1")
        page = await client.get("/ikhtisar")
        assert page.headers["location"] == "/masuk?kembali=/ikhtisar&habis=1"
        notice = await client.get(page.headers["location"])
        assert "Sesi Anda berakhir karena tidak ada aktivitas" in notice.text


def _told(answer: httpx.Response, words: list[str]) -> list[str]:
    """Which of `words` an answer tells, besides the URL asked (the language switch's
    link back to it)."""
    text = re.sub(r"kembali=[^\"&]*", "", answer.text)
    return [word for word in words if word in text]


def _out_of_scope_path(path: str) -> str:
    """A route's path with its parameters set to Lumajang's (a station, an alert)."""
    path = re.sub(r"\{station[^}]*\}", "kec-pasirian", path)
    path = path.replace("{part}", "kepala")  # a station page's live part (its head)
    return re.sub(r"\{[^}]+\}", "2", path)


async def test_a_regency_officer_sees_nothing_of_another_regency_on_any_route(
    app: FastAPI,
) -> None:
    """Joko (Jember) against Lumajang's stations: every GET route of the app, with its
    path parameters set to Lumajang's station and alert, is refused; every route without
    parameters answers without a word of Lumajang; filters and URLs guessed, 404."""
    lumajang = [*LUMAJANG, *(name for _, name in LUMAJANG.values()), "35.08.0"]
    gets = [path for path in _routes(app, "GET") if path != "/langsung"]
    assert {"/ikhtisar", "/ikhtisar/tabel", "/peringatan", "/peringatan/daftar"} <= set(gets)
    async with _signed_in(app, "joko") as (joko, _):
        for route in gets:
            answer = await joko.get(_out_of_scope_path(route))
            if "{" in route and route != "/bahasa/{language}":
                assert answer.status_code in {403, 404}, route
            assert not _told(answer, lumajang), route
        for guessed in (
            "/ikhtisar?kabupaten=3508",
            "/ikhtisar?provinsi=51",
            "/ikhtisar/tabel?kabupaten=35.08",
            "/peringatan?stasiun=kec-pasirian",
            "/peringatan/daftar?stasiun=kec-tempursari",
            f"/peringatan?stasiun={UNREGISTERED}",
            "/stasiun/kec-pasirian",
            f"/stasiun/{UNREGISTERED}",
        ):
            answer = await joko.get(guessed)
            assert answer.status_code == 404, guessed
            assert not _told(answer, lumajang), guessed
        assert (await joko.get("/ikhtisar?provinsi=35")).status_code == 200
        page = await joko.get("/ikhtisar")
        assert all(station in page.text for station in JEMBER)
        assert UNREGISTERED not in page.text
        alerts = await joko.get("/peringatan")
        assert "kec-kencong" in alerts.text
        assert "kec-pronojiwo" not in alerts.text
        # The live feed names topics only (stopped first: the transport reads a whole body).
        app.state.dashboard.live.stop()
        feed = await joko.get("/langsung")
        assert feed.text == "retry: 2000\nevent: connected\ndata: 0\n\n"
    # The nation sees the station no fleet file names, and it says so.
    async with _signed_in(app, "nasional") as (national, _):
        page = await national.get("/ikhtisar?halaman=3")
        assert UNREGISTERED in page.text
        assert "wilayah belum terdaftar" in page.text


async def test_the_overview_puts_problems_first_counts_and_pages(app: FastAPI) -> None:
    async with _signed_in(app, "sari") as (sari, _):
        page = await sari.get("/ikhtisar")
        rows = re.findall(r'<tr data-station="([^"]+)"', page.text)
        assert rows[:2] == ["kec-pasirian", "kec-pronojiwo"]  # critical alerts first
        assert rows[2] == "kec-tekung"  # a warning
        assert rows[3] == "kec-candipuro"  # behind: no alert yet, attention
        assert rows[4] == "kec-tempursari"  # fine
        for condition, count in (
            ("critical", 2),
            ("warning", 1),
            ("offline", 1),
            ("online", 4),
            ("behind", 1),
            ("devices", 1),
            ("blanks", 1),
        ):
            assert f'data-condition="{condition}"><strong>{count}</strong>' in page.text, condition
        assert "Luring sejak" in page.text
        assert "card_printer" in page.text
        only = await sari.get("/ikhtisar?masalah=1")
        assert re.findall(r'<tr data-station="([^"]+)"', only.text) == rows[:4]
        found = await sari.get("/ikhtisar?q=tekung")
        assert re.findall(r'<tr data-station="([^"]+)"', found.text) == ["kec-tekung"]
    async with _signed_in(app, "nasional") as (national, _):
        first = await national.get("/ikhtisar")
        assert "Halaman 1 / 3" in first.text
        assert len(re.findall(r"<tr data-station=", first.text)) == 10
        last = await national.get("/ikhtisar?halaman=99")  # past the end: the last page
        assert "Halaman 3 / 3" in last.text
        fragment = await national.get("/ikhtisar/tabel?kabupaten=3508")
        assert fragment.text.startswith('<div id="overview">')
        assert len(re.findall(r"<tr data-station=", fragment.text)) == 5


async def test_bad_values_are_refused_with_a_code_and_change_nothing(
    app: FastAPI, database: Database
) -> None:
    alerts = AlertStore(database=database)
    offline = next(a for a in alerts.open_alerts("3508") if a.station == "kec-pronojiwo")
    jember = next(a for a in alerts.open_alerts("3509"))
    async with _signed_in(app, "sari") as (sari, csrf):
        headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        for query, message in (
            ("provinsi=3x", "Kode provinsi: 2 angka."),
            ("kabupaten=350", "Kode kabupaten/kota: 4 angka."),
            ("halaman=0", "Nomor halaman tidak sah."),
            ("halaman=dua", "Nomor halaman tidak sah."),
            ("q=" + "x" * 65, "Pencarian paling panjang 64 huruf."),
        ):
            refused = await sari.get(f"/ikhtisar?{query}")
            assert refused.status_code == 422, query
            assert refused.headers["X-Error-Code"] == "bad_filter"
            # At the filter form, above the whole scope as it was.
            assert f'id="e-filter" aria-live="polite">{message}</p>' in refused.text
            assert len(re.findall(r"<tr data-station=", refused.text)) == 5
        long_note = await sari.post(
            f"/peringatan/{offline.id}/tangani", data={"note": "n" * 501}, headers=headers
        )
        assert (long_note.status_code, long_note.headers["X-Error-Code"]) == (422, "note_too_long")
        assert "Catatan paling banyak 500 karakter." in long_note.text
        assert (
            f'id="e-note-{offline.id}" aria-live="polite">Catatan paling banyak' in long_note.text
        )
        assert alerts.get(offline.id) == offline
        for alert_id in ("abc", "0", "999999", str(jember.id)):
            unknown = await sari.post(f"/peringatan/{alert_id}/tangani", data={}, headers=headers)
            assert (unknown.status_code, unknown.headers["X-Error-Code"]) == (404, "alert_unknown")
            assert "Peringatan tidak dikenal." in unknown.text
        assert alerts.get(jember.id) == jember
        done = await sari.post(
            f"/peringatan/{offline.id}/tangani", data={"note": "Teknisi berangkat"}, headers=headers
        )
        assert done.status_code == 200
        assert f"Peringatan {offline.id} ditangani oleh Anda." in done.text
        acknowledged = alerts.get(offline.id)
        assert acknowledged is not None
        assert (acknowledged.acknowledged_by, acknowledged.note) == ("sari", "Teknisi berangkat")
        again = await sari.post(f"/peringatan/{offline.id}/tangani", data={}, headers=headers)
        assert (again.status_code, again.headers["X-Error-Code"]) == (409, "alert_acknowledged")
        assert alerts.get(offline.id) == acknowledged
    # A viewer may look, not acknowledge.
    async with _signed_in(app, "wati") as (wati, wati_csrf):
        page = await wati.get("/peringatan")
        assert "Tangani" not in page.text
        other = next(a for a in alerts.open_alerts("3508") if a.acknowledged_at is None)
        refused = await wati.post(
            f"/peringatan/{other.id}/tangani", data={}, headers={"X-CSRF-Token": wati_csrf}
        )
        assert (refused.status_code, refused.headers["X-Error-Code"]) == (403, "wrong_role")
        assert "Peran Anda tidak mengizinkan tindakan ini." in refused.text
        assert alerts.get(other.id) == other


async def test_metrics_are_mounted(app: FastAPI) -> None:
    async with _client(app) as client:
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'severity="kritis"' in metrics.text


async def test_over_tls_the_session_cookie_is_secure(app: FastAPI, tmp_path: Path) -> None:
    """Served as `appliance central` serves it with a certificate (ApiServer, LanMode): HTTPS
    only, and the session and CSRF cookies marked Secure."""
    certificate, key = tmp_path / "dashboard.crt", tmp_path / "dashboard.key"
    ensure_certificate(key, certificate, station_id="pusat-uji", names=["127.0.0.1"])
    server = ApiServer(
        app=app,
        host="127.0.0.1",
        port=0,
        lan=LanMode(
            certificate=certificate, key=key, allowed_clients=DashboardSection().allowed_clients
        ),
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            await server.started.wait()
        trusted = ssl.create_default_context(cafile=certificate)
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{server.port}", verify=trusted
        ) as client:
            csrf = await _sign_in(client, "sari")
            cookies = {cookie.name: cookie for cookie in client.cookies.jar}
            assert cookies["ktpel_pusat_sesi"].secure
            assert cookies["ktpel_pusat_csrf"].secure
            assert csrf != cookies["ktpel_pusat_csrf"].value  # the session's own token
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get("/masuk")
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
