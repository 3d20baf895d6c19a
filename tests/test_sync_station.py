"""The whole station with its uplink on: the central office learns its state (birth and
death), its devices, its telemetry and its register, without anyone at the kecamatan
doing anything; and the central office's command line shows the fleet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from appliance.central import load_central_config
from appliance.cli import run as cli
from appliance.config import load_config
from appliance.sync import StationOverview
from sim.pcscd import PrivatePcscd
from tests.office_rig import office
from tests.support import REPO
from tests.sync_rig import CENTRAL_USER, Fleet, append_events, opened_store, running, stop

pytestmark = pytest.mark.timeout(120)

STATION = "lumajang-test"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.mark.asyncio(loop_scope="module")
async def test_the_centre_sees_state_devices_telemetry_and_register(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    fleet = Fleet(tmp_path / "fleet", (STATION,))
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:

        def seen() -> StationOverview | None:
            return next(iter(store.overview()), None)

        async with contextlib.AsyncExitStack() as stack:
            rig = await stack.enter_async_context(
                office(
                    tmp_path / "office",
                    pcscd,
                    extra_config=fleet.uplink_toml(
                        STATION,
                        broker.port,
                        ack_timeout_s=1.0,
                        telemetry_interval_s=0.5,
                        reconnect_min_s=0.05,
                        reconnect_max_s=0.5,
                    ),
                )
            )
            uplink = rig.station.uplink
            assert uplink is not None
            # The centre registers the key `appliance keys init` made for this station,
            # before it hears from it: the retained birth and device statuses wait for it.
            shutil.copy(
                rig.config.station_key_path.with_suffix(".pub"),
                fleet.collector_dir / "stations" / f"{STATION}.pem",
            )
            collector = fleet.collector(broker, store)
            collecting = asyncio.create_task(collector.run(), name="collector")
            try:
                head = rig.station.register.head()[0]
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)
                    await collector.wait_until(
                        lambda: (
                            (view := seen()) is not None
                            and view.online is True
                            and view.telemetry is not None
                            and len(view.devices) == len(rig.station.supervisor.devices)
                        )
                    )
                view = seen()
                assert view is not None
                assert (view.head, view.flags) == (head, 0)
                telemetry = view.telemetry
                assert telemetry is not None
                assert telemetry["station"] == STATION
                assert telemetry["uplink"]["connected"] is True
                assert set(telemetry) >= {
                    "queue",
                    "applications",
                    "steps",
                    "blanks",
                    "devices",
                    "disk",
                    "clock_synced",
                }
                assert telemetry["disk"]["free_bytes"] > 0
                assert telemetry["disk"]["refusing"] is False
                assert {name: d["state"] for name, d in view.devices.items()} == dict.fromkeys(
                    rig.station.supervisor.devices, "READY"
                )
                birth = view.bd_seq
                assert [e.seq for e in store.events(STATION)] == list(range(1, head + 1))
                # The station stops: it says so itself (a clean stop sends no will).
                await stack.aclose()
                async with asyncio.timeout(30):
                    await collector.wait_until(
                        lambda: (v := seen()) is not None and v.online is False
                    )
                view = seen()
                assert view is not None
                assert view.bd_seq == birth
            finally:
                await stop(collecting)

    # The operations room's view, from the command line.
    config = tmp_path / "central.toml"
    config.write_text(
        f'[central]\nid = "pusat"\nstate_dir = "{fleet.collector_dir}"\n'
        f'[broker]\nhost = "127.0.0.1"\n',
        encoding="utf-8",
    )
    out = tmp_path / "overview.txt"
    with out.open("w", encoding="utf-8") as stream:
        assert (
            cli(["--lang", "id", "central", "--config", str(config), "--overview"], stdout=stream)
            == 0
        )
    table = out.read_text(encoding="utf-8").splitlines()
    assert table[0].split()[:2] == ["Stasiun", "Daring"]
    assert table[1].split()[:2] == [STATION, "tidak"]


def test_central_key_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "central.toml"
    config.write_text('[central]\nid = "pusat"\nstate_dir = "c"\n[broker]\nhost = "b"\n')
    assert cli(["--lang", "en", "central", "--config", str(config), "--init-key"]) == 0
    key = tmp_path / "c" / "keys" / "central.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.with_suffix(".pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY")
    assert cli(["--lang", "en", "central", "--config", str(config), "--init-key"]) == 1
    config.write_text('[central]\nid = "Pusat!"\n[broker]\nhost = "b"\nport = 0\n')
    assert cli(["--lang", "en", "central", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: central.id:" in err
    assert f"{config}: broker.port:" in err


def test_the_example_central_config_is_valid() -> None:
    config = load_central_config(REPO / "examples" / "central.toml")
    assert config.central.id == "pusat-1"
    assert config.store_url == "sqlite:/var/lib/ktpel-central/collector.sqlite3"
    # TLS by default in the deployed configuration (issue 16, item 12), at both ends.
    assert config.broker.tls
    assert config.broker.effective_port == 8883
    station = load_config(REPO / "examples" / "station.toml")
    assert station.uplink.tls
    assert station.uplink.effective_port == 8883


@pytest.mark.asyncio(loop_scope="module")
async def test_the_collector_runs_as_a_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "fleet", ("s1",))
    register = fleet.register("s1")
    head = append_events(register, 200)
    with fleet.broker() as broker:
        config = tmp_path / "central.toml"
        config.write_text(
            f'[central]\nid = "pusat"\nstate_dir = "{fleet.collector_dir}"\n'
            f'[broker]\nhost = "127.0.0.1"\nport = {broker.port}\nusername = "{CENTRAL_USER}"\n'
            'password_file = "keys/mqtt.password"\n[logging]\nformat = "json"\n',
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "appliance", "central", "--config", str(config)]
        central = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
        try:
            assert central.stderr is not None
            async with asyncio.timeout(30):
                async for line in central.stderr:
                    if json.loads(line)["event"] == "collector_connected":
                        break
            uplink = fleet.uplink(register, broker)
            async with running(uplink.run(), "uplink"):
                async with asyncio.timeout(30):
                    await uplink.wait_acked(head)
            central.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await central.wait() == 0
        finally:
            if central.returncode is None:
                central.kill()
                await central.wait()
    with opened_store(fleet.store_url()) as store:
        assert list(store.events("s1")) == list(register.events())
