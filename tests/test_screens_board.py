"""The waiting-room board in a real browser on a 1920x1080 TV: a call shows within a
second, the calls before it, who waits for which service, the average wait and the
promise; it reconnects by itself when the station restarts; it never shows anything
personal; the station speaks each call and serves its audio to a board that plays it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from appliance.clock import ManualTimekeeper
from appliance.config import load_config
from appliance.domain import Role
from appliance.keys import init_keys
from appliance.staff import add_member
from appliance.station import Station
from sim.pcscd import PrivatePcscd

from .browser_rig import TV_VIEWPORT, chromium, new_page, screenshot, serious_violations
from .office_rig import PIN, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

SIXTEEN_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{16}(?![0-9A-Za-z])")
"""A NIK or KK on its own; not 16 digits that happen to lie inside a hex digest."""
# The station plays the calls on ALSA's null device: the whole path runs, silently.
EXTRA = '[speech]\ndevice = "null"\n[pipeline]\ncounters = ["loket-1", "loket-2"]\n'
SSE_OPEN = "document.addEventListener('htmx:sseOpen', () => { window.boardFeedOpen = true; });"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.fixture(scope="module")
def board_clock() -> ManualTimekeeper:
    return ManualTimekeeper()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def station(
    tmp_path_factory: pytest.TempPathFactory, pcscd: PrivatePcscd, board_clock: ManualTimekeeper
) -> AsyncIterator[Office]:
    directory = tmp_path_factory.mktemp("board")
    async with office(directory, pcscd, clock=board_clock, extra_config=EXTRA) as rig:
        yield rig


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _port(station: Station) -> int:
    port = station.api.port
    assert port is not None  # it is listening
    return port


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


async def _board(browser: Browser, port: int, path: str = "/board") -> Page:
    """The board on a TV, its live feed open."""
    _, page = await new_page(browser, _url(port), viewport=TV_VIEWPORT)
    await page.add_init_script(SSE_OPEN)
    await page.goto(path)
    await page.wait_for_function("window.boardFeedOpen === true")
    return page


async def _take(rig: Office, service: str = "baru") -> str:
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": service})
    return str(ticket["ticket"])


async def _call_next(rig: Office, counter: str = "loket-1") -> str:
    called = await rig.ok("siti", "POST", "/queue/call-next", json={"counter": counter})
    return str(called["ticket"])


def _last_call_seq(rig: Office) -> int:
    return max(
        e.seq for e in rig.station.register.events() if e.type in ("queue.called", "queue.recalled")
    )


async def test_the_pipeline_lists_todays_calls_and_recalls_newest_first(station: Office) -> None:
    pipeline = station.station.pipeline
    before = pipeline.calls(1)
    numbered = before[0].number if before else 0
    first, second = await _take(station), await _take(station, "hilang")
    assert await _call_next(station) == first
    assert await _call_next(station, "loket-1") == second
    await station.ok("siti", "POST", f"/queue/tickets/{first}/recall", json={"counter": "loket-1"})
    calls = pipeline.calls(3)
    assert [(c.number, c.ticket, c.counter, c.recall) for c in calls] == [
        (numbered + 3, first, "loket-1", True),
        (numbered + 2, second, "loket-1", False),
        (numbered + 1, first, "loket-1", False),
    ]
    assert pipeline.calls(1) == calls[:1]
    assert pipeline.calls(0) == ()


async def test_a_call_shows_on_the_board_within_a_second_and_the_station_speaks_it(
    station: Office, browser: Browser
) -> None:
    page = await _board(browser, _port(station.station))
    await _take(station)
    called = time.perf_counter()
    ticket = await _call_next(station)
    await expect(page.locator("[data-now-ticket]")).to_have_text(ticket, timeout=1000)
    await expect(page.locator("[data-now-counter]")).to_have_text("Loket 1", timeout=1000)
    shown_ms = (time.perf_counter() - called) * 1000
    announcer = station.station.announcer
    assert announcer is not None
    started = await announcer.wait_started(_last_call_seq(station))
    assert started.call.ticket == ticket
    assert started.latency_s < 1.0
    print(f"call -> board {shown_ms:.0f} ms; call -> audio start {started.latency_s * 1000:.0f} ms")
    await page.context.close()


async def test_the_board_shows_the_calls_before_the_waiting_and_the_promise(
    station: Office, browser: Browser, board_clock: ManualTimekeeper
) -> None:
    for service in ("baru", "baru", "pindah_datang", "hilang", "rusak", "baru", "perubahan_data"):
        await _take(station, service)
    board_clock.advance(9 * 60)  # the waiting room fills while the counters are busy
    called = [await _call_next(station, counter) for counter in ("loket-1", "loket-2") * 2]
    called.append(await _call_next(station, "loket-1"))
    page = await _board(browser, _port(station.station))
    await expect(page.locator("[data-now-ticket]")).to_have_text(called[-1])
    earlier = page.locator("[data-earlier] li .ticket")
    await expect(earlier).to_have_text(list(reversed(called[:-1])))
    await expect(page.locator("[data-earlier] li .counter")).to_have_text(
        ["Loket 2", "Loket 1", "Loket 2", "Loket 1"]
    )
    queue = station.station.pipeline.queue()
    for letter, service in zip(
        "ABCDE", ("baru", "pindah_datang", "hilang", "rusak", "perubahan_data"), strict=True
    ):
        waiting = sum(1 for t in queue.tickets if t.service == service and t.state == "waiting")
        await expect(page.locator(f'[data-waiting="{letter}"] .count strong')).to_have_text(
            str(waiting)
        )
    mean = round(queue.figures.mean_wait_s / 60)
    await expect(page.locator("[data-mean-wait]")).to_have_text(f"{mean} menit")
    await expect(page.get_by_text("Selesai dalam 1 (satu) hari kerja")).to_be_visible()
    await expect(page.get_by_text("gratis", exact=False)).to_be_visible()
    assert await serious_violations(page) == []
    await screenshot(page, "board")
    await page.context.close()


async def test_nothing_personal_reaches_any_board_response(station: Office) -> None:
    await _take(station)
    ticket = await _call_next(station)  # the earlier tests left tickets waiting
    view = await station.ok("siti", "POST", "/applications", json=form(ticket))
    app = view["id"]
    http = station.http
    bodies: list[str] = []
    async with http.stream("GET", "/langsung/umum", timeout=None) as feed:
        lines = feed.aiter_lines()
        assert await anext(lines) == "retry: 1000"
        for path in ("/board", "/board?suara=1", "/board/papan", "/bahasa/en?kembali=/board"):
            response = await http.get(path, follow_redirects=True)
            assert response.status_code == 200
            bodies.append(response.text)
        await _take(station)
        await _call_next(station, "loket-2")
        seen = ""
        while "event: queue" not in seen:
            seen += await anext(lines) + "\n"
        bodies.append(seen)
    missing = await http.get("/board/suara/99999.wav")
    assert missing.status_code == 404
    bodies.append(missing.text)
    for body in bodies:
        assert not SIXTEEN_DIGITS.search(body)
        assert "Ahmad" not in body
        assert "Fauzi" not in body
        assert app not in body
        assert "Kyai Ilyas" not in body
    assert ticket in bodies[2]


async def test_the_board_serves_the_spoken_call_and_plays_it_when_asked(
    station: Office, browser: Browser
) -> None:
    page = await _board(browser, _port(station.station), "/board?suara=1")
    await _take(station)
    async with page.expect_response(re.compile(r"/board/suara/\d+\.wav$")) as fetched:
        ticket = await _call_next(station, "loket-2")
    response = await fetched.value
    assert response.status == 200
    assert response.headers["content-type"] == "audio/wav"
    number = int(response.url.rsplit("/", 1)[1].removesuffix(".wav"))
    assert station.station.pipeline.calls(1)[0].number == number
    audio = await station.http.get(f"/board/suara/{number}.wav")
    with wave.open(io.BytesIO(audio.content), "rb") as reader:
        seconds = reader.getnframes() / reader.getframerate()
    assert 4.0 < seconds < 10.0
    # The station's own output played it too.
    announcer = station.station.announcer
    assert announcer is not None
    started = await announcer.wait_started(_last_call_seq(station))
    assert started.call.ticket == ticket
    await page.context.close()


# ---------------------------------------------------------------- restart


@contextlib.asynccontextmanager
async def _running(config_file: Path, port: int) -> AsyncIterator[tuple[Station, dict[str, str]]]:
    """A station without devices (the board needs none) on `port`, and siti's login."""
    config = load_config(config_file)
    config = config.model_copy(update={"api": config.api.model_copy(update={"port": port})})
    async with Station.open(config) as station:
        runner = asyncio.create_task(station.run(), name="station")
        try:
            async with asyncio.timeout(30):
                await station.api.started.wait()
                await station.pipeline.ready.wait()
            async with httpx.AsyncClient(base_url=_url(_port(station))) as http:
                login = await http.post("/api/v1/session", json={"person": "siti", "secret": PIN})
                yield station, {"Authorization": f"Bearer {login.json()['token']}"}
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


async def _post(port: int, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=_url(port)) as http:
        response = await http.post(f"/api/v1{path}", json=body, headers=headers)
        assert response.status_code < 300, response.text
        return response.json()


async def test_the_board_reconnects_by_itself_when_the_station_restarts(
    tmp_path: Path, browser: Browser
) -> None:
    config_file = tmp_path / "station.toml"
    config_file.write_text(
        '[station]\nid = "board-restart"\noffice = "Kecamatan Lumajang"\n'
        '[paths]\nstate_dir = "state"\n[logging]\nlevel = "warning"\n'
        '[speech]\ndevice = "off"\n',
        encoding="utf-8",
    )
    config = load_config(config_file)
    init_keys(config)
    add_member(
        config.staff_path, person_id="siti", name="Siti", roles=[Role.COUNTER_OFFICER], secret=PIN
    )
    async with _running(config_file, 0) as (first, siti):
        port = _port(first)
        page = await _board(browser, port)
        await _post(port, siti, "/queue/tickets", {"service": "baru"})
        await _post(port, siti, "/queue/call-next", {"counter": "loket-1"})
        await expect(page.locator("[data-now-ticket]")).to_have_text("A-001")
    # The station is down: the board keeps its last state and keeps trying. Its feed is
    # held off until a call has been made, so only the refresh on reconnecting can show it.
    await page.evaluate("window.boardFeedOpen = false")
    await page.route("**/langsung/umum", lambda route: route.abort())
    await expect(page.locator("[data-now-ticket]")).to_have_text("A-001")
    async with _running(config_file, port) as (_second, siti):
        await _post(port, siti, "/queue/tickets", {"service": "baru"})
        await _post(port, siti, "/queue/call-next", {"counter": "loket-1"})
        await expect(page.locator("[data-now-ticket]")).to_have_text("A-001")
        await page.unroute("**/langsung/umum")
        await page.wait_for_function("window.boardFeedOpen === true", timeout=20000)
        await expect(page.locator("[data-now-ticket]")).to_have_text("A-002", timeout=1000)
        await expect(page.locator("[data-earlier] li .ticket")).to_have_text(["A-001"])
        # And live again.
        await _post(port, siti, "/queue/tickets", {"service": "hilang"})
        await _post(port, siti, "/queue/call-next", {"counter": "loket-1"})
        await expect(page.locator("[data-now-ticket]")).to_have_text("C-001", timeout=1000)
    await page.context.close()
