"""systemd's notify protocol: the daemon says READY=1 once its register and API are up,
keeps a STATUS line, feeds the watchdog while its loops go round, and says STOPPING=1
when SIGTERM asks it to stop, on a notify socket the test owns."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from appliance.notify import SystemdNotifier
from sim.day_run import office_run
from sim.pcscd import PrivatePcscd
from tests.support import quiet_day


@pytest.fixture(params=["path", "abstract"])
def listener(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd, and the NOTIFY_SOCKET naming it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    if request.param == "path":
        name = str(tmp_path / "notify")
        sock.bind(name)
    else:
        name = f"@ktpel-test-{os.getpid()}-{tmp_path.name}"
        sock.bind("\0" + name[1:])
    with sock:
        yield sock, name


async def _messages(sock: socket.socket) -> AsyncIterator[dict[str, str]]:
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(sock, 4096)
        yield dict(line.split("=", 1) for line in data.decode().splitlines())


def test_each_message_reaches_the_socket(listener: tuple[socket.socket, str]) -> None:
    sock, name = listener
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": name})
    assert notifier.enabled
    notifier.ready("siap")
    notifier.status("antrean 3")
    notifier.stopping("berhenti")
    notifier.close()
    received = [sock.recv(4096).decode() for _ in range(3)]
    assert received == [
        f"READY=1\nSTATUS=siap\nMAINPID={os.getpid()}",
        "STATUS=antrean 3",
        "STOPPING=1\nSTATUS=berhenti",
    ]


def test_without_systemd_nothing_is_sent_and_a_lost_listener_is_logged_once(
    tmp_path: Path,
) -> None:
    assert not SystemdNotifier(environ={}).enabled
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": str(tmp_path / "nobody")})
    with capture_logs() as logs:
        notifier.ready("siap")
        notifier.status("masih")
    notifier.close()
    assert [log["event"] for log in logs] == ["systemd_notify_failed"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_the_daemon_says_ready_and_stopping(
    tmp_path: Path,
    pcscd: PrivatePcscd,
    listener: tuple[socket.socket, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sock, name = listener
    monkeypatch.setenv("NOTIFY_SOCKET", name)  # the daemon inherits it, as from systemd
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # WatchdogSec=0.2: a ping every 0.1 s
    plan = quiet_day()
    messages = _messages(sock)
    async with office_run(tmp_path / "office", plan, speed=None, pcscd=pcscd) as run:
        async with asyncio.timeout(60):
            ready = await anext(messages)
        assert ready["READY"] == "1"
        assert ready["MAINPID"] == str(run.daemon.pid)
        assert ready["STATUS"].startswith("perangkat siap ")
        # Idle, the watched loops still go round, so the pings keep coming.
        async with asyncio.timeout(30):
            pings = [await anext(messages) for _ in range(3)]
        assert pings == [{"WATCHDOG": "1"}] * 3
    # Leaving office_run sent SIGTERM and checked the exit status was 0.
    async with asyncio.timeout(10):
        stopping = await anext(messages)
        while stopping == {"WATCHDOG": "1"}:
            stopping = await anext(messages)
    assert stopping == {"STOPPING": "1", "STATUS": "berhenti"}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_a_hung_broker_neither_delays_ready_nor_stops_the_watchdog(
    tmp_path: Path,
    pcscd: PrivatePcscd,
    listener: tuple[socket.socket, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The uplink starts last and waits on its own: a broker that accepts connections
    and never answers (a hung one) holds up neither READY nor the watchdog's pings
    through a whole connect timeout."""
    sock, name = listener
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # a ping every 0.5 s
    keepalive_s = 5
    plan = quiet_day()
    messages = _messages(sock)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)  # the kernel completes connections; nothing ever reads or answers
        uplink = {
            "host": "127.0.0.1",
            "port": hung.getsockname()[1],
            "keepalive_s": keepalive_s,
            "central_public_key": "keys/station.pub",  # any key: no ack will come
        }
        async with office_run(
            tmp_path / "office", plan, speed=None, pcscd=pcscd, settings={"uplink": uplink}
        ) as run:
            async with asyncio.timeout(60):
                ready = await anext(messages)
            assert ready["READY"] == "1"
            assert ", uplink putus, " in ready["STATUS"]
            # Pings all through the first connect attempt, until it has timed out.
            async with httpx.AsyncClient(base_url=run.api_url) as http, asyncio.timeout(60):
                pings = 0
                while True:
                    message = await anext(messages)
                    if set(message) == {"STATUS"}:
                        continue  # the periodic one-line status
                    assert message == {"WATCHDOG": "1"}
                    pings += 1
                    uplink_status = (await http.get("/api/v1/status")).json()["uplink"]
                    if uplink_status["reconnects"] >= 1:
                        break
            assert pings >= 2 * keepalive_s, pings  # the attempt lasted its timeout, pinging
            assert uplink_status["connected"] is False
            assert uplink_status["last_error"]
            assert await anext(messages) == {"WATCHDOG": "1"}
