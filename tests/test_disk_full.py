"""A full disk, for real: the daemon runs with its state on a 24 MB tmpfs.

`unshare` gives `appliance run` a user and mount namespace of its own (no privilege
needed) in which a small tmpfs is mounted over the state directory, seeded with the
station's keys and staff file. The test fills that filesystem through the daemon's own
view of it (/proc/PID/root): first down to the reserve, where new work is refused with a
clear message and the work in progress goes on; then to the last byte, where the
register refuses a change cleanly. Once space is freed the station carries on, and the
register verifies, from inside the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from appliance.diskspace import MIB
from sim.day_run import STAFF, OfficeRun, office_run
from sim.pcscd import PrivatePcscd
from tests.office_rig import form
from tests.support import quiet_day

TMPFS_MB = 24
RESERVE_MB = 6


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


def _on_a_small_filesystem(state: Path) -> tuple[str, ...]:
    """`appliance`, run with `state` on a private tmpfs seeded with what is there now."""
    seed = state.with_name("state.seed")
    script = (
        "set -e; "
        f"cp -a {shlex.quote(str(state))} {shlex.quote(str(seed))}; "
        f"mount -t tmpfs -o size={TMPFS_MB}m,mode=0700 tmpfs {shlex.quote(str(state))}; "
        f"cp -a {shlex.quote(str(seed))}/. {shlex.quote(str(state))}/; "
        'exec "$@"'
    )
    return (
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        script,
        "sh",
        sys.executable,
        "-m",
        "appliance",
    )


class Desk:
    """The counter officer and the section head at the running daemon's API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.tokens: dict[str, str] = {}

    async def login(self, person: str) -> None:
        response = await self.http.post(
            "/api/v1/session", json={"person": person, "secret": STAFF.secret}
        )
        assert response.status_code == 201, response.text
        self.tokens[person] = response.json()["token"]

    async def call(
        self, person: str, method: str, path: str, *, english: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[person]}"}
        if english:
            headers["Accept-Language"] = "en"
        return await self.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def ok(self, person: str, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(person, method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


class Ballast:
    """Files that eat the daemon's tmpfs, written through its view of the filesystem."""

    def __init__(self, run: OfficeRun) -> None:
        assert run.daemon.pid is not None
        self.root = Path(f"/proc/{run.daemon.pid}/root") / run.config.state_dir.relative_to("/")
        self.files: list[Path] = []

    def free(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def leave(self, free_bytes: int) -> None:
        """Fill until about `free_bytes` are left."""
        self._write(max(0, self.free() - free_bytes))

    def fill(self) -> None:
        """Fill to the last byte the filesystem gives."""
        with contextlib.suppress(OSError):
            while self.free() > 0:
                self._write(self.free())

    def remove(self) -> None:
        for path in self.files:
            path.unlink()
        self.files.clear()

    def _write(self, size: int) -> None:
        path = self.root / f"ballast-{len(self.files)}"
        self.files.append(path)
        chunk = b"\0" * MIB
        with path.open("wb") as out:
            while size > 0:
                size -= out.write(chunk[: min(size, len(chunk))])
            out.flush()
            os.fsync(out.fileno())


async def _verify_register(run: OfficeRun, config: Path) -> tuple[int, str]:
    """`appliance register verify`, run where the daemon sees its register."""
    assert run.daemon.pid is not None
    verify = await asyncio.create_subprocess_exec(
        "nsenter",
        f"--target={run.daemon.pid}",
        "--user",
        "--mount",
        "--preserve-credentials",
        sys.executable,
        "-m",
        "appliance",
        "register",
        "verify",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await verify.communicate()
    assert verify.returncode is not None
    return verify.returncode, output.decode()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(180)
async def test_a_full_disk_refuses_new_work_first_and_never_corrupts_the_register(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = quiet_day()
    directory = tmp_path / "office"
    async with (
        office_run(
            directory,
            plan,
            speed=None,
            pcscd=pcscd,
            settings={"paths": {"reserve_mb": RESERVE_MB}},
            program=_on_a_small_filesystem(directory / "state"),
        ) as run,
        httpx.AsyncClient(base_url=run.api_url, timeout=30) as http,
    ):
        desk = Desk(http)
        counter, head = STAFF.counter, STAFF.section_head
        await desk.login(counter)
        await desk.login(head)
        ballast = Ballast(run)
        assert ballast.free() < TMPFS_MB * MIB  # the daemon's state is on the small tmpfs

        # Two applicants take tickets; the first hands in the file.
        first = await desk.ok(counter, "POST", "/queue/tickets", json={"service": "baru"})
        second = await desk.ok(counter, "POST", "/queue/tickets", json={"service": "baru"})
        await desk.ok(counter, "POST", "/queue/call-next", json={"counter": "loket-1"})
        app = (await desk.ok(counter, "POST", "/applications", json=form(first["ticket"])))["id"]
        await desk.ok(counter, "POST", "/queue/call-next", json={"counter": "loket-1"})

        # Down to the reserve: no new ticket, no new application; the open one goes on.
        ballast.leave(RESERVE_MB * MIB // 2)
        refused = await desk.call(counter, "POST", "/queue/tickets", json={"service": "baru"})
        assert refused.status_code == 503
        assert refused.json()["code"] == "disk_nearly_full"
        assert "hampir penuh" in refused.json()["message"]
        refused = await desk.call(
            counter, "POST", "/applications", json=form(second["ticket"], serial=2), english=True
        )
        assert (refused.status_code, refused.json()["code"]) == (503, "disk_nearly_full")
        assert "nearly full" in refused.json()["message"]
        status = (await http.get("/api/v1/status")).json()
        assert status["accepting_new_work"] is False
        assert status["disk"]["refusing"] is True
        assert status["disk"]["free_bytes"] < RESERVE_MB * MIB
        await desk.ok(counter, "POST", f"/applications/{app}/steps/check/start")

        # To the last byte: the register refuses the change whole, and says why.
        before = await desk.ok(counter, "GET", f"/applications/{app}")
        ballast.fill()
        documents = form(first["ticket"])["documents"]
        full = await desk.call(
            counter, "POST", f"/applications/{app}/check", json={"documents": documents}
        )
        assert full.status_code == 503, full.text
        assert full.json()["code"] == "register_full"
        assert "tidak ada yang diubah" in full.json()["message"]
        assert (await desk.ok(counter, "GET", f"/applications/{app}")) == before

        # Space again: the same action goes through, and new work is taken again.
        ballast.remove()
        after = await desk.ok(
            counter, "POST", f"/applications/{app}/check", json={"documents": documents}
        )
        assert after["step"] == "validate"
        await desk.ok(counter, "POST", "/queue/tickets", json={"service": "baru"})
        await desk.ok(head, "POST", f"/applications/{app}/steps/validate/start")
        assert (await http.get("/api/v1/status")).json()["accepting_new_work"] is True

        status_code, output = await _verify_register(
            run, run.config.state_dir.parent / "station.toml"
        )
        assert status_code == 0, output
